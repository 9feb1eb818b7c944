//! Projections on PostgreSQL never skip silently: what they read by
//! aggregate type, events no code knows, parked poison events, panicking
//! handlers and page-at-once handlers.

mod common;

use std::time::Duration;

use common::ledger::*;
use es_core::projection::{ParkLimits, PoisonPolicy, RetryPolicy, RunnerOptions, WaitError};
use es_core::{AggregateTypes, EncodedEvent, ErrorReport, Event, EventStore, Position, ProjectionError};
use es_postgres::{PgEventStore, PgProjectionRunner};
use serde_json::json;

const QUICK: RetryPolicy =
    RetryPolicy { attempts: 3, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) };

fn typo(amount: i64) -> EncodedEvent {
    EncodedEvent { name: "Depositted".into(), schema_version: 1, payload: json!({ "amount": amount }).into() }
}

fn accounts_only(mut ledger: Ledger) -> Ledger {
    ledger.categories = AggregateTypes::only(["account"]);
    ledger
}

/// Catches up until the checkpoint reaches `last` (other tests'
/// transactions may hold events back for a moment), or fails.
async fn catch_up_through(runner: &mut PgProjectionRunner<Ledger>, last: Position) -> Result<(), ProjectionError> {
    within("catch-up", async {
        while runner.checkpoint() < last {
            runner.catch_up().await?;
        }
        Ok(())
    })
    .await
}

/// Catches up until it fails, and returns the error.
async fn catch_up_until_failure(runner: &mut PgProjectionRunner<Ledger>) -> ProjectionError {
    within("the failure", async {
        loop {
            if let Err(e) = runner.catch_up().await {
                return e;
            }
        }
    })
    .await
}

fn handled_positions(log: &[(Position, String)]) -> Vec<Position> {
    log.iter().map(|(p, _)| *p).collect()
}

