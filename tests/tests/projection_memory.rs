//! Projections over the in-memory store: catch-up, live following,
//! read-your-writes, failing handlers and rebuilds.

use std::collections::BTreeMap;
use std::time::Duration;

use es_core::projection::{PoisonPolicy, Progress, RetryPolicy, RunnerOptions, WaitError};
use es_core::{
    AggregateTypes, BoxError, EncodedEvent, Event, EventStore, ExpectedVersion, InMemoryEventStore,
    InMemoryProjectionRunner, Metadata, Position, Projection, ProjectionError, RecordedEvent, Repository,
};
use es_examples::account::{Account, AccountEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Balances per account, failing on the events listed in `fail_on`
/// (stream, version) as many times as given.
#[derive(Default)]
struct Balances {
    balances: BTreeMap<String, i64>,
    seen: Vec<Position>,
    fail_on: BTreeMap<(String, u64), u32>,
    /// Panics on the event at (stream, version).
    panic_on: Option<(String, u64)>,
}

/// An event the program knows (it is registered) that `Balances` does not
/// read.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct AuditNoted {
    note: String,
}

impl Projection for Balances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "balances"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    async fn handle(&mut self, event: &AccountEvent, envelope: &RecordedEvent) -> Result<(), BoxError> {
        if let Some(failures) = self.fail_on.get_mut(&(envelope.stream_id.clone(), envelope.version)) {
            if *failures > 0 {
                *failures -= 1;
                return Err("read model unavailable".into());
            }
        }
        if self.panic_on == Some((envelope.stream_id.clone(), envelope.version)) {
            panic!("balance overflow");
        }
        let balance = self.balances.entry(envelope.stream_id.clone()).or_default();
        match event {
            AccountEvent::Deposited(d) => *balance += d.amount,
            AccountEvent::Withdrew(w) => *balance -= w.amount,
            AccountEvent::Opened(_) | AccountEvent::Closed(_) => {}
        }
        self.seen.push(envelope.position);
        Ok(())
    }

    async fn reset(&mut self) -> Result<(), BoxError> {
        self.balances.clear();
        self.seen.clear();
        Ok(())
    }
}

const NO_WAIT: RetryPolicy = RetryPolicy { attempts: 3, initial_backoff: Duration::ZERO, max_backoff: Duration::ZERO };

async fn bank(accounts: u32, deposits: i64) -> Repository<Account, InMemoryEventStore> {
    let repository = Repository::<Account, _>::new(InMemoryEventStore::new());
    for n in 0..accounts {
        let id = format!("acc-{n}");
        repository.execute(&id, |a| a.open("owner")).await.unwrap();
        for amount in 1..=deposits {
            repository.execute(&id, |a| a.deposit(amount)).await.unwrap();
        }
    }
    repository
}

#[tokio::test]
async fn catch_up_handles_every_event_once_in_global_order() {
    let repository = bank(3, 4).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default())
        .with_options(RunnerOptions::default().page_size(4));
    assert_eq!(runner.catch_up().await.unwrap(), 15);
    let all = repository.store().read_all(Position::START, 100).await.unwrap();
    let positions: Vec<Position> = all.iter().map(|e| e.position).collect();
    assert_eq!(runner.projection().seen, positions);
    assert_eq!(runner.checkpoint(), *positions.last().unwrap());
    assert!(runner.projection().balances.values().all(|b| *b == 10));
    assert_eq!(runner.catch_up().await.unwrap(), 0, "nothing new");
}

#[tokio::test]
async fn events_of_other_categories_are_skipped_but_passed() {
    let repository = bank(1, 1).await;
    let other = EncodedEvent { name: "ParcelShipped".into(), schema_version: 1, payload: json!({}).into() };
    repository
        .store()
        .append("parcel", "p-1", ExpectedVersion::NoStream, vec![other], &Metadata::default())
        .await
        .unwrap();
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default());
    assert_eq!(runner.catch_up().await.unwrap(), 2, "the events of its category");
    assert_eq!(runner.projection().seen.len(), 2);
    let head = repository.store().read_all(Position::START, 10).await.unwrap().last().unwrap().position;
    assert_eq!(runner.checkpoint(), head, "the checkpoint moves past skipped events");
}

