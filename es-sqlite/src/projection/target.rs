//! [`SqliteTarget`]: a SQLite file that holds read models and their
//! checkpoints.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use es_core::admin::{AdminError, AdminFuture, Location, ProjectionAdmin, ProjectionStatus};
use es_core::backend::poll_checkpoint;
use es_core::projection::{ParkedEvent, WaitError};
use es_core::{Position, StoreError};

use crate::database::{Database, Settings, Tables};
use crate::error::{Error, SqliteError};
use crate::projection::statements;
use crate::store::SqliteEventStore;

/// How often a wait reads the checkpoint when no commit of this process
/// woke it: the latency of a wait for a runner of another process.
pub const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A SQLite file that read models live in, with their checkpoints and
/// parked events: the event store's own file (projections exactly-once in
/// the same file, [`SqliteTarget::of`]) or another one, next to an edge
/// service, fed from any store.
///
/// Each runner writes on a connection of its own and commits each page
/// with its checkpoint in one transaction. Runners are not elected: the
/// checkpoint's compare-and-set in each page's transaction keeps a page
/// from being applied twice, so two runners of one projection (in two
/// processes) waste work but apply each event once. Run one per
/// projection.
#[derive(Debug, Clone)]
pub struct SqliteTarget {
    pub(crate) db: Arc<Database>,
}

impl SqliteTarget {
    /// Opens the target in the file at `path`, creating it and its tables
    /// (checkpoints, parked events) when missing.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        let opened =
            tokio::task::spawn_blocking(move || Database::open(Some(&path), &Settings::default(), Tables::ReadModels))
                .await;
        let db = opened.unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))?;
        Ok(SqliteTarget { db: Arc::new(db) })
    }

    /// The target in `store`'s own file, so that read models and events
    /// share one file. A store in memory has no file to share:
    /// [`SqliteError::Open`] says so.
    pub async fn of(store: &SqliteEventStore) -> Result<Self, SqliteError> {
        match store.path() {
            Some(path) => Self::open(path).await,
            None => Err(SqliteError::Open {
                path: ":memory:".into(),
                cause: rusqlite::Error::InvalidPath("an in-memory store has no file for read models to share".into()),
            }),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.db.path().unwrap_or(Path::new(":memory:"))
    }

    /// Waits until projection `projection` has committed `position` here,
    /// from any process: woken by this process's commits, and reading the
    /// checkpoint every [`WAIT_POLL_INTERVAL`] for other processes'.
    /// Fails with [`WaitError::Stopped`] as soon as the projection stopped
    /// on an error before it, with [`WaitError::Timeout`] after `timeout`.
    pub async fn wait_for_projection(
        &self,
        projection: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let read = || {
            let name = projection.to_owned();
            async { self.db.read(move |tx| statements::state(tx, &name)).await.ok().flatten() }
        };
        poll_checkpoint(projection, position, timeout, read, |left| self.db.next_commit(WAIT_POLL_INTERVAL.min(left)))
            .await
    }

    /// The events projection `projection` parked here, oldest first,
    /// discarded ones included.
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let name = projection.to_owned();
        Ok(self.db.read(move |tx| statements::parked(tx, &name, 0, None)).await?)
    }

    /// Runs `work` on the file's writing connection, in a transaction.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, AdminError> {
        let written = self.db.write(move |tx| work(tx)).await;
        self.db.committed();
        Ok(written.map_err(StoreError::from)?)
    }
}

impl ProjectionAdmin for SqliteTarget {
    fn location(&self) -> Location {
        Location { kind: "file", name: self.path().display().to_string() }
    }

    fn projections<'a>(&'a self, after: Option<&'a str>, limit: usize) -> AdminFuture<'a, Vec<ProjectionStatus>> {
        let after = after.map(str::to_owned);
        Box::pin(async move {
            Ok(self
                .db
                .read(move |tx| statements::projections(tx, after.as_deref(), limit))
                .await
                .map_err(StoreError::from)?)
        })
    }

    fn parked<'a>(&'a self, projection: &'a str, after: u64, limit: usize) -> AdminFuture<'a, Vec<ParkedEvent>> {
        let name = projection.to_owned();
        Box::pin(async move {
            Ok(self
                .db
                .read(move |tx| statements::parked(tx, &name, after, Some(limit)))
                .await
                .map_err(StoreError::from)?)
        })
    }

    fn discard_parked<'a>(&'a self, projection: &'a str, id: u64, reason: &'a str) -> AdminFuture<'a, ()> {
        let (name, why) = (projection.to_owned(), reason.to_owned());
        Box::pin(async move {
            match self.write(move |c| statements::discard(c, &name, id, &why)).await? {
                true => Ok(()),
                false => Err(AdminError::NotParked { projection: projection.to_owned(), id }),
            }
        })
    }

    /// Runners here are not elected, so none is known to hold a projection:
    /// stop the projection's runner before a reset.
    fn reset<'a>(&'a self, projection: &'a str) -> AdminFuture<'a, ()> {
        let name = projection.to_owned();
        Box::pin(async move {
            match self.write(move |c| statements::reset(c, &name)).await? {
                true => Ok(()),
                false => Err(AdminError::UnknownProjection { location: self.location(), name: projection.to_owned() }),
            }
        })
    }
}
