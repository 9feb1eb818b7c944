//! Projections over the in-memory store: catch-up, live following,
//! read-your-writes, failing handlers and rebuilds.

use std::collections::BTreeMap;
use std::time::Duration;

use es_core::projection::{Progress, RetryPolicy, RunnerOptions};
use es_core::{
    BoxError, EncodedEvent, EventStore, ExpectedVersion, InMemoryEventStore, Metadata, Position, Projection,
    ProjectionError, ProjectionRunner, RecordedEvent, Repository,
};
use es_examples::account::{Account, AccountEvent};
use serde_json::json;

/// Balances per account, failing on the events listed in `fail_on`
/// (stream, version) as many times as given.
#[derive(Default)]
struct Balances {
    balances: BTreeMap<String, i64>,
    seen: Vec<Position>,
    fail_on: BTreeMap<(String, u64), u32>,
}

impl Projection for Balances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "balances"
    }

    async fn handle(&mut self, event: &AccountEvent, envelope: &RecordedEvent) -> Result<(), BoxError> {
        if let Some(failures) = self.fail_on.get_mut(&(envelope.stream_id.clone(), envelope.version)) {
            if *failures > 0 {
                *failures -= 1;
                return Err("read model unavailable".into());
            }
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
    let mut runner = ProjectionRunner::new(repository.store().clone(), Balances::default())
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
async fn events_of_other_types_are_skipped_but_passed() {
    let repository = bank(1, 1).await;
    let other = EncodedEvent { name: "ParcelShipped".into(), version: 1, payload: json!({}) };
    repository
        .store()
        .append("parcel", "p-1", ExpectedVersion::NoStream, vec![other], &Metadata::default())
        .await
        .unwrap();
    let mut runner = ProjectionRunner::new(repository.store().clone(), Balances::default());
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!(runner.projection().seen.len(), 2);
    let head = repository.store().read_all(Position::START, 10).await.unwrap().last().unwrap().position;
    assert_eq!(runner.checkpoint(), head, "the checkpoint moves past skipped events");
}

#[tokio::test]
async fn a_query_waits_for_the_position_a_command_returned() {
    let repository = bank(1, 0).await;
    let mut runner = ProjectionRunner::new(repository.store().clone(), Balances::default())
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
    let mut runner = ProjectionRunner::new(repository.store().clone(), Balances::default());
    runner.catch_up().await.unwrap();
    let reached = runner.checkpoint();
    let beyond = Position::new(reached.commit + 1, reached.sequence + 1);
    let err = runner.waiter().wait_for(beyond, Duration::from_millis(20)).await.unwrap_err();
    assert_eq!((err.projection.as_str(), err.wanted, err.reached), ("balances", beyond, reached));
}

#[tokio::test]
async fn a_failing_handler_is_retried_then_succeeds() {
    let repository = bank(1, 3).await;
    let mut balances = Balances::default();
    balances.fail_on.insert(("acc-0".into(), 2), 2);
    let mut runner = ProjectionRunner::new(repository.store().clone(), balances)
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
    let mut runner = ProjectionRunner::new(repository.store().clone(), balances)
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
    let mut runner = ProjectionRunner::new(repository.store().clone(), Balances::default())
        .with_options(RunnerOptions::default().page_size(7));
    runner.catch_up().await.unwrap();
    let before = runner.projection().balances.clone();
    let mut reports = Vec::new();
    let read = runner.rebuild(|p| reports.push(p)).await.unwrap();
    assert_eq!(read, 40);
    assert_eq!(runner.projection().balances, before);
    assert_eq!(runner.projection().seen.len(), 40, "each event handled once after the reset");
    assert_eq!(reports.first(), Some(&Progress { done: 7, total: 40 }));
    assert_eq!(reports.last(), Some(&Progress { done: 40, total: 40 }));
    assert!(reports.windows(2).all(|w| w[0].done < w[1].done));
}
