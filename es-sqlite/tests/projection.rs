//! Projections into SQLite files: exactly once across crashes (from a
//! SQLite store and from a PostgreSQL one), with two runners at once,
//! parking poison events, waits from another connection, and rebuilds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::TempDir;
use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions, WaitError};
use es_core::{BoxError, EventStore, ExpectedVersion, Metadata, Position, ProjectionError, RecordedEvent};
use es_sqlite::{SqliteEventStore, SqliteProjection, SqliteProjectionRunner, SqliteTarget, SqliteTransaction};
use serde::{Deserialize, Serialize};

#[derive(es_core::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "sqlite-tests.Deposited")]
struct Deposited {
    amount: i64,
}

/// Balances per stream and a log of every event handled, in order.
struct Ledger {
    /// Fails on the event with this amount while it is set.
    poison: Arc<AtomicI64>,
}

impl Ledger {
    fn new() -> Self {
        Ledger { poison: Arc::new(AtomicI64::new(0)) }
    }
}

impl SqliteProjection for Ledger {
    type Event = Deposited;

    fn name(&self) -> &str {
        "ledger"
    }

    fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL) STRICT;
             CREATE TABLE IF NOT EXISTS handled (n INTEGER PRIMARY KEY, position INTEGER NOT NULL) STRICT;",
        )?;
        Ok(())
    }

    fn handle(
        &mut self,
        tx: &SqliteTransaction<'_>,
        event: &Deposited,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if event.amount == self.poison.load(Ordering::SeqCst) {
            return Err(format!("cannot book {}", event.amount).into());
        }
        tx.prepare_cached(
            "INSERT INTO balances (id, balance) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET balance = balance + ?2",
        )?
        .execute((&envelope.stream_id, event.amount))?;
        tx.prepare_cached("INSERT INTO handled (position) VALUES (?1)")?
            .execute([envelope.position.sequence as i64])?;
        Ok(())
    }

    fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch("DELETE FROM balances; DELETE FROM handled;")?;
        Ok(())
    }
}

async fn deposit(store: &impl EventStore, stream: &str, amount: i64) -> Position {
    let event = es_core::Event::encode(&Deposited { amount }).unwrap();
    let appended = store.append("account", stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    appended.unwrap().position().unwrap()
}

/// The positions the ledger in `file` handled, in order, and its total.
fn model(file: &std::path::Path) -> (Vec<u64>, i64) {
    let c = rusqlite::Connection::open(file).unwrap();
    let mut statement = c.prepare("SELECT position FROM handled ORDER BY n").unwrap();
    let seen = statement.query_map([], |r| r.get::<_, i64>(0)).unwrap().map(|p| p.unwrap() as u64).collect();
    let total: Option<i64> = c.query_row("SELECT sum(balance) FROM balances", [], |r| r.get(0)).unwrap();
    (seen, total.unwrap_or(0))
}

async fn replay(store: &impl EventStore) -> Vec<u64> {
    let last =
        store.read_all(Position::START, usize::MAX).await.unwrap().last().map_or(Position::START, |e| e.position);
    replay_through(store, last).await
}

/// The positions of every event through `last`, in global order. A
/// PostgreSQL store holds events back while an older transaction of the
/// server is open (other tests'): the read goes on until it reaches `last`.
async fn replay_through(store: &impl EventStore, last: Position) -> Vec<u64> {
    let (mut all, mut after) = (Vec::new(), Position::START);
    while after < last {
        let page = store.read_all(after, 1000).await.unwrap();
        match page.last() {
            Some(newest) => after = newest.position,
            None => tokio::task::yield_now().await,
        }
        all.extend(page.iter().map(|e| e.position.sequence));
    }
    all
}

fn quick() -> RunnerOptions {
    RunnerOptions::default().poll_interval(Duration::from_millis(5)).page_size(7)
}

/// The runner is aborted at random points ten times while four writers
/// append to the same file: afterwards the read model equals a replay,
/// nothing applied twice, nothing missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projection_in_the_stores_file_is_exactly_once_across_crashes() {
    let dir = TempDir::new();
    let file = dir.file("bank.sqlite3");
    let store = SqliteEventStore::open(&file).await.unwrap();
    exactly_once_across_crashes(store.clone(), &file, Some(store)).await;
}

