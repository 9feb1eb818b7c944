//! The PostgreSQL backend of the projection engine: units of work are
//! transactions on the runner's connection, checkpoint and parked events
//! live in the store's schema.

use std::future::Future;
use std::marker::PhantomData;

use deadpool_postgres::Object;
use es_core::backend::{Backend, Failed};
use es_core::projection::{Envelope, ParkedEvent};
use es_core::{AggregateTypes, BoxError, Page, Position, RecordedEvent, StoreError, StreamRange};
use tracing::Instrument as _;

use crate::connection::StatementCache;
use crate::error::{Error, is_outage};
use crate::lease::Lease;
use crate::projection::{PgPartition, PgProjection, PgTransaction, checkpoint, parked};
use crate::store::{PgEventStore, read};

/// The backend of one runner.
pub(crate) struct PgBackend<P> {
    pub(crate) store: PgEventStore,
    pub(crate) name: String,
    /// The streams it reads, when the projection is split.
    pub(crate) partition: Option<PgPartition>,
    /// The runner's hold on the projection.
    pub(crate) lease: Lease,
    /// A pooled connection for work that needs no lease (retrying a parked
    /// event).
    pub(crate) spare: Option<(Object, StatementCache)>,
    pub(crate) projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for PgBackend<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("store", &self.store)
            .field("name", &self.name)
            .field("holds_lease", &self.lease.session().is_some())
            .finish_non_exhaustive()
    }
}

/// A transaction of the runner, with what committing it needs.
pub(crate) struct PgUnit<'u> {
    tx: PgTransaction<'u>,
    store: &'u PgEventStore,
    name: &'u str,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<P: PgProjection> Backend for PgBackend<P> {
    const ATOMIC: bool = true;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = PgUnit<'u>;

    fn read(
        &self,
        after: Position,
        limit: usize,
        categories: AggregateTypes,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + 'static {
        // A task of its own: decoding a page's rows then runs beside the
        // handler (on another worker thread) instead of taking turns with
        // it in the engine's task, where a page arriving at once held up
        // the handler's own I/O (a publisher's acknowledgments) until it
        // was decoded.
        let (store, partition) = (self.store.clone(), self.partition);
        let read = async move {
            let client = store.client().await?;
            Ok::<_, StoreError>(read::filtered(&client, &store.schema, after, limit, &categories, partition).await?)
        };
        let read = tokio::spawn(read.in_current_span());
        // A read no longer awaited stops, and gives its connection back.
        let stop = AbortOnDrop(read.abort_handle());
        async move {
            let _stop = stop;
            match read.await {
                Ok(page) => page,
                Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
                Err(cancelled) => Err(StoreError::Unavailable(cancelled.into())),
            }
        }
    }

    async fn count(&self, categories: &AggregateTypes) -> Result<u64, StoreError> {
        let client = self.store.client().await?;
        Ok(read::count(&client, &self.store.schema, categories, self.partition).await?)
    }

    async fn read_event(&self, stream_id: &str, version: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let range = StreamRange::after(version.saturating_sub(1)).up_to_version(version);
        let client = self.store.client().await?;
        Ok(read::stream(&client, &self.store.schema, stream_id, range).await?.into_iter().next())
    }

    async fn parked(&self, id: u64) -> Result<Option<ParkedEvent>, StoreError> {
        let client = self.store.client().await?;
        Ok(parked::one(&client, &self.store.schema, &self.name, id).await?)
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        let (client, statements) = match self.lease.session_mut() {
            Some(session) => session.parts(),
            None => {
                let spare = match self.spare.take() {
                    Some(spare) => spare,
                    None => (self.store.client().await?, StatementCache::default()),
                };
                let (object, statements) = self.spare.insert(spare);
                (&mut ***object, &*statements)
            }
        };
        let tx = client.transaction().await.map_err(Error::from)?;
        Ok(PgUnit { tx: PgTransaction::new(tx, statements), store: &self.store, name: &self.name })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        projection.handle_batch(&unit.tx, events).await.map_err(|source| Failed { index: None, source })
    }

    async fn reset<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset(&unit.tx).await
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        Ok(parked::forget(&unit.tx, &unit.store.schema, unit.name).await?)
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        Ok(parked::park(&unit.tx, &unit.store.schema, unit.name, event, &error, attempts).await?)
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        Ok(parked::unpark(&unit.tx, &unit.store.schema, unit.name, id).await?)
    }

    fn is_outage(error: &BoxError) -> bool {
        is_outage(error.as_ref())
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        let client = self.store.client().await?;
        Ok(parked::failed_again(&client, &self.store.schema, &self.name, id, &error).await?)
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let mut revision = 0;
        if let Some((from, to)) = checkpoint {
            // Dropping the transaction uncommitted rolls it back.
            let Some(moved) = checkpoint::save(&unit.tx, &unit.store.schema, unit.name, from, to).await? else {
                return Ok(None);
            };
            revision = moved;
        }
        unit.tx.commit().await.map_err(Error::from)?;
        Ok(Some(revision))
    }
}