#[tokio::test]
async fn projection_reads_only_its_categories_and_skips_known_events_it_does_not_read() {
    let store = ledger_store().await;
    let first = deposit(&store, "a", 1).await;
    let unknown_elsewhere = EncodedEvent { name: "ParcelShipped".into(), schema_version: 1, payload: json!({}).into() };
    append_to(&store, "parcel", "p-1", unknown_elsewhere.clone()).await;
    append_to(&store, "account", "a", Noted { note: "audited".into() }.encode().unwrap()).await;
    let second = deposit(&store, "a", 2).await;
    let trailing = append_to(&store, "parcel", "p-2", unknown_elsewhere).await;

    let page = within("the filtered read", async {
        loop {
            let page = store.read_types(Position::START, 100, &AggregateTypes::only(["account"])).await.unwrap();
            if page.through >= trailing {
                return page;
            }
        }
    })
    .await;
    assert!(page.events.iter().all(|e| e.aggregate_type == "account"), "other categories stay in the database");
    assert_eq!(page.events.len(), 3);

    let mut runner = PgProjectionRunner::new(store.clone(), accounts_only(Ledger::new(&store, "one")));
    catch_up_through(&mut runner, trailing).await.unwrap();
    assert_eq!(handled_positions(&handled(&store).await), [first, second]);
    assert_eq!(stored_checkpoint(&store).await, trailing, "the checkpoint moves past trailing events of other types");
    store.wait_for_projection("ledger", trailing, Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn projection_stops_at_an_event_no_code_knows_and_every_process_hears_why() {
    let store = ledger_store().await;
    let before = deposit(&store, "a", 1).await;
    let unknown = append_to(&store, "account", "a", typo(5)).await;
    deposit(&store, "a", 2).await;
    let other_process = common::store_in(store.schema()).await;
    let waiter = other_process.checkpoint_waiter("ledger");

    let mut runner = PgProjectionRunner::new(store.clone(), accounts_only(Ledger::new(&store, "one")));
    let err = catch_up_until_failure(&mut runner).await;
    match &err {
        ProjectionError::Decode { stream_id, version, position, source, .. } => {
            assert_eq!((stream_id.as_str(), *version, *position), ("a", 2, unknown));
            assert!(source.to_string().contains("Depositted"), "{source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(balances(&store).await, [("a".to_owned(), 1)], "everything before it, nothing after");
    assert_eq!(stored_checkpoint(&store).await, before);
    let waited = within("the stop to reach the other process", waiter.wait_for(unknown, Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(matches!(&waited, WaitError::Stopped { error, .. } if error.contains("Depositted")), "{waited:?}");
}

#[tokio::test]
async fn projection_parks_poison_events_and_goes_on() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for amount in 1..=10 {
        last = deposit(&store, "a", amount).await;
        if amount == 3 {
            append_to(&store, "account", "a", typo(100)).await;
        }
    }
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(6);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger)
        .with_options(RunnerOptions::default().retry(QUICK).on_poison(PoisonPolicy::Park).page_size(4));
    catch_up_through(&mut runner, last).await.unwrap();
    assert_eq!(balances(&store).await, [("a".to_owned(), 55 - 6)], "everything but the poison");

    let parked = common::store_in(store.schema()).await.parked_events("ledger").await.unwrap();
    let summary: Vec<_> =
        parked.iter().map(|p| (p.stream_id.as_str(), p.version, p.event_name.as_str(), p.attempts)).collect();
    assert_eq!(summary, [("a", 4, "Depositted", 0), ("a", 7, "Deposited", 3)]);
    assert!(parked[1].error.contains("cannot book 6"), "{}", parked[1].error);
    assert!(parked[0].error.contains("unknown event `Depositted`"), "{}", parked[0].error);

    // The stream's earlier parked event goes first, and fails to decode.
    let err = runner.retry_parked(parked[1].id).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Decode { version: 4, .. }), "{err:?}");
    runner.discard_parked(parked[0].id, "a typo of release 1.2, re-entered by hand").await.unwrap();

    // Still failing: it stays parked, with one more attempt on record.
    let err = runner.retry_parked(parked[1].id).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Handler { version: 7, .. }), "{err:?}");
    assert_eq!(runner.parked().await.unwrap()[1].attempts, 4);

    runner.projection_mut().poison = None;
    runner.retry_parked(parked[1].id).await.unwrap();
    assert_eq!(balances(&store).await, [("a".to_owned(), 55)]);
    let sixes = handled(&store).await.iter().filter(|(p, _)| *p == parked[1].position).count();
    assert_eq!(sixes, 1, "the parked event was handled exactly once");
    assert!(matches!(runner.retry_parked(parked[1].id).await, Err(ProjectionError::NotParked { .. })));

    let left = runner.parked().await.unwrap();
    assert_eq!(left.len(), 1, "a discarded event stays on record");
    let (_, reason) = left[0].discarded.as_ref().expect("marked discarded");
    assert_eq!(reason, "a typo of release 1.2, re-entered by hand");
}

/// Two operators retry the same parked event at once: it is handled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_retries_of_one_parked_event_from_two_runners_apply_it_once() {
    let store = ledger_store().await;
    let poisoned = deposit(&store, "a", 6).await;
    let last = deposit(&store, "a", 7).await;
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(6);
    let options = RunnerOptions::default().retry(RetryPolicy::NEVER).on_poison(PoisonPolicy::Park);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger).with_options(options);
    catch_up_through(&mut runner, last).await.unwrap();
    let id = runner.parked().await.unwrap()[0].id;

    let retry = |store: PgEventStore| async move {
        let mut operator = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "operator"));
        operator.retry_parked(id).await
    };
    let (a, b) = tokio::join!(tokio::spawn(retry(store.clone())), tokio::spawn(retry(store.clone())));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| matches!(o, Err(ProjectionError::NotParked { .. }))), "{outcomes:?}");
    let applied = handled(&store).await.iter().filter(|(p, _)| *p == poisoned).count();
    assert_eq!(applied, 1);
    assert_eq!(balances(&store).await, [("a".to_owned(), 13)]);
    assert!(runner.parked().await.unwrap().is_empty());
}

