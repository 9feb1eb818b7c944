//! Projections survive the database going away: each test runs its own
//! PostgreSQL server and restarts or stops it under a live runner and
//! writers, then checks that the runner came back by itself, that the read
//! model equals a replay and that a waiter for the last write returns.

#[path = "common/private_server.rs"]
mod private_server;

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::ledger::*;
use es_core::projection::{ReconnectBackoff, RunnerOptions, RunnerState};
use es_core::{Event, EventStore, ExpectedVersion, Metadata, Position, StoreError};
use es_postgres::{PgEventStore, PgProjectionRunner};
use private_server::{PrivateServer, own_server};

async fn store_on(server: &PrivateServer) -> PgEventStore {
    let store = PgEventStore::builder_from_url(&server.url())
        .unwrap()
        .schema("outage")
        .pool_size(24)
        .wait_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    with_ledger_tables(store).await
}

/// A runner that notices new events and reconnects quickly.
fn resilient(store: &PgEventStore, name: &'static str) -> PgProjectionRunner<Ledger> {
    let options = RunnerOptions::default()
        .poll_interval(Duration::from_millis(20))
        .page_size(50)
        .reconnect(ReconnectBackoff { initial: Duration::from_millis(20), max: Duration::from_millis(500) });
    PgProjectionRunner::new(store.clone(), Ledger::new(store, name)).with_options(options)
}

/// Appends `count` deposits to random streams, trying each again while the
/// store is unavailable; returns the positions of the acknowledged ones.
async fn write_through_outages(store: PgEventStore, count: usize, acked: Arc<AtomicUsize>) -> Vec<Position> {
    let mut positions = Vec::with_capacity(count);
    for i in 0..count {
        let event = Deposited { amount: i as i64 + 1 }.encode().unwrap();
        let stream = format!("acc-{}", fastrand::u8(..16));
        loop {
            let appended =
                store.append("account", &stream, ExpectedVersion::Any, vec![event.clone()], &Metadata::default()).await;
            match appended {
                Ok(appended) => {
                    positions.push(appended.position().unwrap());
                    acked.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // The server is restarting: try again shortly.
                Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => panic!("an append failed for another reason than the outage: {e}"),
            }
        }
    }
    positions
}

/// Checks that the runner handled every stored event once, in order.
async fn assert_read_model_equals_replay(store: &PgEventStore, last: Position) {
    store.wait_for_projection("ledger", last, Duration::from_secs(60)).await.unwrap();
    let seen: Vec<Position> = handled(store).await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(seen, replay(store, last).await, "every stored event handled once, in replay order");
}

/// `writers` writers append `per_writer` events each while the server is
/// restarted `restarts` times at random moments of the load.
async fn restarts_under_load(writers: usize, per_writer: usize, restarts: usize) {
    let server = Arc::new(own_server());
    let store = store_on(&server).await;
    let runner = resilient(&store, "live");
    let health = runner.health();
    let running = spawn(runner);
    let acked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..writers)
        .map(|_| tokio::spawn(write_through_outages(store.clone(), per_writer, Arc::clone(&acked))))
        .collect();
    let total = writers * per_writer;
    for restart in 0..restarts {
        // A random moment of the load, spread over its length.
        let target = total * (restart + 1) / (restarts + 1) - fastrand::usize(..total / (restarts + 1) / 2 + 1);
        within("the load to get going", async {
            while acked.load(Ordering::SeqCst) < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.restart()).await.unwrap();
    }
    let mut last = Position::START;
    for task in tasks {
        last = last.max(task.await.unwrap().into_iter().max().unwrap());
    }
    assert_read_model_equals_replay(&store, last).await;
    assert!(!running.task.is_finished(), "the runner never gave up");
    let now = health.now();
    assert_eq!(now.state, RunnerState::Running);
    assert!(now.last_error.is_some(), "the runner saw the outage");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_resumes_by_itself_after_a_server_restart_under_8_writers() {
    restarts_under_load(8, 150, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_resumes_after_10_restarts_at_random_moments_of_a_16_writer_load() {
    restarts_under_load(16, 100, 10).await;
}

/// The server stays down for 10 s: the runner says it is reconnecting, and
/// why, the whole time; writers get errors that name the outage; once the
/// server is back the runner resumes by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_reports_reconnecting_while_the_server_is_down_and_resumes() {
    let server = Arc::new(own_server());
    let store = store_on(&server).await;
    let before = deposit(&store, "a", 1).await;
    let runner = resilient(&store, "live");
    let health = runner.health();
    let running = spawn(runner);
    store.wait_for_projection("ledger", before, Duration::from_secs(60)).await.unwrap();

    let stopping = Arc::clone(&server);
    tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();
    let down = tokio::time::Instant::now();
    let reconnecting = health
        .wait_until(|s| matches!(s, RunnerState::Reconnecting { .. }), Duration::from_secs(30))
        .await
        .expect("the runner reports reconnecting");
    let event = Deposited { amount: 2 }.encode().unwrap();
    let refused = store.append("account", "a", ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    let refused = refused.expect_err("the server is down");
    assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
    let message = es_core::ErrorReport::new(&refused).to_string();
    assert!(message.contains(&format!("127.0.0.1:{}", server.port)) && message.contains("refused"), "{message}");

    // Keep it down for 10 s: the runner keeps trying, and keeps saying so.
    tokio::time::sleep_until(down + Duration::from_secs(10)).await;
    let still = health.now();
    let RunnerState::Reconnecting { since, attempts } = still.state else { panic!("{still:?}") };
    let RunnerState::Reconnecting { since: first_since, .. } = reconnecting.state else { unreachable!() };
    assert_eq!(since, first_since, "one outage, counted from its start");
    assert!(attempts > 3, "it kept trying: {attempts} attempts");
    let (_, error) = still.last_error.expect("the last error");
    assert!(error.contains("refused") || error.contains("shutting down"), "{error}");

    let starting = Arc::clone(&server);
    tokio::task::spawn_blocking(move || starting.start()).await.unwrap();
    let after = deposit(&store, "a", 3).await;
    assert_read_model_equals_replay(&store, after).await;
    assert_eq!(
        health.wait_until(|s| *s == RunnerState::Running, Duration::from_secs(30)).await.map(|h| h.state),
        Some(RunnerState::Running)
    );
    running.stop().await;
}