/// The same, with the events in PostgreSQL and the read model in a SQLite
/// file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projection_from_postgres_into_a_sqlite_file_is_exactly_once_across_crashes() {
    let dir = TempDir::new();
    let file = dir.file("reports.sqlite3");
    let store = common::postgres_store().await;
    exactly_once_across_crashes(store.clone(), &file, None).await;
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}

/// Aborts a runner from `store` into `file` ten times under four writers,
/// then checks the read model against a replay; `wake` is the store whose
/// commits wake the runner, when it is a SQLite one.
async fn exactly_once_across_crashes<S: EventStore + Clone + 'static>(
    store: S,
    file: &std::path::Path,
    wake: Option<SqliteEventStore>,
) {
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = Position::START;
                for i in 1..=120 {
                    last = last.max(deposit(&store, &format!("acc-{w}-{}", i % 4), i).await);
                }
                last
            })
        })
        .collect();
    let runner = |target| {
        let runner = SqliteProjectionRunner::new(store.clone(), target, Ledger::new()).with_options(quick());
        match &wake {
            Some(wake) => runner.wake_on(wake),
            None => runner,
        }
    };
    for _ in 0..10 {
        let mut crashing = runner(SqliteTarget::open(file).await.unwrap());
        let running = tokio::spawn(async move { crashing.run(std::future::pending()).await });
        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..40))).await;
        running.abort();
        let _ = running.await;
    }
    let mut last = Position::START;
    for writer in writers {
        last = last.max(writer.await.unwrap());
    }
    let target = SqliteTarget::open(file).await.unwrap();
    let mut recovering = runner(target.clone());
    while recovering.checkpoint() < last {
        recovering.catch_up().await.unwrap();
    }
    target.wait_for_projection("ledger", last, Duration::from_secs(5)).await.unwrap();

    let (seen, total) = model(file);
    let replayed = replay_through(&store, last).await;
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    let missing = replayed.iter().filter(|p| !unique.contains(p)).count();
    let mut twice: Vec<_> = seen.iter().filter(|p| seen.iter().filter(|q| q == p).count() > 1).collect();
    twice.dedup();
    assert_eq!(
        (seen.len() - unique.len(), missing),
        (0, 0),
        "events applied twice ({twice:?}), events missing; seen {seen:?}"
    );
    assert_eq!(seen, replayed, "in the order a replay reproduces");
    assert_eq!(total, 4 * (1..=120).sum::<i64>());
}

