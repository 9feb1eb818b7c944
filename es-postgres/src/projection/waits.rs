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

use es_core::Position;
use es_core::backend::CheckpointWatch;
use es_core::projection::{CheckpointWaiter, ReconnectBackoff, WaitError};
use futures_util::future::select;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::connection::listener::Listener;
use crate::error::Error;
use crate::lease::identity::{RunnerKind, application_name};
use crate::projection::{PgPartition, checkpoint};
use crate::store::PgEventStore;

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
struct Source {
    store: PgEventStore,
    application_name: String,
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
    fn follow(self: &Arc<Self>, source: impl FnOnce() -> Source) {
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
    let store = &source.store;
    let channel = store.schema.checkpoint_channel();
    let listener = Listener::connect(&store.config, store.tls.clone(), channel, &source.application_name).await.ok()?;
    listener.listen().await.ok()?;
    Some(listener)
}

/// Reads the checkpoints of `watches` and publishes them; a projection with
/// no checkpoint yet is at the start.
async fn read(source: &Source, watches: &[CheckpointWatch]) -> Result<(), Error> {
    let store = &source.store;
    let client = store.client().await?;
    let names: Vec<&str> = watches.iter().map(CheckpointWatch::projection).collect();
    let mut states: HashMap<String, _> =
        checkpoint::states(&client, &store.schema, &names).await?.into_iter().collect();
    for watch in watches {
        watch.publish(states.remove(watch.projection()).unwrap_or_default());
    }
    Ok(())
}

impl PgEventStore {
    /// Keeps the checkpoints of this process current from the database.
    pub(crate) fn follow_checkpoints(&self) {
        self.feed.follow(|| Source {
            // The follower must not keep the feed alive: it holds a store
            // without one.
            store: PgEventStore { feed: Arc::default(), notifier: None, ..self.clone() },
            application_name: application_name(RunnerKind::Checkpoints, self.schema(), ""),
        });
    }

    /// A handle to wait until projection `projection` has committed a
    /// position, in any process that holds the store: the runner may run
    /// here, in another process, or nowhere yet. It is woken when a runner
    /// commits (a notification), and reads the checkpoints every 250 ms as
    /// a fallback. Call it within the Tokio runtime.
    pub fn checkpoint_waiter(&self, projection: &str) -> CheckpointWaiter {
        let waiter = self.feed.watch(projection).waiter();
        self.follow_checkpoints();
        waiter
    }

    /// Waits until projection `projection` has committed `position` (read
    /// your own writes: pass the position a command returned), failing
    /// with [`WaitError::Stopped`] as soon as the projection stops on an
    /// error before it, or with [`WaitError::Timeout`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn f(store: es_postgres::PgEventStore, position: es_core::Position) -> Result<(), Box<dyn std::error::Error>> {
    /// // In a web replica that does not run the projection itself:
    /// store.wait_for_projection("account_balances", position, Duration::from_secs(5)).await?;
    /// // ... now query the read model.
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_projection(
        &self,
        projection: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        self.checkpoint_waiter(projection).wait_for(position, timeout).await
    }

    /// Waits until every one of the `count` partitions of projection
    /// `projection` (see [`PgPartition`]) has committed `position`, like
    /// [`wait_for_projection`](Self::wait_for_projection) for one.
    pub async fn wait_for_partitions(
        &self,
        projection: &str,
        count: std::num::NonZeroU32,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let waits = PgPartition::all(count).map(|partition| {
            let waiter = self.checkpoint_waiter(&partition.projection_name(projection));
            async move { waiter.wait_for(position, timeout).await }
        });
        futures_util::future::try_join_all(waits).await.map(drop)
    }
}
