//! Read models in Redis from a PostgreSQL store, exactly once: across
//! crashes under writers, with two runners at once, with poison events
//! parked, and a command that fails inside a page's script.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions, WaitError};
use es_core::{BoxError, ErrorReport, EventStore, ExpectedVersion, Metadata, Position, ProjectionError, RecordedEvent};
use es_postgres::PgEventStore;
use es_redis::redis::AsyncCommands;
use es_redis::{RedisProjection, RedisProjectionRunner, RedisTarget, RedisWrites};
use serde::{Deserialize, Serialize};

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}_{nanos}_{:08x}", fastrand::u32(..))
}

/// A target on the server `REDIS_URL` names (default the local one), under
/// a prefix of its own.
async fn fresh_target() -> RedisTarget {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let target = RedisTarget::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach Redis at {url}: {}\nStart the local server with\n    \
             start-stop-daemon --start --oknodo --background --exec /usr/bin/redis-server\n\
             (or run ./test, which does), or point REDIS_URL at one.",
            ErrorReport::new(&e)
        )
    });
    target.with_prefix(format!("{}:", unique("es_test")))
}

/// Deletes every key of the target's prefix.
async fn drop_target(target: &RedisTarget) {
    let mut c = target.connection();
    let keys: Vec<String> = c.keys(format!("{}*", target.prefix())).await.unwrap();
    if !keys.is_empty() {
        let () = c.del(keys).await.unwrap();
    }
}

async fn postgres_store() -> PgEventStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url).unwrap().schema(unique("es_redis_source")).build().unwrap();
    store.migrate().await.unwrap_or_else(|e| {
        panic!(
            "cannot use PostgreSQL at {url}: {}\nStart the local server with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point DATABASE_URL at one.",
            ErrorReport::new(&e)
        )
    });
    store
}

async fn drop_store(store: PgEventStore) {
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}

#[derive(es_core::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "redis-tests.Deposited")]
struct Deposited {
    amount: i64,
}

async fn deposit(store: &impl EventStore, stream: &str, amount: i64) -> Position {
    let event = es_core::Event::encode(&Deposited { amount }).unwrap();
    let appended = store.append("account", stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    appended.unwrap().position().unwrap()
}

/// Balances per stream and a log of every event handled, in order, under
/// the target's prefix. Fails on deposits of `poison` while it is set;
/// queues a command Redis refuses on deposits of `refused`.
struct Ledger {
    prefix: String,
    poison: Arc<AtomicI64>,
    refused: i64,
}

impl Ledger {
    fn new(target: &RedisTarget) -> Self {
        Ledger { prefix: target.prefix().to_owned(), poison: Arc::default(), refused: 0 }
    }
}

impl RedisProjection for Ledger {
    type Event = Deposited;

    fn name(&self) -> &str {
        "ledger"
    }

    fn handle(
        &mut self,
        writes: &mut RedisWrites,
        event: &Deposited,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if event.amount == self.poison.load(Ordering::SeqCst) {
            return Err(format!("cannot book {}", event.amount).into());
        }
        let (balances, handled) = (format!("{}balances", self.prefix), format!("{}handled", self.prefix));
        writes.command("HINCRBY", (&balances, &envelope.stream_id, event.amount));
        writes.command("RPUSH", (&handled, format!("{}/{}", envelope.position.commit, envelope.position.sequence)));
        if event.amount == self.refused {
            // HINCRBY on a list: Redis refuses it inside the script.
            writes.command("HINCRBY", (&handled, "field", 1));
        }
        Ok(())
    }

    fn reset(&mut self, writes: &mut RedisWrites) -> Result<(), BoxError> {
        writes.command("DEL", (format!("{}balances", self.prefix), format!("{}handled", self.prefix)));
        Ok(())
    }
}

/// Each event the ledger handled, in order, and the balances' total.
async fn model(target: &RedisTarget) -> (Vec<Position>, i64) {
    let mut c = target.connection();
    let handled: Vec<String> = c.lrange(format!("{}handled", target.prefix()), 0, -1).await.unwrap();
    let balances: Vec<i64> = c.hvals(format!("{}balances", target.prefix())).await.unwrap();
    let seen = handled
        .iter()
        .map(|p| {
            let (commit, sequence) = p.split_once('/').unwrap();
            Position::new(commit.parse().unwrap(), sequence.parse().unwrap())
        })
        .collect();
    (seen, balances.iter().sum())
}

/// Every event's position through `last`, in global order.
async fn replay(store: &impl EventStore, last: Position) -> Vec<Position> {
    let (mut all, mut after) = (Vec::new(), Position::START);
    while after < last {
        let page = store.read_all(after, 1000).await.unwrap();
        match page.last() {
            Some(newest) => after = newest.position,
            None => tokio::task::yield_now().await,
        }
        all.extend(page.iter().map(|e| e.position));
    }
    all
}

fn quick() -> RunnerOptions {
    RunnerOptions::default().poll_interval(Duration::from_millis(5)).page_size(7)
}

/// The runner is aborted at random points ten times while four writers
/// append (with a backlog, so that aborts land mid-page); afterwards the
/// read model equals a replay: nothing applied twice, nothing missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_read_model_gets_each_event_once_across_crashes_under_writers() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    for i in 1..=200 {
        deposit(&store, &format!("acc-{}", i % 4), i).await;
    }
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = Position::START;
                for i in 1..=100 {
                    last = last.max(deposit(&store, &format!("acc-{w}-{}", i % 4), i).await);
                }
                last
            })
        })
        .collect();
    for _ in 0..10 {
        let mut runner =
            RedisProjectionRunner::new(store.clone(), target.clone(), Ledger::new(&target)).with_options(quick());
        let running = tokio::spawn(async move { runner.run(std::future::pending()).await });
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2..40))).await;
        running.abort();
        let _ = running.await;
    }
    let mut last = Position::START;
    for writer in writers {
        last = last.max(writer.await.unwrap());
    }
    let mut recovering = RedisProjectionRunner::new(store.clone(), target.clone(), Ledger::new(&target));
    while recovering.checkpoint() < last {
        recovering.catch_up().await.unwrap();
    }
    target.wait_for_projection("ledger", last, Duration::from_secs(5)).await.unwrap();

    let (seen, total) = model(&target).await;
    let replayed = replay(&store, last).await;
    let twice = seen.len() - seen.iter().collect::<BTreeSet<_>>().len();
    let missing = replayed.iter().filter(|p| !seen.contains(p)).count();
    assert_eq!((twice, missing), (0, 0), "events applied twice, events missing");
    assert_eq!(seen, replayed, "in the order a replay reproduces");
    assert_eq!(total, (1..=200).sum::<i64>() + 4 * (1..=100).sum::<i64>());
    drop_target(&target).await;
    drop_store(store).await;
}

