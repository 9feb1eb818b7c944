//! The [`EventStore`] implementation: each method checks what it is given,
//! runs its statements in one transaction on the blocking pool, and its
//! error becomes a [`StoreError`] here.

use es_core::{
    AggregateTypes, Appended, EncodedEvent, EventStore, ExpectedVersion, Metadata, Page, Position, RecordedEvent,
    Snapshot, SnapshotAndEvents, StoreError, StreamRange,
};

use crate::store::append::Append;
use crate::store::{SqliteEventStore, read};

impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let append = Append {
            aggregate_type: aggregate_type.to_owned(),
            stream_id: stream_id.to_owned(),
            expected,
            events,
            metadata: metadata.clone(),
        };
        append.validate(self.db.settings.max_event_size)?;
        let appended = self.db.write(move |tx| append.run(tx)).await?;
        self.db.committed();
        Ok(appended)
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream_id = stream_id.to_owned();
        Ok(self.db.read(move |tx| read::stream(tx, &stream_id, range)).await?)
    }

    async fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let (aggregate_type, stream_id) = (aggregate_type.to_owned(), stream_id.to_owned());
        Ok(self.db.read(move |tx| read::stream_events(tx, &aggregate_type, &stream_id, range)).await?)
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(self.db.read(move |tx| read::all(tx, after, limit)).await?)
    }

    /// Filters in SQL, on the (aggregate type, position) index.
    async fn read_types(&self, after: Position, limit: usize, types: &AggregateTypes) -> Result<Page, StoreError> {
        let types = types.clone();
        Ok(self.db.read(move |tx| read::types(tx, after, limit, &types)).await?)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(self.db.read(|tx| read::count(tx, &AggregateTypes::All)).await?)
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        read::validate_snapshot(&snapshot)?;
        Ok(self.db.write(move |tx| read::save_snapshot(tx, &snapshot)).await?)
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let stream_id = stream_id.to_owned();
        Ok(self.db.read(move |tx| read::load_snapshot(tx, &stream_id)).await?)
    }

    /// Both in one snapshot of the file, in one call.
    async fn read_snapshot_and_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
        schema_version: u32,
    ) -> Result<SnapshotAndEvents, StoreError> {
        let (aggregate_type, stream_id) = (aggregate_type.to_owned(), stream_id.to_owned());
        let read = move |tx: &rusqlite::Transaction<'_>| {
            read::snapshot_and_events(tx, &aggregate_type, &stream_id, range, schema_version)
        };
        Ok(self.db.read(read).await?)
    }

    /// Looks the command up in the `commands` table, then reads its events.
    async fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        let (stream_id, command_id) = (stream_id.to_owned(), command_id.to_owned());
        Ok(self.db.read(move |tx| read::command_events(tx, &stream_id, &command_id)).await?)
    }
}