/// Two runners of one projection at once, neither elected: the checkpoint's
/// compare-and-set in each page's transaction lets a page commit once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_apply_each_page_once() {
    let dir = TempDir::new();
    let (store_file, target_file) = (dir.file("events.sqlite3"), dir.file("reports.sqlite3"));
    let store = SqliteEventStore::open(&store_file).await.unwrap();
    for i in 0..300 {
        deposit(&store, &format!("acc-{}", i % 5), 1).await;
    }
    let target = SqliteTarget::open(&target_file).await.unwrap();
    let runner = |t: &SqliteTarget| {
        SqliteProjectionRunner::new(store.clone(), t.clone(), Ledger::new()).with_options(quick().page_size(3))
    };
    let (mut a, mut b) = (runner(&target), runner(&SqliteTarget::open(&target_file).await.unwrap()));
    let last = store.read_all(Position::START, 1000).await.unwrap().last().unwrap().position;
    let (ra, rb) = tokio::join!(
        async {
            while a.checkpoint() < last {
                match a.catch_up().await {
                    Ok(_) | Err(ProjectionError::Busy { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        },
        async {
            while b.checkpoint() < last {
                match b.catch_up().await {
                    Ok(_) | Err(ProjectionError::Busy { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    );
    ra.unwrap();
    rb.unwrap();
    let (seen, total) = model(&target_file);
    assert_eq!(seen, replay(&store).await, "each event once, in order");
    assert_eq!(total, 300);
}

/// A poison event is parked with its error and the projection goes on; a
/// waiter on another connection sees the position; once fixed, the retry
/// applies the event once. Under the stop policy a waiter learns why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_park_or_stop_and_waits_see_it() {
    let dir = TempDir::new();
    let file = dir.file("bank.sqlite3");
    let store = SqliteEventStore::open(&file).await.unwrap();
    deposit(&store, "a", 1).await;
    deposit(&store, "a", 13).await;
    let last = deposit(&store, "b", 2).await;
    let ledger = Ledger::new();
    ledger.poison.store(13, Ordering::SeqCst);
    let poison = Arc::clone(&ledger.poison);
    let quick_retry =
        RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(2) };
    let target = SqliteTarget::of(&store).await.unwrap();
    let mut runner = SqliteProjectionRunner::new(store.clone(), target.clone(), ledger)
        .with_options(quick().retry(quick_retry).on_poison(PoisonPolicy::Park));
    runner.catch_up().await.unwrap();
    let elsewhere = SqliteTarget::open(&file).await.unwrap();
    elsewhere.wait_for_projection("ledger", last, Duration::from_secs(5)).await.unwrap();
    let parked = elsewhere.parked_events("ledger").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].error.contains("cannot book 13"), "{}", parked[0].error);
    assert_eq!(model(&file).1, 3);

    poison.store(0, Ordering::SeqCst);
    runner.retry_parked(parked[0].id).await.unwrap();
    assert!(elsewhere.parked_events("ledger").await.unwrap().is_empty());
    assert_eq!(model(&file).1, 16, "the retried event applied once");

    let stopping = Ledger::new();
    stopping.poison.store(7, Ordering::SeqCst);
    let stuck = deposit(&store, "c", 7).await;
    let mut runner =
        SqliteProjectionRunner::new(store.clone(), target, stopping).with_options(quick().retry(quick_retry));
    assert!(matches!(runner.catch_up().await, Err(ProjectionError::Handler { .. })));
    match elsewhere.wait_for_projection("ledger", stuck, Duration::from_secs(5)).await {
        Err(WaitError::Stopped { error, .. }) => assert!(error.contains("cannot book 7"), "{error}"),
        other => panic!("expected the stop, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rebuild_replays_history_into_an_emptied_read_model() {
    let dir = TempDir::new();
    let file = dir.file("bank.sqlite3");
    let store = SqliteEventStore::open(&file).await.unwrap();
    for i in 1..=50 {
        deposit(&store, &format!("acc-{}", i % 3), i).await;
    }
    let target = SqliteTarget::of(&store).await.unwrap();
    let mut runner = SqliteProjectionRunner::new(store.clone(), target, Ledger::new());
    runner.catch_up().await.unwrap();
    let mut reports = 0;
    let replayed = runner.rebuild(|_| reports += 1).await.unwrap();
    assert_eq!(replayed, 50);
    assert!(reports > 0, "progress was reported");
    let (seen, total) = model(&file);
    assert_eq!(seen, replay(&store).await, "once each, after the reset");
    assert_eq!(total, (1..=50).sum::<i64>());
}

/// Two runners following the store at once: the one that loses a page to
/// the other takes the checkpoint over again and goes on, and every event
/// is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_running_runners_go_on_after_losing_a_page_to_each_other() {
    let dir = TempDir::new();
    let file = dir.file("bank.sqlite3");
    let store = SqliteEventStore::open(&file).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let target = SqliteTarget::open(&file).await.unwrap();
        let mut runner = SqliteProjectionRunner::new(store.clone(), target, Ledger::new())
            .with_options(quick().page_size(2))
            .wake_on(&store);
        tasks.push(tokio::spawn(async move { runner.run(std::future::pending()).await }));
    }
    let mut last = Position::START;
    for i in 1..=200 {
        last = deposit(&store, &format!("acc-{}", i % 3), i).await;
    }
    let target = SqliteTarget::open(&file).await.unwrap();
    target.wait_for_projection("ledger", last, Duration::from_secs(20)).await.unwrap();
    for task in &tasks {
        assert!(!task.is_finished(), "a runner stopped: {task:?}");
    }
    let (seen, total) = model(&file);
    assert_eq!(seen, replay(&store).await, "each event once, in order");
    assert_eq!(total, (1..=200).sum::<i64>());
    for task in tasks {
        task.abort();
    }
}
