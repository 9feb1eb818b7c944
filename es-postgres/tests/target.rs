//! Read models in another database than the store's, exactly once: the
//! runner reads the store and commits each page with its checkpoint in the
//! target's transaction.

mod common;

use std::time::Duration;

use common::ledger::*;
use es_core::{Position, ProjectionError};
use es_postgres::{PgEventStore, PgProjectionRunner, PgTarget};

/// The database the targets of these tests live in, on the store's server.
const TARGET_DATABASE: &str = "es_test_targets";

/// A migrated target in a schema of its own in [`TARGET_DATABASE`], with
/// the ledger's tables.
async fn fresh_target() -> PgTarget {
    let mut config = common::config();
    common::create_database(TARGET_DATABASE).await;
    config.dbname(TARGET_DATABASE);
    let builder = PgEventStore::builder(config).schema(common::schema_name()).pool_size(8);
    let target = PgTarget::from_builder(builder).unwrap();
    target.migrate().await.unwrap();
    let client = target.pool().get().await.unwrap();
    client.batch_execute(&ledger_tables(&format!("\"{}\"", target.schema()))).await.unwrap();
    target
}

/// The ledger of `runner`, writing its tables in `target`'s schema.
fn ledger_in(target: &PgTarget, runner: &'static str) -> Ledger {
    Ledger::in_schema(format!("\"{}\"", target.schema()), runner)
}

/// Each event the target's ledger handled, in order, and the balances.
async fn target_model(target: &PgTarget) -> (Vec<Position>, i64) {
    let client = target.pool().get().await.unwrap();
    let s = format!("\"{}\"", target.schema());
    let rows = client.query(&format!("SELECT tx, position FROM {s}.handled ORDER BY n"), &[]).await.unwrap();
    let seen = rows.iter().map(|r| Position::new(r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)).collect();
    let total: Option<i64> =
        client.query_one(&format!("SELECT sum(balance)::int8 FROM {s}.balances"), &[]).await.unwrap().get(0);
    (seen, total.unwrap_or(0))
}

/// The runner is killed at random points while writers append, by task
/// abort or by killing its connections in the target; afterwards the read
/// model in the target equals a replay of the store: nothing applied twice,
/// nothing missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_database_gets_each_event_once_across_crashes_under_writers() {
    let (store, target) = (ledger_store().await, fresh_target().await);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = Position::START;
                for i in 0..150 {
                    last = last.max(deposit(&store, &format!("acc-{w}-{}", i % 7), i + 1).await);
                }
                last
            })
        })
        .collect();
    let admin = common::other_client(TARGET_DATABASE).await;
    for round in 0..10 {
        let runner = PgProjectionRunner::with_target(store.clone(), target.clone(), ledger_in(&target, "crashing"))
            .with_options(live_options().page_size(7));
        let (waiter, running) = start(runner);
        let _ = tokio::time::timeout(
            Duration::from_millis(fastrand::u64(5..80)),
            waiter.wait_for(Position::new(u64::MAX, 0), Duration::MAX),
        )
        .await;
        if round % 2 == 0 {
            running.task.abort();
            let _ = running.task.await;
        } else {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE '%' || $1 || '%'",
                    &[&target.schema()],
                )
                .await
                .unwrap();
            let _ = running.stop.send(());
            let (outcome, _) = running.task.await.unwrap();
            assert!(outcome.is_ok() || matches!(outcome, Err(ProjectionError::Store { .. })), "{outcome:?}");
        }
    }
    let mut last = Position::START;
    for writer in writers {
        last = last.max(writer.await.unwrap());
    }
    let runner = PgProjectionRunner::with_target(store.clone(), target.clone(), ledger_in(&target, "final"));
    let (_, running) = start(live(runner));
    within("recovery", target.wait_for_projection("ledger", last, Duration::from_secs(60))).await.unwrap();
    running.stop().await;

    let (seen, total) = target_model(&target).await;
    let replayed = replay(&store, last).await;
    let twice = seen.len() - seen.iter().collect::<std::collections::BTreeSet<_>>().len();
    let missing = replayed.iter().filter(|p| !seen.contains(p)).count();
    assert_eq!((twice, missing), (0, 0), "events applied twice, events missing");
    assert_eq!(seen, replayed, "in the order a replay reproduces");
    assert_eq!(total, 4 * (1..=150).sum::<i64>());
    assert!(balances(&store).await.is_empty(), "nothing was written to the store's database");
}

/// Two runners of one projection active at once, each committing pages: the
/// checkpoint's compare-and-set in the target's transaction lets one page
/// commit once, so no event is applied twice even without the election.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_still_apply_each_page_once() {
    let (store, target) = (ledger_store().await, fresh_target().await);
    let mut last = Position::START;
    for i in 0..300 {
        last = deposit(&store, &format!("acc-{}", i % 5), 1).await;
    }
    common::read_all_through(&store, Position::START, last, 1000).await;
    let mut a = PgProjectionRunner::with_target(store.clone(), target.clone(), ledger_in(&target, "a"))
        .without_election()
        .with_options(live_options().page_size(3));
    let mut b = PgProjectionRunner::with_target(store.clone(), target.clone(), ledger_in(&target, "b"))
        .without_election()
        .with_options(live_options().page_size(3));
    let (ra, rb) = tokio::join!(
        async {
            loop {
                match a.catch_up().await {
                    Ok(_) if a.checkpoint() >= last => return Ok(()),
                    Ok(_) | Err(ProjectionError::Busy { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
        },
        async {
            loop {
                match b.catch_up().await {
                    Ok(_) if b.checkpoint() >= last => return Ok(()),
                    Ok(_) | Err(ProjectionError::Busy { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    );
    ra.unwrap();
    rb.unwrap();
    let (seen, total) = target_model(&target).await;
    assert_eq!(seen, replay(&store, last).await, "each event once, in order");
    assert_eq!(total, 300);
}

/// A transaction held open in the target's database does not hold the
/// store's readers back: the horizon only waits for the store's database.
#[tokio::test]
async fn a_long_transaction_in_the_target_does_not_hold_the_store_back() {
    let (store, target) = (ledger_store().await, fresh_target().await);
    let holder = common::other_client(TARGET_DATABASE).await;
    let hold = tokio::spawn(async move {
        holder.batch_execute("BEGIN; SELECT pg_current_xact_id(); SELECT pg_sleep(6); ROLLBACK;").await
    });
    let probe = common::other_client(TARGET_DATABASE).await;
    within("the target's transaction", async {
        while probe
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {}
    })
    .await;
    let position = deposit(&store, "a", 5).await;
    let mut runner = PgProjectionRunner::with_target(store.clone(), target.clone(), ledger_in(&target, "one"));
    let started = tokio::time::Instant::now();
    while runner.checkpoint() < position {
        runner.catch_up().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "the target's transaction held the store's readers back");
    }
    assert!(!hold.is_finished(), "the target's transaction was still open");
    target.wait_for_projection("ledger", position, Duration::from_secs(5)).await.unwrap();
    assert_eq!(target_model(&target).await.1, 5);
    hold.await.unwrap().unwrap();
}
