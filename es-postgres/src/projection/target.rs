//! [`PgTarget`]: a PostgreSQL database (or schema) that holds read models
//! apart from the event store, exactly once.

use std::time::Duration;

use es_core::Position;
use es_core::projection::{CheckpointWaiter, ParkedEvent, WaitError};

use crate::error::PgError;
use crate::migrate;
use crate::store::{PgEventStore, PgEventStoreBuilder};

/// A database that read models live in, apart from the store they are
/// built from: a reporting database, another server, another schema.
///
/// A [`PgProjectionRunner`](crate::PgProjectionRunner) made with
/// [`with_target`](crate::PgProjectionRunner::with_target) reads the
/// store's events and commits each page's read-model writes with the
/// checkpoint in a transaction of the target, so that a crash never
/// applies an event twice or loses one, as when both live in the store's
/// database. The checkpoints and parked events live in the target's
/// schema, created by [`migrate`](Self::migrate); waits for a position read
/// them there.
///
/// The runner holds its election (an advisory lock) in the target too; it
/// only saves wasted work: the checkpoint's compare-and-set in each page's
/// transaction is what keeps a page from being applied twice, even by two
/// runners at once.
///
/// ```no_run
/// use es_postgres::{PgEventStore, PgTarget};
///
/// # async fn run() -> Result<(), es_postgres::PgError> {
/// let store = PgEventStore::connect("postgres://app@db/orders").await?;
/// let reporting = PgTarget::connect("postgres://app@reporting/analytics").await?;
/// reporting.migrate().await?; // its checkpoints, at startup
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgTarget {
    db: PgEventStore,
}

impl PgTarget {
    /// Connects to the database at `url` (as
    /// [`PgEventStore::builder_from_url`] reads it), keeping checkpoints in
    /// the schema `es`, and checks that it can be reached.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        let target = Self::from_builder(PgEventStore::builder_from_url(url)?)?;
        drop(target.db.connection().await?);
        Ok(target)
    }

    /// A target built as `builder` says: its connection, pool, TLS and the
    /// schema its checkpoints live in.
    pub fn from_builder(builder: PgEventStoreBuilder) -> Result<Self, PgError> {
        Ok(PgTarget { db: builder.notify_appends(false).build()? })
    }

    /// Creates the target's tables (checkpoints and parked events) in its
    /// schema, applying those it lacks; returns the migration versions
    /// applied. Safe from every process at startup. A store's own schema
    /// already holds them.
    pub async fn migrate(&self) -> Result<Vec<u32>, PgError> {
        let mut client = self.db.connection().await?;
        migrate::migrate(&mut client, &self.db.schema, migrate::Tables::ReadModels).await
    }

    /// The schema the checkpoints live in.
    pub fn schema(&self) -> &str {
        self.db.schema()
    }

    /// The connection pool, for the application's queries of its read
    /// models.
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        self.db.pool()
    }

    /// A handle to wait until projection `projection` has committed a
    /// position here, from any process (see
    /// [`PgEventStore::checkpoint_waiter`]).
    pub fn checkpoint_waiter(&self, projection: &str) -> CheckpointWaiter {
        self.db.checkpoint_waiter(projection)
    }

    /// Waits until projection `projection` has committed `position` here
    /// (see [`PgEventStore::wait_for_projection`]).
    pub async fn wait_for_projection(
        &self,
        projection: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        self.db.wait_for_projection(projection, position, timeout).await
    }

    /// The events projection `projection` parked here, oldest first.
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, es_core::StoreError> {
        self.db.parked_events(projection).await
    }

    /// The database, as the runner uses it.
    pub(crate) fn db(&self) -> &PgEventStore {
        &self.db
    }
}