/// Two runners of one projection working at once: the checkpoint's
/// compare-and-set in each page's script lets a page apply once, and a
/// running runner that loses a page goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_apply_each_page_once() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let mut runner = RedisProjectionRunner::new(store.clone(), target.clone(), Ledger::new(&target))
            .with_options(quick().page_size(3));
        tasks.push(tokio::spawn(async move { runner.run(std::future::pending()).await }));
    }
    let mut last = Position::START;
    for i in 0..300 {
        last = deposit(&store, &format!("acc-{}", i % 5), 1).await;
    }
    target.wait_for_projection("ledger", last, Duration::from_secs(20)).await.unwrap();
    for task in &tasks {
        assert!(!task.is_finished(), "a runner stopped: {task:?}");
    }
    let (seen, total) = model(&target).await;
    assert_eq!(seen, replay(&store, last).await, "each event once, in order");
    assert_eq!(total, 300);
    for task in tasks {
        task.abort();
    }
    drop_target(&target).await;
    drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_park_or_stop_and_waits_see_it() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    deposit(&store, "a", 1).await;
    deposit(&store, "a", 13).await;
    let last = deposit(&store, "b", 2).await;
    let ledger = Ledger::new(&target);
    ledger.poison.store(13, Ordering::SeqCst);
    let poison = Arc::clone(&ledger.poison);
    let quick_retry =
        RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(2) };
    let mut runner = RedisProjectionRunner::new(store.clone(), target.clone(), ledger)
        .with_options(quick().retry(quick_retry).on_poison(PoisonPolicy::Park));
    while runner.checkpoint() < last {
        runner.catch_up().await.unwrap();
    }
    target.wait_for_projection("ledger", last, Duration::from_secs(5)).await.unwrap();
    let parked = target.parked_events("ledger").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].error.contains("cannot book 13"), "{}", parked[0].error);
    assert_eq!(model(&target).await.1, 3);

    poison.store(0, Ordering::SeqCst);
    runner.retry_parked(parked[0].id).await.unwrap();
    assert!(target.parked_events("ledger").await.unwrap().is_empty());
    assert_eq!(model(&target).await.1, 16, "the retried event applied once");

    let stopping = Ledger::new(&target);
    stopping.poison.store(7, Ordering::SeqCst);
    let stuck = deposit(&store, "c", 7).await;
    let mut runner =
        RedisProjectionRunner::new(store.clone(), target.clone(), stopping).with_options(quick().retry(quick_retry));
    let failed = loop {
        if let Err(e) = runner.catch_up().await {
            break e;
        }
    };
    assert!(matches!(failed, ProjectionError::Handler { .. }), "{failed:?}");
    match target.wait_for_projection("ledger", stuck, Duration::from_secs(5)).await {
        Err(WaitError::Stopped { error, .. }) => assert!(error.contains("cannot book 7"), "{error}"),
        other => panic!("expected the stop, got {other:?}"),
    }
    drop_target(&target).await;
    drop_store(store).await;
}

#[tokio::test]
async fn a_rebuild_empties_the_read_model_in_the_script_and_replays() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let mut last = Position::START;
    for i in 1..=40 {
        last = deposit(&store, &format!("acc-{}", i % 3), i).await;
    }
    let mut runner = RedisProjectionRunner::new(store.clone(), target.clone(), Ledger::new(&target));
    while runner.checkpoint() < last {
        runner.catch_up().await.unwrap();
    }
    assert_eq!(runner.rebuild(|_| {}).await.unwrap(), 40);
    let (seen, total) = model(&target).await;
    assert_eq!(seen, replay(&store, last).await, "once each, after the reset");
    assert_eq!(total, (1..=40).sum::<i64>());
    drop_target(&target).await;
    drop_store(store).await;
}

/// Redis keeps a script's writes before a command that fails in it: the
/// runner stops instead of retrying the page, and says what to do.
#[tokio::test]
async fn a_command_that_fails_inside_the_script_stops_the_runner_with_the_fix() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let last = deposit(&store, "a", 5).await;
    let ledger = Ledger { refused: 5, ..Ledger::new(&target) };
    let mut runner = RedisProjectionRunner::new(store.clone(), target.clone(), ledger).with_options(quick());
    let stopped = runner.run(std::future::pending()).await.unwrap_err();
    let message = format!("{:#}", ErrorReport::new(&stopped));
    assert!(message.contains("Redis keeps the writes") && message.contains("rebuild the projection"), "{message}");
    let state = target.wait_for_projection("ledger", last, Duration::from_millis(50)).await;
    assert!(matches!(state, Err(WaitError::Timeout { reached: Position::START, .. })), "{state:?}");
    drop_target(&target).await;
    drop_store(store).await;
}
