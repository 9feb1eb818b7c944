//! Read-your-writes from any process, and a global order whose horizon
//! belongs to this database: transactions of other databases do not hold
//! projections back, late commits of this one are still never skipped.
//! The horizon tests run as a role without superuser rights, which sees
//! less of other sessions.

mod common;

use std::time::Duration;

use common::ledger::*;
use es_core::projection::{RetryPolicy, RunnerState, WaitError};
use es_core::{Event, EventStore, ExpectedVersion, Metadata, Position};
use es_postgres::{PgEventStore, PgProjectionRunner};

const QUICK: RetryPolicy =
    RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) };

/// The two horizon tests hold transactions open in this database on
/// purpose: one at a time, so that one's late commit does not hold the
/// other's events back.
static HORIZON_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reads the global order until the event at `wanted` comes back, for at
/// most `limit`; whether it did.
async fn delivered_within(store: &PgEventStore, wanted: Position, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut after = Position::START;
    while tokio::time::Instant::now() < deadline {
        let page = store.read_all(after, 1000).await.unwrap();
        if page.iter().any(|e| e.position == wanted) {
            return true;
        }
        if let Some(last) = page.last() {
            after = last.position;
        }
    }
    false
}

/// A web replica holds its own store and runs no projection: it waits for
/// the command's position all the same, as does a standby runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_waits_work_from_another_store_instance_and_on_a_standby() {
    let store = ledger_store().await;
    let replica = common::store_in(store.schema()).await;
    let early_waiter = replica.checkpoint_waiter("ledger");

    let (active_waiter, active) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "active"))));
    let first = deposit(&store, "a", 1).await;
    within("the active runner", active_waiter.wait_for(first, Duration::from_secs(60))).await.unwrap();
    let (standby_waiter, standby) =
        start(live(PgProjectionRunner::new(replica.clone(), Ledger::new(&replica, "standby"))));

    let written = deposit(&store, "a", 2).await;
    replica.wait_for_projection("ledger", written, Duration::from_secs(20)).await.unwrap();
    assert_eq!(balances(&store).await, [("a".to_owned(), 3)], "the replica's query sees the write");
    early_waiter.wait_for(written, Duration::from_secs(20)).await.unwrap();
    standby_waiter.wait_for(written, Duration::from_secs(20)).await.unwrap();
    assert!(handled(&store).await.iter().all(|(_, runner)| runner == "active"), "the standby only waited");

    active.stop().await;
    standby.stop().await;
    let beyond = Position::new(written.commit + 1_000_000, 0);
    let err = replica.wait_for_projection("ledger", beyond, Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, WaitError::Timeout { reached, .. } if reached == written), "{err:?}");
}

/// Runs a ledger that fails for good on `poison` over `store` until it
/// stops, and returns why.
async fn run_until_stopped(store: &PgEventStore, poison: i64) -> String {
    let mut ledger = Ledger::new(store, "poisoned");
    ledger.poison = Some(poison);
    let runner = PgProjectionRunner::new(store.clone(), ledger).with_options(live_options().retry(QUICK));
    let (outcome, _) = within("the stop", spawn(runner).task).await.unwrap();
    es_core::ErrorReport::new(&outcome.unwrap_err()).to_string()
}

/// Waits on `replica` until it reports `Stopped`, and returns the error.
async fn stopped_seen_by(replica: &PgEventStore, wanted: Position) -> String {
    match replica.wait_for_projection("ledger", wanted, Duration::from_secs(30)).await {
        Err(WaitError::Stopped { error, .. }) => error,
        other => panic!("expected the replica to see the stop, got {other:?}"),
    }
}

