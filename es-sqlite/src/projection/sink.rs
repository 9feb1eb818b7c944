//! The SQLite sink of the projection engine: a unit of work is a write
//! transaction on the runner's own connection to the target file, held
//! open across the calls of one page and run on the blocking pool.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use es_core::backend::{Failed, Sink, caused_by};
use es_core::projection::{Envelope, ParkedEvent};
use es_core::{BoxError, Position, RecordedEvent, StoreError};
use rusqlite::Connection;

use crate::database::blocking;
use crate::error::{Error, is_busy};
use crate::projection::{SqliteProjection, SqliteTarget, SqliteTransaction, statements};

/// A projection shared with the blocking pool, where its handlers run.
pub(crate) type Shared<P> = Arc<Mutex<P>>;

pub(crate) fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked is reported as the event's failure; the
    // projection's own state is the application's, as after any error.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A runner's own connection, and which unit of work's transaction is
/// open on it.
///
/// A unit's calls run on the blocking pool and go on when the runner is
/// dropped while waiting for one (a task abort): each call checks that its
/// unit's transaction is still the one open, so that a call left behind
/// never writes outside its transaction (a checkpoint moved without its
/// page) nor rolls back another unit's.
#[derive(Debug)]
pub(crate) struct RunnerConnection {
    connection: Connection,
    open: Option<u64>,
}

/// The ids of units of work, across runners.
static UNITS: AtomicU64 = AtomicU64::new(1);

/// The sink of one runner.
pub(crate) struct SqliteSink<P> {
    pub(crate) target: SqliteTarget,
    pub(crate) name: String,
    /// The runner's own connection, opened on first use.
    pub(crate) connection: Option<Arc<Mutex<RunnerConnection>>>,
    pub(crate) projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for SqliteSink<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSink")
            .field("target", &self.target.path())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<P> SqliteSink<P> {
    /// The runner's connection, opened the first time.
    pub(crate) async fn connection(&mut self) -> Result<Arc<Mutex<RunnerConnection>>, Error> {
        if let Some(connection) = &self.connection {
            return Ok(Arc::clone(connection));
        }
        let opened = self.target.db.own_connection().await?;
        let connection = opened.ok_or_else(|| Error::InvalidInput("a target needs a file".into()))?;
        let connection = Arc::new(Mutex::new(RunnerConnection { connection, open: None }));
        Ok(Arc::clone(self.connection.insert(connection)))
    }

    /// Runs `work` on the runner's connection outside any unit of work
    /// (after rolling back one left open), on the blocking pool.
    pub(crate) async fn run<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let connection = self.connection().await?;
        blocking(move || {
            let mut connection = lock(&connection);
            connection.roll_back();
            work(&connection.connection)
        })
        .await
    }
}

impl RunnerConnection {
    /// Rolls back the transaction left open, if any.
    fn roll_back(&mut self) {
        if self.open.take().is_some() || !self.connection.is_autocommit() {
            // A failed rollback leaves the transaction to the next unit's.
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

/// A transaction of the runner, open on its connection.
pub(crate) struct SqliteUnit<'u> {
    connection: Arc<Mutex<RunnerConnection>>,
    id: u64,
    target: &'u SqliteTarget,
    name: &'u str,
}

impl SqliteUnit<'_> {
    /// Runs `work` inside the unit's transaction, on the blocking pool;
    /// refused when the transaction is no longer the one open.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut RunnerConnection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (connection, id) = (Arc::clone(&self.connection), self.id);
        blocking(move || {
            let mut connection = lock(&connection);
            if connection.open != Some(id) {
                return Err(Error::Abandoned);
            }
            work(&mut connection)
        })
        .await
    }
}

/// A unit dropped uncommitted rolls back, so that the file's write lock is
/// not held past it: at once when its connection is free, else (a call of
/// it was abandoned) on the blocking pool after that call, if no other
/// unit's transaction is open by then.
impl Drop for SqliteUnit<'_> {
    fn drop(&mut self) {
        let id = self.id;
        let roll_back = move |connection: &mut RunnerConnection| {
            if connection.open == Some(id) {
                connection.roll_back();
            }
        };
        match self.connection.try_lock() {
            Ok(mut connection) => roll_back(&mut connection),
            Err(_) => {
                let connection = Arc::clone(&self.connection);
                drop(tokio::task::spawn_blocking(move || roll_back(&mut lock(&connection))));
            }
        }
    }
}