#[tokio::test]
async fn a_query_waits_for_the_position_a_command_returned() {
    let repository = bank(1, 0).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default())
        .with_options(RunnerOptions::default().poll_interval(Duration::from_millis(1)));
    let waiter = runner.waiter();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { stopped.await.unwrap_or(()) }).await.map(|()| runner) });
    let committed = repository.execute("acc-0", |a| a.deposit(42)).await.unwrap();
    let position = committed.position.unwrap();
    waiter.wait_for(position, Duration::from_secs(10)).await.unwrap();
    assert!(waiter.position() >= position);
    stop.send(()).unwrap();
    let runner = running.await.unwrap().unwrap();
    assert_eq!(runner.projection().balances["acc-0"], 42, "the read model reflects the command");
}

#[tokio::test]
async fn waiting_for_a_position_never_reached_times_out_with_a_typed_error() {
    let repository = bank(1, 1).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default());
    runner.catch_up().await.unwrap();
    let reached = runner.checkpoint();
    let beyond = Position::new(reached.commit + 1, reached.sequence + 1);
    let err = runner.waiter().wait_for(beyond, Duration::from_millis(20)).await.unwrap_err();
    let WaitError::Timeout { projection, wanted, reached: at, .. } = err else { panic!("{err:?}") };
    assert_eq!((projection.as_str(), wanted, at), ("balances", beyond, reached));
}

#[tokio::test]
async fn a_failing_handler_is_retried_then_succeeds() {
    let repository = bank(1, 3).await;
    let mut balances = Balances::default();
    balances.fail_on.insert(("acc-0".into(), 2), 2);
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), balances)
        .with_options(RunnerOptions::default().retry(NO_WAIT));
    runner.catch_up().await.unwrap();
    assert_eq!(runner.projection().balances["acc-0"], 6);
    assert_eq!(runner.projection().seen.len(), 4);
}

#[tokio::test]
async fn a_handler_failing_for_good_stops_at_that_event() {
    let repository = bank(1, 5).await;
    let mut balances = Balances::default();
    balances.fail_on.insert(("acc-0".into(), 4), u32::MAX);
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), balances)
        .with_options(RunnerOptions::default().retry(NO_WAIT));
    let err = runner.catch_up().await.unwrap_err();
    let stored = repository.store().read_all(Position::START, 100).await.unwrap();
    match &err {
        ProjectionError::Handler { projection, stream_id, version, position, attempts, .. } => {
            assert_eq!((projection.as_str(), stream_id.as_str(), *version, *attempts), ("balances", "acc-0", 4, 3));
            assert_eq!(*position, stored[3].position);
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert!(err.to_string().contains("event 4 of stream `acc-0`"), "{err}");
    assert_eq!(runner.projection().balances["acc-0"], 1 + 2, "everything before the event, nothing after");
    assert_eq!(runner.checkpoint(), stored[2].position, "the checkpoint stays before the failing event");

    // Once the cause is fixed, running again resumes at the failing event.
    runner.projection_mut().fail_on.clear();
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!(runner.projection().balances["acc-0"], 15);
    assert_eq!(runner.projection().seen.len(), 6, "no event handled twice");
}

#[tokio::test]
async fn rebuild_resets_and_replays_with_progress() {
    let repository = bank(4, 9).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default())
        .with_options(RunnerOptions::default().page_size(7));
    runner.catch_up().await.unwrap();
    let before = runner.projection().balances.clone();
    let mut reports = Vec::new();
    let read = runner.rebuild(|p| reports.push(p)).await.unwrap();
    assert_eq!(read, 40);
    assert_eq!(runner.projection().balances, before);
    assert_eq!(runner.projection().seen.len(), 40, "each event handled once after the reset");
    let counts = |p: &Progress| (p.done, p.total);
    assert_eq!(reports.first().map(counts), Some((7, 40)));
    assert_eq!(reports.last().map(counts), Some((40, 40)));
    assert_eq!(reports.last().and_then(|p| p.eta), Some(Duration::ZERO), "nothing left at the end");
    assert!(reports.windows(2).all(|w| w[0].done < w[1].done));
}