/// A web replica that saw a projection stop learns that it runs again,
/// without a restart: once resumed by a runner of another process, and
/// once rebuilt from yet another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_saw_a_stop_sees_the_projection_resume_and_rebuild() {
    let store = ledger_store().await;
    let (replica, fixer) = (common::store_in(store.schema()).await, common::store_in(store.schema()).await);
    deposit(&store, "a", 1).await;
    deposit(&store, "a", 5).await;
    let last = deposit(&store, "b", 2).await;

    let stop = run_until_stopped(&store, 5).await;
    assert!(stop.contains("cannot book 5"), "{stop}");
    assert!(stopped_seen_by(&replica, last).await.contains("cannot book 5"));

    // Fixed and resumed by a runner of a third store instance, which
    // catches up: from then on the replica's waits succeed.
    let runner = live(PgProjectionRunner::new(fixer.clone(), Ledger::new(&fixer, "fixed")));
    let (health, fixed_waiter) = (runner.health(), runner.waiter());
    let fixed = spawn(runner);
    let running = health.wait_until(|s| *s == RunnerState::Running, Duration::from_secs(30)).await;
    assert!(running.is_some(), "the fixed runner took the projection over");
    fixed_waiter.wait_for(last, Duration::from_secs(30)).await.unwrap();
    replica.wait_for_projection("ledger", last, Duration::from_secs(30)).await.unwrap();
    let later = deposit(&store, "b", 3).await;
    replica.wait_for_projection("ledger", later, Duration::from_secs(30)).await.unwrap();
    fixed.stop().await;

    // Stopped again, then rebuilt elsewhere: the replica follows both.
    let poison = deposit(&store, "c", 7).await;
    let stop = run_until_stopped(&store, 7).await;
    assert!(stop.contains("cannot book 7"), "{stop}");
    assert!(stopped_seen_by(&replica, poison).await.contains("cannot book 7"));
    let mut rebuilder = PgProjectionRunner::new(fixer.clone(), Ledger::new(&fixer, "rebuilt"));
    within("the rebuild", rebuilder.rebuild(|_| {})).await.unwrap();
    replica.wait_for_projection("ledger", poison, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        balances(&store).await,
        [("a".to_owned(), 6), ("b".to_owned(), 5), ("c".to_owned(), 7)],
        "the rebuilt read model holds every event once"
    );
}

/// A transaction with a transaction id held open for 10 s in another
/// database of the cluster does not delay new events here.
#[tokio::test]
async fn projection_horizon_ignores_transactions_of_other_databases() {
    let _alone = HORIZON_TESTS.lock().await;
    let store = common::fresh_store_as_app_role().await;
    let other = common::other_database_client().await;
    let hold = tokio::spawn(async move {
        other.batch_execute("BEGIN; SELECT pg_current_xact_id(); SELECT pg_sleep(10); ROLLBACK;").await
    });
    // Wait until the other transaction holds its id.
    let probe = common::raw_client().await;
    within("the other database's transaction", async {
        loop {
            let row = probe
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'es_test_other' AND backend_xid IS NOT NULL",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) > 0 {
                break;
            }
        }
    })
    .await;

    let event = Deposited { amount: 1 }.encode().unwrap();
    let appended = store.append("account", "a", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await;
    let position = appended.unwrap().position().unwrap();
    assert!(
        delivered_within(&store, position, Duration::from_secs(1)).await,
        "the event was held back by another database's transaction"
    );
    assert!(!hold.is_finished(), "the other transaction was still open");
    hold.await.unwrap().unwrap();
}

/// The classic late commit, as a role without superuser rights: an event
/// of a transaction of this database that began first but commits last is
/// never skipped.
#[tokio::test]
async fn projection_horizon_still_waits_for_late_commits_of_this_database() {
    let _alone = HORIZON_TESTS.lock().await;
    let store = common::fresh_store_as_app_role().await;
    let mut slow = common::app_role_client().await;
    let tx = slow.transaction().await.unwrap();
    let insert = format!(
        "INSERT INTO {}.events (aggregate_type, stream_id, version, event_name, event_version, payload) \
         VALUES ('account', 'slow', 1, 'Deposited', 1, '{{\"amount\": 1}}')",
        store.quoted_schema()
    );
    tx.execute(&insert, &[]).await.unwrap();
    let event = Deposited { amount: 2 }.encode().unwrap();
    let fast = store.append("account", "fast", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await;
    let fast = fast.unwrap().position().unwrap();

    assert!(
        !delivered_within(&store, fast, Duration::from_millis(300)).await,
        "an event committed after an open transaction of this database began is held back"
    );
    assert_eq!(store.read_lag().await.unwrap().held_back, 1);
    tx.commit().await.unwrap();
    let all = common::read_all_through(&store, Position::START, fast, 10).await;
    assert_eq!(all.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>(), ["slow", "fast"]);
}