#[tokio::test]
async fn projection_handler_panic_is_a_failure_naming_the_event() {
    let store = ledger_store().await;
    let mut positions = Vec::new();
    for amount in 1..=5 {
        positions.push(deposit(&store, "a", amount).await);
    }
    let other_process = common::store_in(store.schema()).await;
    let waiter = other_process.checkpoint_waiter("ledger");
    let mut ledger = Ledger::new(&store, "one");
    ledger.panic_on = Some(4);
    let runner = PgProjectionRunner::new(store.clone(), ledger).with_options(live_options().retry(QUICK).page_size(2));
    let running = spawn(runner);
    let (outcome, _) = within("the runner to stop", running.task).await.unwrap();
    match &outcome {
        Err(ProjectionError::Handler { stream_id, version, attempts, source, .. }) => {
            assert_eq!((stream_id.as_str(), *version, *attempts), ("a", 4, 3));
            assert!(source.to_string().contains("panicked: ledger overflow at 4"), "{source}");
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert_eq!(balances(&store).await, [("a".to_owned(), 6)]);
    let waited =
        within("the stop to be heard", waiter.wait_for(positions[4], Duration::from_secs(30))).await.unwrap_err();
    assert!(matches!(&waited, WaitError::Stopped { error, .. } if error.contains("ledger overflow")), "{waited:?}");
}

/// A read model that writes a page with one statement: the page commits at
/// once, and a failing event is found, parked, and the rest committed.
#[tokio::test]
async fn projection_batches_commit_a_page_at_once_and_isolate_a_failing_event() {
    let store = ledger_store().await;
    let mut positions = Vec::new();
    for amount in 1..=20 {
        positions.push(deposit(&store, &format!("acc-{}", amount % 3), amount).await);
    }
    let mut ledger = Ledger::new(&store, "batch");
    ledger.batch = true;
    ledger.poison = Some(5);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger)
        .with_options(RunnerOptions::default().retry(QUICK).on_poison(PoisonPolicy::Park).page_size(50));
    catch_up_through(&mut runner, positions[19]).await.unwrap();
    let expected: Vec<Position> = positions.iter().enumerate().filter(|(i, _)| *i != 4).map(|(_, p)| *p).collect();
    assert_eq!(handled_positions(&handled(&store).await), expected, "each event once, in order, but the poison");
    let parked = runner.parked().await.unwrap();
    assert_eq!(parked.iter().map(|p| (p.position, p.attempts)).collect::<Vec<_>>(), [(positions[4], 3)]);
    let total: i64 = balances(&store).await.iter().map(|(_, b)| b).sum();
    assert_eq!(total, (1..=20).sum::<i64>() - 5);
}

/// A rebuild handles parked events again: once fixed, they are applied and
/// no longer listed.
#[tokio::test]
async fn projection_rebuild_forgets_parked_events_and_handles_them_again() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for amount in 1..=6 {
        last = deposit(&store, "a", amount).await;
    }
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(2);
    let options = RunnerOptions::default().retry(RetryPolicy::NEVER).on_poison(PoisonPolicy::Park);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger).with_options(options);
    catch_up_through(&mut runner, last).await.unwrap();
    assert_eq!(runner.parked().await.unwrap().len(), 1);

    runner.projection_mut().poison = None;
    let rebuilt = within("the rebuild", async {
        loop {
            // Other tests' transactions may hold events back for a moment.
            let rebuilt = runner.rebuild(|_| {}).await.unwrap();
            if runner.checkpoint() >= last {
                return rebuilt;
            }
        }
    })
    .await;
    assert_eq!(rebuilt, 6);
    assert!(runner.parked().await.unwrap().is_empty());
    assert_eq!(balances(&store).await, [("a".to_owned(), 21)]);
}

/// A statement the server refuses in a handler (here `bigint out of
/// range`) is recorded with the server's message and SQLSTATE: in the
/// runner's error, in the stop reason another process's waiter hears, and
/// in a parked event; never as the driver's bare "db error".
#[tokio::test]
async fn a_refused_statement_in_a_handler_is_recorded_with_the_servers_message() {
    const OUT_OF_RANGE: &str = "bigint out of range (SQLSTATE 22003)";
    let store = ledger_store().await;
    deposit(&store, "a", i64::MAX).await;
    let overflow = deposit(&store, "a", 1).await;
    let other_process = common::store_in(store.schema()).await;
    let waiter = other_process.checkpoint_waiter("ledger");
    let options = live_options().retry(QUICK);
    let mut runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one")).with_options(options);
    let stopped = ErrorReport::new(&catch_up_until_failure(&mut runner).await).to_string();
    let waited = within("the stop to be heard", waiter.wait_for(overflow, Duration::from_secs(30))).await.unwrap_err();
    let WaitError::Stopped { error: heard, .. } = &waited else { panic!("expected a stop, got {waited:?}") };
    let mut parking = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"))
        .with_options(options.on_poison(PoisonPolicy::Park));
    catch_up_through(&mut parking, overflow).await.unwrap();
    let parked = parking.parked().await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    for text in [&stopped, heard, &parked[0].error] {
        assert!(text.contains(OUT_OF_RANGE), "{text}");
        assert!(!text.contains("db error"), "the driver's bare message in: {text}");
    }
}

