//! Appending inside a transaction the caller holds, so that events and the
//! caller's own tables commit together.

use es_core::{
    AggregateTypes, Appended, EncodedEvent, EventStore, ExpectedVersion, Metadata, Page, Position, RecordedEvent,
    Snapshot, SnapshotAndEvents, StoreError, StreamRange,
};
use tokio_postgres::Transaction;

use crate::store::append::{self, Append};
use crate::store::{PgEventStore, command, read, snapshot};

impl PgEventStore {
    /// Appends `events` inside `tx`, a transaction the caller holds: they
    /// commit with whatever else `tx` writes, or not at all.
    ///
    /// The guarantees are [`append`](EventStore::append)'s: the expected
    /// version is checked in the same statement, and a lost race is
    /// [`StoreError::Conflict`]. The append runs under a savepoint, so a
    /// conflict leaves `tx` usable (to retry, or to write something else).
    /// Projection runners are notified when `tx` commits.
    ///
    /// **Make the append the last write of `tx`, and commit soon after.**
    /// The events' place in the global order is taken from `tx`'s
    /// transaction id, assigned at its first write; readers of the global
    /// order wait for every transaction that started writing before, so
    /// the longer `tx` runs after its first write, the longer all
    /// projections wait (they never miss an event).
    ///
    /// A [`deadpool_postgres::Transaction`] of
    /// [`PgEventStore::connection`] works too: pass `&*tx`.
    ///
    /// ```no_run
    /// use es_core::{EncodedEvent, ExpectedVersion, Metadata};
    /// use es_postgres::PgEventStore;
    ///
    /// # async fn run(store: PgEventStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut client = store.connection().await?;
    /// let tx = client.transaction().await?;
    /// tx.execute("UPDATE customers SET tier = 'gold' WHERE id = $1", &[&"c-1"]).await?;
    /// let upgraded = EncodedEvent { name: "Upgraded".into(), schema_version: 1, payload: serde_json::json!({}).into() };
    /// store.append_in(&tx, "customer", "c-1", ExpectedVersion::Any, vec![upgraded], &Metadata::default()).await?;
    /// tx.commit().await?; // the row and the event, together
    /// # Ok(())
    /// # }
    /// ```
    pub async fn append_in(
        &self,
        tx: &Transaction<'_>,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let request =
            Append { aggregate_type, stream_id, expected, events, metadata, max_event_size: self.max_event_size };
        Ok(append::append(tx, &self.schema, request).await?)
    }

    /// The store as seen from inside `tx`, for an
    /// [`es_core::Repository`] whose commands commit with `tx`.
    ///
    /// Streams are read and appended to inside `tx` (a command sees what
    /// `tx` wrote before), with [`append_in`](Self::append_in)'s
    /// guarantees and advice: run the command last in `tx`. Snapshots are
    /// loaded from the store but not saved from inside a transaction,
    /// since `tx` may still roll back; a later command outside one saves
    /// them. Every read, the global order's included, runs inside `tx`,
    /// so it sees what `tx` wrote.
    ///
    /// ```no_run
    /// # use es_core::{Aggregate, Repository};
    /// # use es_postgres::PgEventStore;
    /// # async fn run<A: Aggregate>(store: PgEventStore) -> Result<(), Box<dyn std::error::Error>>
    /// # where A::Event: Clone {
    /// let mut client = store.connection().await?;
    /// let tx = client.transaction().await?;
    /// let accounts = Repository::<A, _>::new(store.in_transaction(&tx));
    /// // ... the caller's own writes in `tx`, then `accounts.execute(...)` ...
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn in_transaction<'t>(&self, tx: &'t Transaction<'t>) -> PgStoreInTransaction<'t> {
        PgStoreInTransaction { store: self.clone(), tx }
    }
}

/// A [`PgEventStore`] seen from inside a transaction the caller holds; see
/// [`PgEventStore::in_transaction`].
pub struct PgStoreInTransaction<'t> {
    store: PgEventStore,
    tx: &'t Transaction<'t>,
}

impl std::fmt::Debug for PgStoreInTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStoreInTransaction").field("store", &self.store).finish_non_exhaustive()
    }
}

impl EventStore for PgStoreInTransaction<'_> {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        self.store.append_in(self.tx, aggregate_type, stream_id, expected, events, metadata).await
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(read::stream(self.tx, &self.store.schema, stream_id, range).await?)
    }

    async fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        Ok(read::stream_events(self.tx, &self.store.schema, aggregate_type, stream_id, range).await?)
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(read::all(self.tx, &self.store.schema, after, limit).await?)
    }

    async fn read_types(&self, after: Position, limit: usize, categories: &AggregateTypes) -> Result<Page, StoreError> {
        Ok(read::filtered(self.tx, &self.store.schema, after, limit, categories, None).await?)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(read::count(self.tx, &self.store.schema, &AggregateTypes::All, None).await?)
    }

    /// Does nothing: the transaction may still roll back.
    async fn save_snapshot(&self, _snapshot: Snapshot) -> Result<(), StoreError> {
        Ok(())
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(snapshot::load(self.tx, &self.store.schema, stream_id).await?)
    }

    async fn read_snapshot_and_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
        schema_version: u32,
    ) -> Result<SnapshotAndEvents, StoreError> {
        let schema = &self.store.schema;
        Ok(read::snapshot_and_events(self.tx, schema, aggregate_type, stream_id, range, schema_version).await?)
    }

    async fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        Ok(command::events(self.tx, &self.store.schema, stream_id, command_id).await?)
    }
}
