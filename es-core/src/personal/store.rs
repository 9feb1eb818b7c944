//! [`PersonalDataStore`]: any event store, with personal values sealed
//! where events and snapshots are written and opened where they are read.

use std::collections::BTreeSet;

use serde_json::Value;

use super::keys::SubjectKeys;
use super::seal;
use crate::envelope::{Metadata, Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::store::{Appended, Categories, EventStore, ExpectedVersion, Page, Snapshot, StreamRange};

/// Wraps an [`EventStore`]: every [`Personal`](super::Personal) value in
/// the events it appends and the snapshots it saves is encrypted with its
/// subject's key from `K`, and decrypted again on every read. Use it
/// wherever the wrapped store would be used, most often in a
/// [`Repository`](crate::Repository).
#[derive(Debug, Clone)]
pub struct PersonalDataStore<S, K> {
    store: S,
    keys: K,
}

impl<S: EventStore, K: SubjectKeys> PersonalDataStore<S, K> {
    /// `store`, with the subjects' keys kept in `keys`.
    pub fn new(store: S, keys: K) -> Self {
        PersonalDataStore { store, keys }
    }

    /// The wrapped store, which holds the sealed values.
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// Where the keys live.
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// Forgets `subject`: deletes its key, so that its values read as
    /// forgotten from now on. No event or snapshot changes. Returns whether
    /// the subject had a key.
    pub async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        self.keys.forget(subject).await
    }

    /// Seals the open values of `docs`, written to `stream_id` (named in
    /// errors).
    async fn seal(&self, mut docs: Vec<&mut Value>, stream_id: &str) -> Result<(), StoreError> {
        let mut subjects = BTreeSet::new();
        for doc in &mut docs {
            seal::subjects(doc, false, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys.keys_or_create(&subjects.into_iter().collect::<Vec<_>>()).await?;
        for doc in docs {
            seal::seal(doc, &keys).map_err(|reason| StoreError::InvalidInput {
                reason: format!("cannot seal the personal data written to stream `{stream_id}`: {reason}"),
            })?;
        }
        Ok(())
    }

    /// Opens the sealed values of `docs` whose keys exist.
    async fn open<'a>(&self, docs: impl IntoIterator<Item = (&'a mut Value, &'a str, u64)>) -> Result<(), StoreError> {
        let mut docs: Vec<_> = docs.into_iter().collect();
        let mut subjects = BTreeSet::new();
        for (doc, _, _) in &mut docs {
            seal::subjects(doc, true, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys.keys(&subjects.into_iter().collect::<Vec<_>>()).await?;
        for (doc, stream_id, version) in docs {
            seal::open(doc, &keys).map_err(|cause| StoreError::Corrupt {
                stream_id: stream_id.to_owned(),
                version,
                cause,
            })?;
        }
        Ok(())
    }

    async fn open_recorded(&self, mut events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>, StoreError> {
        self.open(events.iter_mut().map(|e| (&mut e.event.payload, e.stream_id.as_str(), e.version))).await?;
        Ok(events)
    }
}

impl<S: EventStore, K: SubjectKeys> EventStore for PersonalDataStore<S, K> {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let mut sealed = events.clone();
        self.seal(sealed.iter_mut().map(|e| &mut e.payload).collect(), stream_id).await?;
        let mut appended = self.store.append(aggregate_type, stream_id, expected, sealed, metadata).await?;
        // The caller gets back what it gave, not the ciphertext.
        for (recorded, open) in appended.events.iter_mut().zip(events) {
            recorded.event = open;
        }
        Ok(appended)
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        self.open_recorded(self.store.read_stream(stream_id, range).await?).await
    }

    async fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let mut events = self.store.read_stream_events(aggregate_type, stream_id, range).await?;
        self.open(events.iter_mut().map(|(version, e)| (&mut e.payload, stream_id, *version))).await?;
        Ok(events)
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.open_recorded(self.store.read_all(after, limit).await?).await
    }

    async fn read_categories(
        &self,
        after: Position,
        limit: usize,
        categories: &Categories,
    ) -> Result<Page, StoreError> {
        let page = self.store.read_categories(after, limit, categories).await?;
        Ok(Page { events: self.open_recorded(page.events).await?, through: page.through })
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.store.count().await
    }

    async fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        match self.store.command_events(stream_id, command_id).await? {
            Some(events) => Ok(Some(self.open_recorded(events).await?)),
            None => Ok(None),
        }
    }

    async fn save_snapshot(&self, mut snapshot: Snapshot) -> Result<(), StoreError> {
        self.seal(vec![&mut snapshot.state], &snapshot.stream_id).await?;
        self.store.save_snapshot(snapshot).await
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let Some(mut snapshot) = self.store.load_snapshot(stream_id).await? else { return Ok(None) };
        self.open([(&mut snapshot.state, snapshot.stream_id.as_str(), snapshot.version)]).await?;
        Ok(Some(snapshot))
    }
}
