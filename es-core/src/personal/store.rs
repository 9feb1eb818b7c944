//! [`PersonalDataStore`]: any event store, with personal values sealed
//! where events and snapshots are written and opened where they are read.

use std::collections::BTreeSet;

use serde_json::Value;

use super::keys::SubjectKeys;
use super::seal;
use super::value::TAG;
use crate::envelope::{Metadata, Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::expected_version::ExpectedVersion;
use crate::payload::Payload;
use crate::store::{AggregateTypes, Appended, EventStore, Page, Snapshot, StreamRange};

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
    async fn seal(&self, docs: Vec<&mut Payload>, stream_id: &str) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::InvalidInput {
            reason: format!("cannot seal the personal data written to stream `{stream_id}`: {reason}"),
        };
        let mut parsed = Vec::new();
        for doc in docs {
            if let Some(value) = personal_values(doc).map_err(|e| invalid(e.to_string()))? {
                parsed.push((doc, value));
            }
        }
        let mut subjects = BTreeSet::new();
        for (_, value) in &mut parsed {
            seal::subjects(value, false, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys.keys_or_create(&subjects.into_iter().collect::<Vec<_>>()).await?;
        for (doc, mut value) in parsed {
            seal::seal(&mut value, &keys).map_err(invalid)?;
            *doc = Payload::from(value);
        }
        Ok(())
    }

    /// Opens the sealed values of `docs` whose keys exist.
    async fn open<'a>(
        &self,
        docs: impl IntoIterator<Item = (&'a mut Payload, &'a str, u64)>,
    ) -> Result<(), StoreError> {
        let mut parsed = Vec::new();
        for (doc, stream_id, version) in docs {
            let corrupt = move |cause: String| StoreError::Corrupt { stream_id: stream_id.to_owned(), version, cause };
            if let Some(value) = personal_values(doc).map_err(|e| corrupt(e.to_string()))? {
                parsed.push((doc, value, corrupt));
            }
        }
        let mut subjects = BTreeSet::new();
        for (_, value, _) in &mut parsed {
            seal::subjects(value, true, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys.keys(&subjects.into_iter().collect::<Vec<_>>()).await?;
        for (doc, mut value, corrupt) in parsed {
            seal::open(&mut value, &keys).map_err(corrupt)?;
            *doc = Payload::from(value);
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

    async fn read_types(&self, after: Position, limit: usize, categories: &AggregateTypes) -> Result<Page, StoreError> {
        let page = self.store.read_types(after, limit, categories).await?;
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

/// `doc` parsed, when its text may hold a personal value: the others are
/// left as they are, unparsed. The tag's name is looked for without its
/// `$`, which JSON text may write escaped.
fn personal_values(doc: &Payload) -> Result<Option<Value>, serde_json::Error> {
    if !doc.as_str().contains(&TAG[1..]) {
        return Ok(None);
    }
    doc.to_value().map(Some)
}
