//! The PostgreSQL source of the projection engine: the store's global
//! order, of the aggregate types a projection reads, in one partition of
//! its streams or all of them.

use std::future::Future;

use es_core::backend::Source;
use es_core::{AggregateTypes, Page, Position, RecordedEvent, StoreError, StreamRange};
use tracing::Instrument as _;

use crate::projection::PgPartition;
use crate::store::{PgEventStore, read};

/// Where one runner reads.
#[derive(Debug, Clone)]
pub(crate) struct PgSource {
    pub(crate) store: PgEventStore,
    /// The streams it reads, when the projection is split.
    pub(crate) partition: Option<PgPartition>,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Source for PgSource {
    fn read(
        &self,
        after: Position,
        limit: usize,
        types: AggregateTypes,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + 'static {
        // A task of its own: decoding a page's rows then runs beside the
        // handler (on another worker thread) instead of taking turns with
        // it in the engine's task, where a page arriving at once held up
        // the handler's own I/O (a publisher's acknowledgments) until it
        // was decoded.
        let PgSource { store, partition } = self.clone();
        let read = async move {
            let client = store.client().await?;
            Ok::<_, StoreError>(read::filtered(&client, &store.schema, after, limit, &types, partition).await?)
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

    async fn count(&self, types: &AggregateTypes) -> Result<u64, StoreError> {
        let client = self.store.client().await?;
        Ok(read::count(&client, &self.store.schema, types, self.partition).await?)
    }

    async fn read_event(&self, stream_id: &str, version: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let range = StreamRange::after(version.saturating_sub(1)).up_to_version(version);
        let client = self.store.client().await?;
        Ok(read::stream(&client, &self.store.schema, stream_id, range).await?.into_iter().next())
    }
}
