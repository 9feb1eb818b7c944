//! Projections on PostgreSQL: exactly once across crashes, a gapless order
//! under concurrent writers, one active runner, failing handlers, rebuilds
//! and read-your-writes.

mod common;

use common::ledger::*;
use std::time::Duration;

use es_core::projection::{Progress, RetryPolicy, WaitError};
use es_core::{BoxError, Position, ProjectionError, RecordedEvent, Repository};
use es_postgres::{PgProjection, PgProjectionRunner, PgTransaction};
use tokio::sync::oneshot;

#[tokio::test]
async fn projection_catch_up_commits_the_read_model_and_checkpoint_together() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for (stream, amount) in [("a", 5), ("b", 7), ("a", 11)] {
        last = deposit(&store, stream, amount).await;
    }
    let mut runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"));
    let (waiter, running) = start(live(runner));
    within("catch-up", waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    runner = running.stop().await;
    assert_eq!(balances(&store).await, [("a".to_owned(), 16), ("b".to_owned(), 7)]);
    assert_eq!(stored_checkpoint(&store).await, last);
    assert_eq!(runner.checkpoint(), last);
    assert_eq!(handled(&store).await.len(), 3);
}

/// Many writers commit out of order while the projection follows live: it
/// handles every event exactly once, in the order a replay reproduces.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_sees_every_event_once_in_replay_order_under_concurrent_writers() {
    const WRITERS: usize = 16;
    const EVENTS_PER_WRITER: usize = 500;
    let store = ledger_store().await;
    let (waiter, running) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "live"))));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = Position::START;
                for i in 0..EVENTS_PER_WRITER {
                    let stream = format!("acc-{}", fastrand::u8(..32));
                    last = last.max(deposit(&store, &stream, (w * 10_000 + i) as i64).await);
                }
                last
            })
        })
        .collect();
    let mut last = Position::START;
    for writer in writers {
        last = last.max(writer.await.unwrap());
    }
    within("the projection to catch up", waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    running.stop().await;

    let seen: Vec<Position> = handled(&store).await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(seen.len(), WRITERS * EVENTS_PER_WRITER, "every event handled exactly once");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in global order");
    assert_eq!(seen, replay(&store, last).await, "the order a replay reproduces");
}

/// The runner is killed at random points, by task abort or by killing its
/// connection; after each restart the read model equals a full replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_survives_crashes_with_no_event_lost_or_applied_twice() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for i in 0..600 {
        last = deposit(&store, &format!("acc-{}", i % 17), i + 1).await;
    }
    let admin = common::raw_client().await;
    for round in 0..8 {
        let runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "crashing"))
            .with_options(live_options().page_size(7));
        let (waiter, running) = start(runner);
        // Let it work for a random while, then crash it.
        let _ = tokio::time::timeout(Duration::from_millis(fastrand::u64(5..60)), waiter.wait_for(last, Duration::MAX))
            .await;
        if round % 2 == 0 {
            running.task.abort();
            let _ = running.task.await;
        } else {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'",
                    &[&store.schema()],
                )
                .await
                .unwrap();
            // A runner still standing by was not touched: stop it.
            let _ = running.stop.send(());
            let (outcome, _) = running.task.await.unwrap();
            assert!(outcome.is_ok() || matches!(outcome, Err(ProjectionError::Store { .. })), "{outcome:?}");
        }
    }
    let runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "final"));
    let (waiter, running) = start(live(runner));
    within("recovery", waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    running.stop().await;

    let seen: Vec<Position> = handled(&store).await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(seen, replay(&store, last).await, "each event applied once, in order, across crashes");
    let total: i64 = balances(&store).await.iter().map(|(_, b)| b).sum();
    assert_eq!(total, (1..=600).sum::<i64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_runs_on_one_runner_at_a_time_and_fails_over() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for i in 0..10 {
        last = deposit(&store, "a", i).await;
    }
    let (first_waiter, first) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "first"))));
    within("the first runner", first_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();

    // A second runner starts while the first works: it stands by.
    let (second_waiter, second) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "second"))));
    for i in 10..30 {
        last = deposit(&store, "a", i).await;
    }
    within("the first runner", first_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    assert!(handled(&store).await.iter().all(|(_, r)| r == "first"), "only the active runner works");
    assert_eq!(second_waiter.position(), last, "a waiter on the standby follows the active runner's commits");
    let mut third = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "third"));
    assert!(matches!(third.catch_up().await, Err(ProjectionError::Busy { .. })));

    first.stop().await;
    for i in 30..50 {
        last = deposit(&store, "a", i).await;
    }
    within("the standby to take over", second_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    second.stop().await;
    let log = handled(&store).await;
    let runners: Vec<&str> = log.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(runners, [["first"; 30].as_slice(), &["second"; 20]].concat());
    let positions: Vec<Position> = log.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, replay(&store, last).await);
}

