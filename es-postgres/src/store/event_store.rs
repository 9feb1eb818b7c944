//! The [`EventStore`] implementation: each method runs the component's
//! statement on a pooled connection, and its error becomes a
//! [`StoreError`] here.

use es_core::{
    AggregateTypes, Appended, EncodedEvent, EventStore, ExpectedVersion, Metadata, Page, Position, RecordedEvent,
    Snapshot, SnapshotAndEvents, StoreError, StreamRange,
};

use crate::store::append::{self, Append};
use crate::store::{PgEventStore, command, read, snapshot};

impl EventStore for PgEventStore {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let client = self.client().await?;
        let request =
            Append { aggregate_type, stream_id, expected, events, metadata, max_event_size: self.max_event_size };
        let appended = append::append(&client, &self.schema, request).await;
        // Projection runners are woken once the append has committed, by a
        // notification of the store's notifier: whatever the outcome, as a
        // failure may come after the commit.
        if let Some(notifier) = &self.notifier {
            notifier.appended();
        }
        Ok(appended?)
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.client().await?;
        Ok(read::stream(&client, &self.schema, stream_id, range).await?)
    }

    /// Only what folding needs: about half the bytes per row of
    /// `read_stream`, the fast path for loading aggregates.
    async fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let client = self.client().await?;
        Ok(read::stream_events(&client, &self.schema, aggregate_type, stream_id, range).await?)
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.client().await?;
        Ok(read::all(&client, &self.schema, after, limit).await?)
    }

    /// Filters in SQL: events of other aggregate types never leave the
    /// database.
    async fn read_types(&self, after: Position, limit: usize, categories: &AggregateTypes) -> Result<Page, StoreError> {
        let client = self.client().await?;
        Ok(read::filtered(&client, &self.schema, after, limit, categories, None).await?)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(read::count(&client, &self.schema, &AggregateTypes::All, None).await?)
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let client = self.client().await?;
        Ok(snapshot::save(&client, &self.schema, &snapshot).await?)
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let client = self.client().await?;
        Ok(snapshot::load(&client, &self.schema, stream_id).await?)
    }

    /// Both in one statement: a command on an aggregate with a snapshot
    /// costs one round trip to load.
    async fn read_snapshot_and_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
        schema_version: u32,
    ) -> Result<SnapshotAndEvents, StoreError> {
        let client = self.client().await?;
        Ok(read::snapshot_and_events(&client, &self.schema, aggregate_type, stream_id, range, schema_version).await?)
    }

    /// Looks the command up in the `commands` table, then reads its events.
    async fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        let client = self.client().await?;
        Ok(command::events(&client, &self.schema, stream_id, command_id).await?)
    }
}
