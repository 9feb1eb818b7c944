//! Read models in MariaDB from a PostgreSQL store, exactly once: across
//! crashes under writers, with two runners at once, with one elected, with
//! poison events parked, and what the target refuses.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions, RunnerState, WaitError};
use es_core::{BoxError, ErrorReport, Position, ProjectionError, RecordedEvent};
use es_mysql::mysql_async::Conn;
use es_mysql::mysql_async::prelude::Queryable;
use es_mysql::{MySqlProjection, MySqlProjectionRunner, MySqlTarget, MySqlTransaction};

fn quick() -> RunnerOptions {
    RunnerOptions::default().poll_interval(Duration::from_millis(5)).page_size(7)
}

/// Ends every session of the target's database but `admin`'s: the runner's
/// connections die as in a network failure or a server restart.
async fn kill_sessions(admin: &mut Conn, target: &MySqlTarget) {
    let sessions: Vec<u64> = admin
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
            (target.database(),),
        )
        .await
        .unwrap();
    for id in sessions {
        // A session may end by itself in between.
        let _ = admin.query_drop(format!("KILL CONNECTION {id}")).await;
    }
}

/// The runner is stopped at random points ten times while four writers
/// append, by task abort or by killing its sessions; afterwards the read
/// model equals a replay of the store: nothing applied twice, nothing
/// missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mariadb_read_model_gets_each_event_once_across_crashes_under_writers() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    // A backlog keeps the runner in the middle of pages when it is stopped.
    let backlog = (0..4).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 1..=100 {
                deposit(&store, &format!("acc-{w}-{}", i % 4), i).await;
            }
        })
    });
    for filled in backlog.collect::<Vec<_>>() {
        filled.await.unwrap();
    }
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
    let mut admin = admin().await;
    for round in 0..10 {
        let mut runner = MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new()).with_options(quick());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move { runner.run(async { drop(stopped.await) }).await });
        tokio::time::sleep(Duration::from_millis(fastrand::u64(5..60))).await;
        if round % 2 == 0 {
            running.abort();
            let _ = running.await;
        } else {
            kill_sessions(&mut admin, &target).await;
            let _ = stop.send(());
            let outcome = running.await.unwrap();
            assert!(outcome.is_ok(), "a lost connection is waited out: {outcome:?}");
        }
    }
    let mut last = Position::START;
    for writer in writers {
        last = last.max(writer.await.unwrap());
    }
    let mut recovering = MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new());
    while recovering.checkpoint() < last {
        match recovering.catch_up().await {
            // The session of an aborted runner may hold the lock a moment.
            Ok(_) | Err(ProjectionError::Busy { .. }) => {}
            Err(e) => panic!("{}", ErrorReport::new(&e)),
        }
    }
    target.wait_for_projection("ledger", last, Duration::from_secs(5)).await.unwrap();

    let (seen, total) = model(&target).await;
    let replayed = replay(&store, last).await;
    let twice = seen.len() - seen.iter().collect::<BTreeSet<_>>().len();
    let missing = replayed.iter().filter(|p| !seen.contains(p)).count();
    assert_eq!((twice, missing), (0, 0), "events applied twice, events missing");
    assert_eq!(seen, replayed, "in the order a replay reproduces");
    assert_eq!(total, 4 * ((1..=100).sum::<i64>() + (1..=120).sum::<i64>()));
    drop_target(target).await;
    drop_store(store).await;
}

