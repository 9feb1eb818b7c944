//! The PostgreSQL sink of the projection engine: units of work are
//! transactions on the runner's connection to the database the read model
//! lives in (the store's own, or a target), where the checkpoint and the
//! parked events live too.

use std::marker::PhantomData;

use deadpool_postgres::Object;
use es_core::backend::{Failed, Sink};
use es_core::projection::{Envelope, ParkedEvent};
use es_core::{BoxError, Position, RecordedEvent, StoreError};

use crate::connection::StatementCache;
use crate::error::{Error, is_outage, of_projection};
use crate::lease::Lease;
use crate::projection::{PgProjection, PgTransaction, checkpoint, parked};
use crate::store::PgEventStore;

/// Takes the advisory lock every projection's setup runs under, database
/// wide, until the transaction ends.
const SETUP_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('es-postgres projection setup', 0))";

/// The sink of one runner.
pub(crate) struct PgSink<P> {
    /// The database and schema the read model, checkpoint and parked
    /// events live in.
    pub(crate) db: PgEventStore,
    pub(crate) name: String,
    /// The runner's hold on the projection, in that database.
    pub(crate) lease: Lease,
    /// A pooled connection for work that needs no lease (retrying a parked
    /// event).
    pub(crate) spare: Option<(Object, StatementCache)>,
    pub(crate) projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for PgSink<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("db", &self.db)
            .field("name", &self.name)
            .field("holds_lease", &self.lease.session().is_some())
            .finish_non_exhaustive()
    }
}

/// A transaction of the runner, with what committing it needs.
pub(crate) struct PgUnit<'u> {
    tx: PgTransaction<'u>,
    db: &'u PgEventStore,
    name: &'u str,
}

impl<P: PgProjection> Sink for PgSink<P> {
    const ATOMIC: bool = true;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = PgUnit<'u>;

    async fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedEvent>, StoreError> {
        let client = self.db.client().await?;
        Ok(parked::list(&client, &self.db.schema, &self.name, after, Some(limit)).await?)
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        let (client, statements) = match self.lease.session_mut() {
            Some(session) => session.parts(),
            None => {
                let spare = match self.spare.take() {
                    Some(spare) => spare,
                    None => (self.db.client().await?, StatementCache::default()),
                };
                let (object, statements) = self.spare.insert(spare);
                (&mut ***object, &*statements)
            }
        };
        let tx = client.transaction().await.map_err(Error::from)?;
        Ok(PgUnit { tx: PgTransaction::new(tx, statements), db: &self.db, name: &self.name })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        let handled = projection.handle_batch(&unit.tx, events).await;
        handled.map_err(|source| Failed { index: None, source: of_projection(source) })
    }

    async fn reset<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset(&unit.tx).await.map_err(of_projection)
    }

    /// Runs the projection's setup after taking the database's setup lock
    /// for the transaction: setups of any projection, from any process,
    /// run one at a time, so that `CREATE … IF NOT EXISTS` statements of
    /// processes starting together do not race.
    async fn setup<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        unit.tx.batch_execute(SETUP_LOCK).await?;
        projection.setup(&unit.tx).await.map_err(of_projection)
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        Ok(parked::forget(&unit.tx, &unit.db.schema, unit.name).await?)
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        Ok(parked::park(&unit.tx, &unit.db.schema, unit.name, event, &error, attempts).await?)
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        Ok(parked::unpark(&unit.tx, &unit.db.schema, unit.name, id).await?)
    }

    fn is_outage(error: &BoxError) -> bool {
        is_outage(error.as_ref())
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        Ok(parked::failed_again(&client, &self.db.schema, &self.name, id, &error).await?)
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let mut revision = 0;
        if let Some((from, to)) = checkpoint {
            // Dropping the transaction uncommitted rolls it back.
            let Some(moved) = checkpoint::save(&unit.tx, &unit.db.schema, unit.name, from, to).await? else {
                return Ok(None);
            };
            revision = moved;
        }
        unit.tx.commit().await.map_err(Error::from)?;
        Ok(Some(revision))
    }
}