/// The active runner's connection is killed: it reports the loss in its
/// health and reconnects; whichever runner holds the lock next resumes from
/// the committed checkpoint, with no event lost or applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_resumes_or_fails_over_when_the_active_connection_dies() {
    let store = ledger_store().await;
    let mut last = deposit(&store, "a", 1).await;
    let first = live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "first")));
    let first_health = first.health();
    let (first_waiter, first) = start(first);
    within("the first runner", first_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    let (second_waiter, second) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "second"))));

    let admin = common::raw_client().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted \
             AND pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = $1)",
            &[&format!("es projection {}.ledger", store.schema())],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "exactly one runner holds the lock");
    let health = within("the loss to be reported", async {
        loop {
            let health = first_health.now();
            if health.last_error.is_some() {
                return health;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let (_, error) = health.last_error.unwrap();
    assert!(error.contains("connection"), "{error}");

    last = deposit(&store, "a", 2).await;
    within("a runner to resume", second_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    first.stop().await;
    second.stop().await;
    let log = handled(&store).await;
    assert_eq!(log.iter().map(|(p, _)| *p).collect::<Vec<_>>(), replay(&store, last).await, "each event once");
    assert_eq!(log[0].1, "first");
}

#[tokio::test]
async fn projection_stops_at_a_failing_event_and_resumes_there_once_fixed() {
    let store = ledger_store().await;
    let mut positions = Vec::new();
    for amount in 1..=10 {
        positions.push(deposit(&store, "a", amount).await);
    }
    let mut ledger = Ledger::new(&store, "one");
    ledger.poison = Some(6);
    let retry =
        RetryPolicy { attempts: 3, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) };
    let mut runner =
        PgProjectionRunner::new(store.clone(), ledger).with_options(live_options().retry(retry).page_size(4));
    let err = loop {
        // Other tests' transactions may hold events back for a moment.
        match runner.catch_up().await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => break e,
        }
    };
    match &err {
        ProjectionError::Handler { projection, stream_id, version, position, attempts, .. } => {
            assert_eq!((projection.as_str(), stream_id.as_str(), *version, *attempts), ("ledger", "a", 6, 3));
            assert_eq!(*position, positions[5]);
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert!(err.to_string().contains("event 6 of stream `a`"), "{err}");
    assert_eq!(balances(&store).await, [("a".to_owned(), 15)], "everything before the event, nothing after");
    assert_eq!(stored_checkpoint(&store).await, positions[4]);

    runner.projection_mut().poison = None;
    within("resume", async {
        while runner.checkpoint() < positions[9] {
            // Other tests' transactions may hold events back for a moment.
            runner.catch_up().await.unwrap();
        }
    })
    .await;
    assert_eq!(balances(&store).await, [("a".to_owned(), 55)]);
    assert_eq!(handled(&store).await.len(), 10, "no event handled twice");
}

#[tokio::test]
async fn projection_rebuild_replays_history_with_progress() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for i in 0..120 {
        last = deposit(&store, &format!("acc-{}", i % 3), 1).await;
    }
    let (waiter, running) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"))));
    within("catch-up", waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    let mut runner = running.stop().await.with_options(live_options().page_size(50));
    let before = balances(&store).await;

    let mut reports: Vec<Progress> = Vec::new();
    let read = runner.rebuild(|p| reports.push(p)).await.unwrap();
    assert_eq!(read, 120);
    assert_eq!(reports.iter().map(|p| p.done).collect::<Vec<_>>(), [50, 100, 120]);
    assert!(reports.iter().all(|p| p.total == 120));
    assert_eq!(balances(&store).await, before);
    assert_eq!(handled(&store).await.len(), 120, "the log was reset, then refilled once");
    assert_eq!(stored_checkpoint(&store).await, last);
}

/// A rebuild as the very first run of a projection leaves a checkpoint, so
/// running afterwards applies nothing twice.
#[tokio::test]
async fn projection_rebuild_as_the_first_run_then_run_applies_each_event_once() {
    let store = ledger_store().await;
    let mut last = Position::START;
    for amount in 1..=30 {
        last = deposit(&store, "a", amount).await;
    }
    let mut runner =
        PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one")).with_options(live_options().page_size(8));
    let mut rebuilt = 0;
    while runner.checkpoint() < last {
        // Other tests' transactions may hold events back for a moment.
        rebuilt = runner.rebuild(|_| {}).await.unwrap();
    }
    assert_eq!((rebuilt, stored_checkpoint(&store).await), (30, last));
    let (waiter, running) = start(live(runner));
    let later = deposit(&store, "a", 100).await;
    within("the new event", waiter.wait_for(later, Duration::from_secs(60))).await.unwrap();
    running.stop().await;
    assert_eq!(balances(&store).await, [("a".to_owned(), 465 + 100)]);
    assert_eq!(handled(&store).await.len(), 31, "no event handled twice");
}

/// A runner whose checkpoint was moved behind its back (as through a
/// connection pooler that shares sessions, where the lock cannot hold)
/// refuses to commit rather than apply events twice.
#[tokio::test]
async fn projection_refuses_to_commit_over_a_checkpoint_moved_by_another_runner() {
    let store = ledger_store().await;
    let first = deposit(&store, "a", 1).await;
    let (waiter, running) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"))));
    within("the first event", waiter.wait_for(first, Duration::from_secs(60))).await.unwrap();
    let admin = common::raw_client().await;
    let sql = format!("UPDATE {}.checkpoints SET position = position + 1000", store.quoted_schema());
    admin.execute(&sql, &[]).await.unwrap();
    deposit(&store, "a", 2).await;
    let (outcome, _) = within("the runner to stop", running.task).await.unwrap();
    assert!(matches!(outcome, Err(ProjectionError::Busy { .. })), "{outcome:?}");
    assert_eq!(balances(&store).await, [("a".to_owned(), 1)], "the second event's writes rolled back");
}

/// A second version of a read model is built beside the first from
/// history, then queries move to it in one statement.
#[tokio::test]
async fn projection_blue_green_builds_a_new_version_beside_the_old() {
    struct Totals {
        table: String,
    }
    impl PgProjection for Totals {
        type Event = Deposited;
        fn name(&self) -> &str {
            &self.table
        }
        async fn handle(&mut self, tx: &PgTransaction<'_>, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
            let sql = format!(
                "INSERT INTO {t} (id, total, deposits) VALUES ($1, $2, 1) ON CONFLICT (id) DO UPDATE \
                 SET total = {t}.total + EXCLUDED.total, deposits = {t}.deposits + 1",
                t = self.table
            );
            tx.execute(&sql, &[&env.stream_id, &e.amount]).await?;
            Ok(())
        }
        async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
            tx.batch_execute(&format!("TRUNCATE {}", self.table)).await?;
            Ok(())
        }
    }
    let store = ledger_store().await;
    let s = store.quoted_schema().to_owned();
    let client = common::raw_client().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {s}.totals_v1 (id TEXT PRIMARY KEY, total BIGINT, deposits BIGINT);
             CREATE TABLE {s}.totals_v2 (id TEXT PRIMARY KEY, total BIGINT, deposits BIGINT);
             CREATE VIEW {s}.totals AS SELECT id, total FROM {s}.totals_v1;"
        ))
        .await
        .unwrap();
    let mut last = Position::START;
    for amount in [10, 20, 30] {
        last = deposit(&store, "a", amount).await;
    }
    let blue = PgProjectionRunner::new(store.clone(), Totals { table: format!("{s}.totals_v1") });
    let waiter = blue.waiter();
    let (stop_blue, blue_stopped) = oneshot::channel::<()>();
    let blue = tokio::spawn(async move {
        let mut blue = blue.with_options(live_options());
        blue.run(async { blue_stopped.await.unwrap_or(()) }).await
    });
    within("blue", waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();

    let green = PgProjectionRunner::new(store.clone(), Totals { table: format!("{s}.totals_v2") });
    let green_waiter = green.waiter();
    let (stop_green, green_stopped) = oneshot::channel::<()>();
    let green = tokio::spawn(async move {
        let mut green = green.with_options(live_options());
        green.run(async { green_stopped.await.unwrap_or(()) }).await
    });
    let query = format!("SELECT total FROM {s}.totals WHERE id = 'a'");
    assert_eq!(client.query_one(&query, &[]).await.unwrap().get::<_, i64>(0), 60, "blue serves while green builds");
    within("green", green_waiter.wait_for(last, Duration::from_secs(60))).await.unwrap();
    client
        .batch_execute(&format!("CREATE OR REPLACE VIEW {s}.totals AS SELECT id, total FROM {s}.totals_v2"))
        .await
        .unwrap();
    assert_eq!(client.query_one(&query, &[]).await.unwrap().get::<_, i64>(0), 60, "green serves the same answer");
    let deposits = format!("SELECT deposits FROM {s}.totals_v2 WHERE id = 'a'");
    assert_eq!(client.query_one(&deposits, &[]).await.unwrap().get::<_, i64>(0), 3);
    stop_blue.send(()).unwrap();
    stop_green.send(()).unwrap();
    blue.await.unwrap().unwrap();
    green.await.unwrap().unwrap();
}

#[tokio::test]
async fn projection_wait_for_reads_your_own_writes() {
    let store = ledger_store().await;
    let accounts = Repository::<Account, _>::new(store.clone());
    let (waiter, running) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"))));
    let committed = accounts.execute("acc-7", |_| Ok::<_, String>(vec![Deposited { amount: 70 }])).await.unwrap();
    waiter.wait_for(committed.position.unwrap(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(balances(&store).await, [("acc-7".to_owned(), 70)], "the query sees the command's effect");
    running.stop().await;

    let beyond = Position::new(u64::MAX >> 1, 0);
    let err = waiter.wait_for(beyond, Duration::from_millis(50)).await.unwrap_err();
    assert!(
        matches!(&err, WaitError::Timeout { projection, wanted, .. } if projection == "ledger" && *wanted == beyond)
    );
}