/// Two runners of one projection working at once, neither elected: the
/// checkpoint's compare-and-set in each page's transaction lets a page
/// commit once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_without_election_apply_each_page_once() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let mut last = Position::START;
    for i in 0..300 {
        last = deposit(&store, &format!("acc-{}", i % 5), 1).await;
    }
    let runner = || {
        MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new())
            .without_election()
            .with_options(quick().page_size(3))
    };
    let (mut a, mut b) = (runner(), runner());
    let until_caught_up = async |r: &mut MySqlProjectionRunner<Ledger, _>| {
        while r.checkpoint() < last {
            match r.catch_up().await {
                Ok(_) | Err(ProjectionError::Busy { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let (ra, rb) = tokio::join!(until_caught_up(&mut a), until_caught_up(&mut b));
    ra.unwrap();
    rb.unwrap();
    let (seen, total) = model(&target).await;
    assert_eq!(seen, replay(&store, last).await, "each event once, in order");
    assert_eq!(total, 300);
    drop_target(target).await;
    drop_store(store).await;
}

/// With the election, a second runner stands by while the first holds the
/// projection, and takes over when the first stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_runner_stands_by_and_takes_over() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let first_event = deposit(&store, "a", 1).await;
    let mut first = MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new()).with_options(quick());
    let (stop_first, first_stopped) = tokio::sync::oneshot::channel::<()>();
    let first_waiter = first.waiter();
    let first_task = tokio::spawn(async move { first.run(async { drop(first_stopped.await) }).await });
    first_waiter.wait_for(first_event, Duration::from_secs(10)).await.unwrap();

    let mut second = MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new()).with_options(quick());
    let health = second.health();
    let second_task = tokio::spawn(async move { second.run(std::future::pending()).await });
    let standing_by = async {
        while health.now().state != RunnerState::StandingBy {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), standing_by).await.expect("the second runner stands by");
    let listed = es_core::admin::ProjectionAdmin::projections(&target, None, 10).await.unwrap();
    assert!(listed[0].runner.is_some(), "the holder is shown: {listed:?}");

    stop_first.send(()).unwrap();
    first_task.await.unwrap().unwrap();
    let later = deposit(&store, "a", 2).await;
    target.wait_for_projection("ledger", later, Duration::from_secs(10)).await.unwrap();
    assert_eq!(model(&target).await.1, 3, "the second runner went on from the first one's checkpoint");
    second_task.abort();
    drop_target(target).await;
    drop_store(store).await;
}

/// A poison event is parked with its error and the projection goes on; a
/// waiter reading the target sees the position; once fixed, the retry
/// applies it once. Under the stop policy a waiter learns why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_park_or_stop_and_waits_see_it() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    deposit(&store, "a", 1).await;
    deposit(&store, "a", 13).await;
    let last = deposit(&store, "b", 2).await;
    let ledger = Ledger::new();
    ledger.poison.store(13, Ordering::SeqCst);
    let poison = std::sync::Arc::clone(&ledger.poison);
    let quick_retry =
        RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(2) };
    let mut runner = MySqlProjectionRunner::new(store.clone(), target.clone(), ledger)
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

    let stopping = Ledger::new();
    stopping.poison.store(7, Ordering::SeqCst);
    let stuck = deposit(&store, "c", 7).await;
    let mut runner =
        MySqlProjectionRunner::new(store.clone(), target.clone(), stopping).with_options(quick().retry(quick_retry));
    let failed = loop {
        match runner.catch_up().await {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(failed, ProjectionError::Handler { .. }), "{failed:?}");
    match target.wait_for_projection("ledger", stuck, Duration::from_secs(5)).await {
        Err(WaitError::Stopped { error, .. }) => assert!(error.contains("cannot book 7"), "{error}"),
        other => panic!("expected the stop, got {other:?}"),
    }
    drop_target(target).await;
    drop_store(store).await;
}

#[tokio::test]
async fn a_rebuild_empties_the_read_model_in_the_transaction_and_replays() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    let mut last = Position::START;
    for i in 1..=40 {
        last = deposit(&store, &format!("acc-{}", i % 3), i).await;
    }
    let mut runner = MySqlProjectionRunner::new(store.clone(), target.clone(), Ledger::new());
    while runner.checkpoint() < last {
        runner.catch_up().await.unwrap();
    }
    let replayed = runner.rebuild(|_| {}).await.unwrap();
    assert_eq!(replayed, 40);
    let (seen, total) = model(&target).await;
    assert_eq!(seen, replay(&store, last).await, "once each, after the reset");
    assert_eq!(total, (1..=40).sum::<i64>());
    drop_target(target).await;
    drop_store(store).await;
}

