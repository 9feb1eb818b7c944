//! The committed checkpoints of a store's projections as this process sees
//! them: what read-your-writes waits on, in every process holding the store,
//! whether or not it runs the projection.
//!
//! A runner publishes its commits here at once, and every runner's commit
//! sends a notification. While some waiter waits, one task per store
//! listens for those notifications and reads the checkpoints when one
//! arrives, and every [`POLL_INTERVAL`] as a fallback (a notification can
//! be missed while the listening connection is re-established).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use es_core::Position;
use es_core::projection::{CheckpointState, CheckpointWatch};
use futures_util::future::select;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::listen::Listener;
use crate::schema::Statements;

/// How often the checkpoints are read while waiters wait and no
/// notification comes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How often an idle follower checks whether the store is gone.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The watches of one store's projections.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    watches: Mutex<HashMap<String, CheckpointWatch>>,
    wake: Arc<Notify>,
    follower: Mutex<Option<JoinHandle<()>>>,
}

/// What the follower task needs of the store, without holding the store
/// (and so its feed) alive.
pub(crate) struct Source {
    pub(crate) pool: Pool,
    pub(crate) config: Arc<tokio_postgres::Config>,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) sql: Arc<Statements>,
    pub(crate) channel: String,
    pub(crate) application_name: String,
}

impl Feed {
    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        // Each change under these locks is one insert or assignment: a panic
        // elsewhere cannot leave them half-written.
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The watch of `projection`, shared by every runner and waiter of this
    /// store in the process.
    pub(crate) fn watch(&self, projection: &str) -> CheckpointWatch {
        Self::lock(&self.watches)
            .entry(projection.to_owned())
            .or_insert_with(|| CheckpointWatch::new(projection))
            .clone()
    }

    /// Makes sure the follower task runs, and has it read the checkpoints
    /// now. Call it from within the Tokio runtime.
    pub(crate) fn follow(self: &Arc<Self>, source: impl FnOnce() -> Source) {
        let mut follower = Self::lock(&self.follower);
        if follower.as_ref().is_none_or(JoinHandle::is_finished) {
            *follower = Some(tokio::spawn(run(Arc::downgrade(self), Arc::clone(&self.wake), source())));
        }
        self.wake.notify_one();
    }

    /// The watches that some waiter holds.
    fn watched(&self) -> Vec<CheckpointWatch> {
        Self::lock(&self.watches).values().filter(|w| w.is_watched()).cloned().collect()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(follower) = Self::lock(&self.follower).take() {
            follower.abort();
        }
    }
}

/// The follower: reads the watched checkpoints when told and on a timer,
/// until the feed is gone.
async fn run(feed: Weak<Feed>, wake: Arc<Notify>, source: Source) {
    let mut listener: Option<Listener> = None;
    loop {
        let Some(watched) = feed.upgrade().map(|feed| feed.watched()) else { return };
        if watched.is_empty() {
            let _ = tokio::time::timeout(IDLE_CHECK, wake.notified()).await;
            continue;
        }
        if listener.as_ref().is_none_or(|l| l.client().is_closed()) {
            listener = connect(&source).await;
        }
        // A failed read is retried at the next wake-up or tick.
        let _ = read(&source, &watched).await;
        let notified = async {
            match &listener {
                Some(listener) => listener.notified().await,
                None => std::future::pending().await,
            }
        };
        let (notified, woken) = (std::pin::pin!(notified), std::pin::pin!(wake.notified()));
        let _ = tokio::time::timeout(POLL_INTERVAL, select(notified, woken)).await;
    }
}

async fn connect(source: &Source) -> Option<Listener> {
    let listener =
        Listener::connect(&source.config, source.tls.clone(), source.channel.clone(), &source.application_name)
            .await
            .ok()?;
    listener.listen().await.ok()?;
    Some(listener)
}

/// Reads the checkpoints of `watched` and publishes them.
async fn read(source: &Source, watched: &[CheckpointWatch]) -> Result<(), es_core::BoxError> {
    let client = source.pool.get().await?;
    let statement = client.prepare_cached(&source.sql.checkpoints).await?;
    let names: Vec<&str> = watched.iter().map(CheckpointWatch::projection).collect();
    for row in client.query(&statement, &[&names]).await? {
        let name: &str = row.try_get(0)?;
        let (commit, sequence): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        let stopped: Option<String> = row.try_get(3)?;
        let position = Position::new(u64::try_from(commit)?, u64::try_from(sequence)?);
        if let Some(watch) = watched.iter().find(|w| w.projection() == name) {
            watch.publish(CheckpointState { position, stopped }, false);
        }
    }
    Ok(())
}