/// Under `ParkStream` a poison event parks its stream: the stream's later
/// events park behind it in order, live ones too, while 100 other streams'
/// events are all applied; retrying the newest parked event applies the
/// stream's events in order, each once, and frees the stream.
#[tokio::test]
async fn a_poison_event_parks_its_stream_in_order_while_other_streams_go_on() {
    let store = ledger_store().await;
    let (mut held, mut last) = (Vec::new(), Position::START);
    for round in 0..5 {
        for other in 0..100 {
            last = deposit(&store, &format!("ok-{other}"), 1).await;
        }
        held.push(deposit(&store, "bad", 1000 + round).await);
    }
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(1000);
    let options = live_options().retry(QUICK).on_poison(PoisonPolicy::ParkStream).page_size(64);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger).with_options(options);
    catch_up_through(&mut runner, last.max(held[4])).await.unwrap();
    let applied = balances(&store).await;
    assert_eq!(applied.len(), 100, "only the other streams: {applied:?}");
    assert!(applied.iter().all(|(stream, balance)| stream.starts_with("ok-") && *balance == 5), "{applied:?}");
    held.push(deposit(&store, "bad", 2000).await);
    catch_up_through(&mut runner, held[5]).await.unwrap();
    let parked = runner.parked().await.unwrap();
    let versions: Vec<(&str, u64)> = parked.iter().map(|p| (p.stream_id.as_str(), p.version)).collect();
    assert_eq!(versions, (1..=6).map(|v| ("bad", v)).collect::<Vec<_>>());
    assert!(parked[0].error.contains("cannot book 1000"), "{}", parked[0].error);
    assert!(parked[1..].iter().all(|p| p.error.contains("parked behind event 1 of stream `bad`")), "{parked:?}");

    runner.projection_mut().poison = None;
    runner.retry_parked(parked[5].id).await.unwrap();
    assert_eq!(runner.parked().await.unwrap(), []);
    let freed = deposit(&store, "bad", 1).await;
    catch_up_through(&mut runner, freed).await.unwrap();
    held.push(freed);
    let log = handled_positions(&handled(&store).await);
    let bad_order: Vec<Position> = log.iter().copied().filter(|p| held.contains(p)).collect();
    assert_eq!(bad_order, held, "the stream's events in its order, each once");
    assert_eq!(log.len(), 500 + held.len(), "every event handled once");
    let bad_balance = balances(&store).await.into_iter().find(|(stream, _)| stream == "bad");
    assert_eq!(bad_balance, Some(("bad".to_owned(), 5010 + 2000 + 1)));
}

/// Past its limit of parked events per stream, `ParkStream` stops the
/// projection with an error naming the limit; nothing past it is parked.
#[tokio::test]
async fn parking_past_the_limit_stops_the_projection() {
    let store = ledger_store().await;
    for amount in [1000, 1, 2, 3] {
        deposit(&store, "bad", amount).await;
    }
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(1000);
    let limits = ParkLimits { per_stream: 3, streams: 10 };
    let options = live_options().retry(QUICK).on_poison(PoisonPolicy::ParkStream).park_limits(limits);
    let mut runner = PgProjectionRunner::new(store.clone(), ledger).with_options(options);
    let error = catch_up_until_failure(&mut runner).await;
    assert!(
        matches!(&error, ProjectionError::ParkLimit { stream_id, version: 4, limit: 3, .. } if stream_id == "bad"),
        "{error:?}"
    );
    assert!(error.to_string().contains("limit of 3 parked events per stream"), "{error}");
    assert_eq!(runner.parked().await.unwrap().len(), 3);
    assert_eq!(balances(&store).await, []);
}