/// A read model whose setup creates a table without transactions.
struct OnMyIsam;

impl MySqlProjection for OnMyIsam {
    type Event = Deposited;

    fn name(&self) -> &str {
        "on_myisam"
    }

    async fn setup(&mut self, c: &mut Conn) -> Result<(), BoxError> {
        c.query_drop("CREATE TABLE IF NOT EXISTS totals (n BIGINT NOT NULL) ENGINE=MyISAM").await?;
        Ok(())
    }

    async fn handle(&mut self, _: &mut MySqlTransaction<'_>, _: &Deposited, _: &RecordedEvent) -> Result<(), BoxError> {
        Ok(())
    }

    async fn reset(&mut self, _: &mut MySqlTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A read model whose handler commits implicitly.
struct Truncating;

impl MySqlProjection for Truncating {
    type Event = Deposited;

    fn name(&self) -> &str {
        "truncating"
    }

    async fn setup(&mut self, c: &mut Conn) -> Result<(), BoxError> {
        c.query_drop("CREATE TABLE IF NOT EXISTS latest (amount BIGINT NOT NULL) ENGINE=InnoDB").await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        tx: &mut MySqlTransaction<'_>,
        e: &Deposited,
        _: &RecordedEvent,
    ) -> Result<(), BoxError> {
        tx.query_drop("TRUNCATE TABLE latest").await?;
        tx.exec_drop("INSERT INTO latest VALUES (?)", (e.amount,)).await?;
        Ok(())
    }

    async fn reset(&mut self, _: &mut MySqlTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_table_without_transactions_is_refused_and_implicit_commits_are_caught() {
    let (store, target) = (postgres_store().await, fresh_target().await);
    deposit(&store, "a", 1).await;
    let mut runner = MySqlProjectionRunner::new(store.clone(), target.clone(), OnMyIsam);
    let refused = runner.catch_up().await.unwrap_err();
    let message = format!("{:#}", ErrorReport::new(&refused));
    assert!(matches!(refused, ProjectionError::Setup { .. }), "{message}");
    assert!(
        message.contains("table `totals` uses the MyISAM engine") && message.contains("ENGINE=InnoDB"),
        "{message}"
    );

    let mut c = target.pool().get_conn().await.unwrap();
    c.query_drop("DROP TABLE totals").await.unwrap();
    let mut runner = MySqlProjectionRunner::new(store.clone(), target.clone(), Truncating)
        .with_options(quick().retry(RetryPolicy { attempts: 1, ..RetryPolicy::default() }));
    let ended = loop {
        match runner.catch_up().await {
            Ok(_) if runner.checkpoint() > Position::START => panic!("a page whose transaction ended early committed"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    let message = format!("{:#}", ErrorReport::new(&ended));
    assert!(message.contains("commits implicitly") && message.contains("DELETE instead of TRUNCATE"), "{message}");
    let checkpoint: Option<(u64, u64)> =
        c.query_first("SELECT tx, position FROM es_checkpoints WHERE projection = 'truncating'").await.unwrap();
    assert_eq!(checkpoint, Some((0, 0)), "the checkpoint did not move past the page");
    drop(c);
    drop_target(target).await;
    drop_store(store).await;
}

#[tokio::test]
async fn a_url_without_a_database_or_a_server_is_a_typed_error() {
    let missing = MySqlTarget::connect(&server_url()).await.unwrap_err();
    assert!(missing.to_string().contains("names no database"), "{missing}");
    let unreachable = MySqlTarget::connect("mysql://root:secret@127.0.0.1:1/read_models").await.unwrap_err();
    let message = format!("{:#}", ErrorReport::new(&unreachable));
    assert!(message.contains("cannot connect to the MariaDB/MySQL server at 127.0.0.1:1"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}
