//! The committed checkpoints of a store's projections as this process sees
//! them: what read-your-writes waits on, in every process holding the store,
//! whether or not it runs the projection.
//!
//! A runner publishes its commits here at once. Every change of a stored
//! checkpoint (a commit, a stop, a takeover, a reset) sends a notification.
//! Once some wait has started it, one task per store listens for those
//! notifications for as long as the store lives, and reads the checkpoints
//! when one arrives; while waiters wait it also reads them every
//! [`POLL_INTERVAL`]. While that task cannot listen (before it first
//! connects, after it lost its connection) the watches are marked stale,
//! so that no wait settles on a state that may have changed since: a
//! projection that stopped and was resumed elsewhere is seen running again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use es_core::Position;
use es_core::projection::{CheckpointState, CheckpointWatch, ReconnectBackoff};
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

/// The pauses between attempts while the database cannot be read.
const RECONNECT: ReconnectBackoff =
    ReconnectBackoff { initial: Duration::from_millis(100), max: POLL_INTERVAL.saturating_mul(4) };

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
            .or_insert_with(|| {
                // Unknown until read from the database.
                let watch = CheckpointWatch::new(projection);
                watch.mark_stale();
                watch
            })
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

    /// Every watch of the store in this process.
    fn all(&self) -> Vec<CheckpointWatch> {
        Self::lock(&self.watches).values().cloned().collect()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(follower) = Self::lock(&self.follower).take() {
            follower.abort();
        }
    }
}

/// The follower: reads the checkpoints when told, on a notification and,
/// while waiters wait, on a timer, until the feed is gone.
async fn run(feed: Weak<Feed>, wake: Arc<Notify>, source: Source) {
    let mut listener: Option<Listener> = None;
    let (mut due, mut failures) = (true, 0);
    loop {
        let Some(watches) = feed.upgrade().map(|feed| feed.all()) else { return };
        if listener.as_ref().is_none_or(|l| l.client().is_closed()) {
            // Changes made while nobody listens are not notified.
            watches.iter().for_each(CheckpointWatch::mark_stale);
            listener = connect(&source).await;
            due = true;
        }
        if due {
            // A state read while nobody listens is current only at that
            // instant: the watches stay stale, and the read is tried again.
            let read = read(&source, &watches).await;
            failures = if read.is_ok() && listener.is_some() { 0 } else { failures + 1 };
            if failures > 0 {
                watches.iter().for_each(CheckpointWatch::mark_stale);
            }
        }
        let notified = async {
            match &listener {
                Some(listener) => listener.notified().await,
                None => std::future::pending().await,
            }
        };
        let (notified, woken) = (std::pin::pin!(notified), std::pin::pin!(wake.notified()));
        let woken = select(notified, woken);
        due = if failures > 0 {
            let _ = tokio::time::timeout(RECONNECT.pause(failures), woken).await;
            true
        } else if watches.iter().any(CheckpointWatch::is_watched) {
            let _ = tokio::time::timeout(POLL_INTERVAL, woken).await;
            true
        } else {
            // Nobody waits: follow the notifications only, and check now
            // and then that the store is still there.
            tokio::time::timeout(IDLE_CHECK, woken).await.is_ok()
        };
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

/// Reads the checkpoints of `watches` and publishes them; a projection with
/// no checkpoint yet is at the start.
async fn read(source: &Source, watches: &[CheckpointWatch]) -> Result<(), es_core::BoxError> {
    let client = source.pool.get().await?;
    let statement = client.prepare_cached(&source.sql.checkpoints).await?;
    let names: Vec<&str> = watches.iter().map(CheckpointWatch::projection).collect();
    let mut states: HashMap<String, CheckpointState> = HashMap::new();
    for row in client.query(&statement, &[&names]).await? {
        let name: String = row.try_get(0)?;
        let (commit, sequence): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        let stopped: Option<String> = row.try_get(3)?;
        let revision = u64::try_from(row.try_get::<_, i64>(4)?)?;
        let position = Position::new(u64::try_from(commit)?, u64::try_from(sequence)?);
        states.insert(name, CheckpointState { position, stopped, revision });
    }
    for watch in watches {
        watch.publish(states.remove(watch.projection()).unwrap_or_default());
    }
    Ok(())
}
