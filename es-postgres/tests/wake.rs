//! Appends wake live projection runners, end to end: bursts of concurrent
//! appends, each followed by a runner that never polls. (The notifier's
//! unit tests drive the race of a commit against a notification on its way
//! step by step.)

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::projection::RunnerOptions;
use es_core::{BoxError, Event, EventStore, ExpectedVersion, Metadata, RecordedEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Happened;

/// Reads every event and does nothing with it: its checkpoint is the point.
struct Follower;

impl PgProjection for Follower {
    type Event = Happened;

    fn name(&self) -> &str {
        "follower"
    }

    async fn handle(&mut self, _: &PgTransaction<'_>, _: &Happened, _: &RecordedEvent) -> Result<(), BoxError> {
        Ok(())
    }

    async fn reset(&mut self, _: &PgTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

const PREFIX: &str = "espg_wake_";

/// A migrated store in a database of its own, and the database's name.
///
/// Readers of the global order stop below the oldest transaction running
/// in their database. Here only this test's appends run, and each one
/// notifies after it commits: a runner that read too early is woken again,
/// so it never has to fall back on polling. (Other tests' transactions, or
/// autoanalyze taking a transaction id, would hold it back until its next
/// poll.)
async fn private_store() -> (PgEventStore, String) {
    let admin = common::raw_client().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Those of runs that failed long ago.
    let old =
        admin.query("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)", &[&PREFIX]).await.unwrap();
    for row in old {
        let name: String = row.get(0);
        let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|secs| now.saturating_sub(secs) > 3600) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
    let name = format!("{PREFIX}{now}_{:016x}", fastrand::u64(..));
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut config = common::config();
    config.dbname(&name);
    let store = PgEventStore::builder(config).pool_size(8).build().unwrap();
    store.migrate().await.unwrap();
    let mut client = store.connection().await.unwrap();
    let tables =
        client.query("SELECT tablename::text FROM pg_tables WHERE schemaname = $1", &[&store.schema()]).await.unwrap();
    let tx = client.transaction().await.unwrap();
    for table in tables {
        let table: String = table.get(0);
        let sql = format!("ALTER TABLE {}.\"{table}\" SET (autovacuum_enabled = false)", store.quoted_schema());
        tx.batch_execute(&sql).await.unwrap();
    }
    tx.commit().await.unwrap();
    (store, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_burst_of_appends_wakes_the_runner() {
    let (store, database) = private_store().await;
    // Polling would hide a lost wake-up: the runner polls once an hour.
    let options = RunnerOptions::default().poll_interval(Duration::from_secs(3600));
    let mut runner = PgProjectionRunner::new(store.clone(), Follower).with_options(options);
    let waiter = runner.waiter();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { stopped.await.unwrap_or(()) }).await });
    for burst in 0..40_usize {
        // Appends that commit while the notification of the previous ones
        // is being sent, or just after.
        let appends: Vec<_> = (0..1 + burst % 8)
            .map(|k| {
                let store = store.clone();
                tokio::spawn(async move {
                    let event = vec![Happened.encode().unwrap()];
                    let stream = format!("s-{k}");
                    let appended =
                        store.append("thing", &stream, ExpectedVersion::Any, event, &Metadata::default()).await;
                    appended.unwrap().position().unwrap()
                })
            })
            .collect();
        let mut last = None;
        for append in appends {
            last = last.max(Some(append.await.unwrap()));
        }
        let woken = waiter.wait_for(last.unwrap(), Duration::from_secs(30)).await;
        woken.unwrap_or_else(|e| panic!("burst {burst} did not wake the runner: {e}"));
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    drop(store);
    let admin = common::raw_client().await;
    admin.batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)")).await.unwrap();
}