/// Clones of the decoded events and their envelopes, to hand to the
/// blocking pool.
fn owned<E: Clone>(events: &[Envelope<'_, E>]) -> Vec<(E, RecordedEvent)> {
    events.iter().map(|e| (e.event.clone(), e.recorded.clone())).collect()
}

fn failed(error: Error) -> BoxError {
    Box::new(StoreError::from(error))
}

/// Runs `work` of the projection (its setup or reset) in `unit`.
async fn on_read_model<P: SqliteProjection>(
    projection: &Shared<P>,
    unit: &SqliteUnit<'_>,
    work: fn(&mut P, &SqliteTransaction<'_>) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let projection = Arc::clone(projection);
    let done =
        unit.run(move |c| work(&mut lock(&projection), &SqliteTransaction(&c.connection)).map_err(Error::Handler));
    match done.await {
        Ok(()) => Ok(()),
        Err(Error::Handler(source)) => Err(source),
        Err(other) => Err(failed(other)),
    }
}

impl<P: SqliteProjection> Sink for SqliteSink<P> {
    const ATOMIC: bool = true;

    type Projection = Shared<P>;
    type Event = P::Event;
    type Unit<'u> = SqliteUnit<'u>;

    async fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedEvent>, StoreError> {
        let name = self.name.clone();
        Ok(self.target.db.read(move |tx| statements::parked(tx, &name, after, Some(limit))).await?)
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        let connection = self.connection().await?;
        let (begun, id) = (Arc::clone(&connection), UNITS.fetch_add(1, Ordering::Relaxed));
        blocking(move || {
            let mut connection = lock(&begun);
            connection.roll_back();
            connection.connection.execute_batch("BEGIN IMMEDIATE")?;
            connection.open = Some(id);
            Ok(())
        })
        .await?;
        Ok(SqliteUnit { connection, id, target: &self.target, name: &self.name })
    }

    async fn handle<'a>(
        projection: &'a mut Shared<P>,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        let (projection, events) = (Arc::clone(projection), owned(events));
        let handled = unit
            .run(move |c| {
                let envelopes: Vec<Envelope<'_, P::Event>> =
                    events.iter().map(|(event, recorded)| Envelope { event, recorded }).collect();
                lock(&projection).handle_batch(&SqliteTransaction(&c.connection), &envelopes).map_err(Error::Handler)
            })
            .await;
        match handled {
            Ok(()) => Ok(()),
            Err(Error::Handler(source)) => Err(Failed { index: None, source }),
            Err(other) => Err(Failed { index: None, source: failed(other) }),
        }
    }

    async fn setup<'a>(projection: &'a mut Shared<P>, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        on_read_model(projection, unit, P::setup).await
    }

    async fn reset<'a>(projection: &'a mut Shared<P>, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        on_read_model(projection, unit, P::reset).await
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        let name = unit.name.to_owned();
        Ok(unit.run(move |c| statements::forget(&c.connection, &name)).await?)
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let (name, event) = (unit.name.to_owned(), event.clone());
        Ok(unit.run(move |c| statements::park(&c.connection, &name, &event, &error, attempts)).await?)
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        let name = unit.name.to_owned();
        Ok(unit.run(move |c| statements::unpark(&c.connection, &name, id)).await?)
    }

    fn is_outage(error: &BoxError) -> bool {
        caused_by(error.as_ref(), is_busy)
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        let name = self.name.clone();
        let noted = self.target.db.write(move |tx| statements::failed_again(tx, &name, id, &error)).await;
        Ok(noted?)
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let name = unit.name.to_owned();
        let committed = unit
            .run(move |c| {
                let mut revision = Some(0);
                if let Some((from, to)) = checkpoint {
                    revision = statements::save(&c.connection, &name, from, to)?;
                }
                match revision {
                    Some(_) => c.connection.execute_batch("COMMIT")?,
                    None => c.connection.execute_batch("ROLLBACK")?,
                }
                c.open = None;
                Ok(revision)
            })
            .await?;
        unit.target.db.committed();
        Ok(committed)
    }
}