async fn append(repository: &Repository<Account, InMemoryEventStore>, stream: &str, event: EncodedEvent) -> Position {
    let appended =
        repository.store().append("account", stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    appended.unwrap().position().unwrap()
}

#[tokio::test]
async fn an_event_no_code_knows_stops_the_projection_naming_it_while_known_ones_are_skipped() {
    let repository = bank(1, 1).await;
    let known = AuditNoted { note: "checked".into() }.encode().unwrap();
    let skipped = append(&repository, "acc-0", known).await;
    let typo = EncodedEvent { name: "Depositted".into(), schema_version: 1, payload: json!({"amount": 5}).into() };
    let unknown = append(&repository, "acc-0", typo).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), Balances::default());
    let waiter = runner.waiter();
    let err = runner.catch_up().await.unwrap_err();
    match &err {
        ProjectionError::Decode { stream_id, version, position, source, .. } => {
            assert_eq!((stream_id.as_str(), *version, *position), ("acc-0", 4, unknown));
            assert!(source.to_string().contains("Depositted"), "{source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(runner.checkpoint(), skipped, "the known event was skipped, the unknown one was not");
    assert_eq!(runner.projection().seen.len(), 2);
    let waited = waiter.wait_for(unknown, Duration::from_secs(10)).await.unwrap_err();
    assert!(matches!(&waited, WaitError::Stopped { error, .. } if error.contains("Depositted")), "{waited:?}");
}

#[tokio::test]
async fn a_poison_event_is_parked_then_retried_once_fixed_or_discarded() {
    let repository = bank(2, 3).await;
    let mut balances = Balances::default();
    balances.fail_on.insert(("acc-0".into(), 2), u32::MAX);
    let typo = EncodedEvent { name: "Depositted".into(), schema_version: 1, payload: json!({"amount": 5}).into() };
    append(&repository, "acc-1", typo).await;
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), balances)
        .with_options(RunnerOptions::default().retry(NO_WAIT).on_poison(PoisonPolicy::Park));
    assert_eq!(runner.catch_up().await.unwrap(), 9);
    assert_eq!(runner.projection().balances["acc-0"], 2 + 3, "everything but the parked event");
    assert_eq!(runner.projection().balances["acc-1"], 6);
    let parked = runner.parked();
    let summary: Vec<_> =
        parked.iter().map(|p| (p.stream_id.as_str(), p.version, p.event_name.as_str(), p.attempts)).collect();
    assert_eq!(summary, [("acc-0", 2, "Deposited", 3), ("acc-1", 5, "Depositted", 0)]);
    assert!(parked[0].error.contains("read model unavailable"), "{}", parked[0].error);

    // Still failing: it stays parked, with one more attempt.
    assert!(matches!(runner.retry_parked(parked[0].id).await, Err(ProjectionError::Handler { .. })));
    assert_eq!(runner.parked()[0].attempts, 4);
    runner.projection_mut().fail_on.clear();
    runner.retry_parked(parked[0].id).await.unwrap();
    assert_eq!(runner.projection().balances["acc-0"], 6, "handled exactly once after the fix");
    assert!(matches!(runner.retry_parked(parked[0].id).await, Err(ProjectionError::NotParked { .. })));

    runner.discard_parked(parked[1].id, "a typo of release 1.2; the deposit was re-entered").unwrap();
    let left = runner.parked();
    assert_eq!(left.len(), 1, "a discarded event stays on record");
    assert_eq!(
        left[0].discarded.as_ref().map(|(_, why)| why.as_str()),
        Some("a typo of release 1.2; the deposit was re-entered")
    );
}

#[tokio::test]
async fn a_panicking_handler_is_a_failure_naming_the_event_and_wakes_waiters() {
    let repository = bank(1, 3).await;
    let stored = repository.store().read_all(Position::START, 100).await.unwrap();
    let balances = Balances { panic_on: Some(("acc-0".into(), 3)), ..Balances::default() };
    let mut runner = InMemoryProjectionRunner::new(repository.store().clone(), balances)
        .with_options(RunnerOptions::default().retry(NO_WAIT));
    let waiter = runner.waiter();
    let wanted = stored[3].position;
    let wait = tokio::spawn(async move { waiter.wait_for(wanted, Duration::from_secs(60)).await });
    let err = runner.run(std::future::pending()).await.unwrap_err();
    match &err {
        ProjectionError::Handler { stream_id, version, attempts, source, .. } => {
            assert_eq!((stream_id.as_str(), *version, *attempts), ("acc-0", 3, 3));
            assert!(source.to_string().contains("panicked: balance overflow"), "{source}");
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    let waited = wait.await.unwrap().unwrap_err();
    assert!(matches!(&waited, WaitError::Stopped { error, .. } if error.contains("balance overflow")), "{waited:?}");
    assert_eq!(runner.checkpoint(), stored[1].position);
}
