//! An event store in process memory, for examples and unit tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::envelope::{Metadata, Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::expected_version::ExpectedVersion;
use crate::payload::{check_event, check_payload};
use crate::store::validate_stream_id;
use crate::store::{Appended, EventStore, Snapshot, StreamRange, check_aggregate_type};

/// A complete [`EventStore`] held in memory and shared by cloning.
///
/// Appends are atomic and serialized, so the global order is the commit
/// order. Nothing survives the process.
///
/// ```
/// use es_core::{EncodedEvent, EventStore, ExpectedVersion, InMemoryEventStore, Metadata, StreamRange};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), es_core::StoreError> {
/// let store = InMemoryEventStore::new();
/// let event = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: serde_json::json!({}).into() };
/// store.append("account", "acc-1", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await?;
/// let events = store.read_stream("acc-1", StreamRange::all()).await?;
/// assert_eq!(events[0].version, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryEventStore {
    inner: Arc<Mutex<Inner>>,
    max_event_size: usize,
}

impl Default for InMemoryEventStore {
    fn default() -> Self {
        InMemoryEventStore { inner: Arc::default(), max_event_size: crate::DEFAULT_MAX_EVENT_SIZE }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Every event in global order.
    log: Vec<RecordedEvent>,
    /// Indexes into `log` of each stream's events, in version order.
    streams: HashMap<String, Vec<usize>>,
    snapshots: HashMap<String, Snapshot>,
    commits: u64,
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses events whose payload is over `bytes` (default
    /// [`DEFAULT_MAX_EVENT_SIZE`](crate::DEFAULT_MAX_EVENT_SIZE)) with
    /// [`StoreError::EventTooLarge`].
    pub fn with_max_event_size(self, bytes: usize) -> Self {
        InMemoryEventStore { max_event_size: bytes, ..self }
    }

    /// Runs `read` on every event in global order and the streams' event
    /// indexes, under the store's lock.
    pub(crate) fn inspect<T>(&self, read: impl FnOnce(&[RecordedEvent], &HashMap<String, Vec<usize>>) -> T) -> T {
        let inner = self.lock();
        read(&inner.log, &inner.streams)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-written:
        // every mutation happens after all checks, so the data stays valid.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EventStore for InMemoryEventStore {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        validate_stream_id(stream_id)?;
        for event in &events {
            check_event(event, stream_id, self.max_event_size)?;
        }
        let mut inner = self.lock();
        let actual = inner.streams.get(stream_id).map_or(0, |s| s.len() as u64);
        if let Some(&first) = inner.streams.get(stream_id).and_then(|s| s.first()) {
            check_aggregate_type(aggregate_type, stream_id, &inner.log[first].aggregate_type)?;
        }
        if let Some(command_id) = metadata.command_id.as_ref().filter(|_| !events.is_empty()) {
            let committed = inner.log.iter().find(|e| e.metadata.command_id.as_ref() == Some(command_id));
            let (stream_id, command_id) = (stream_id.to_owned(), command_id.clone());
            match committed {
                Some(e) if e.stream_id == stream_id => {
                    return Err(StoreError::DuplicateCommand { stream_id, command_id });
                }
                Some(e) => {
                    let committed_on = e.stream_id.clone();
                    return Err(StoreError::CommandIdTaken { stream_id, command_id, committed_on });
                }
                None => {}
            }
        }
        if !expected.admits(actual) {
            return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
        }
        if events.is_empty() {
            return Ok(Appended { stream_version: actual, events: Vec::new() });
        }
        inner.commits += 1;
        let commit = inner.commits;
        let recorded_at = SystemTime::now();
        let first_index = inner.log.len();
        let recorded: Vec<RecordedEvent> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| RecordedEvent {
                aggregate_type: aggregate_type.to_owned(),
                stream_id: stream_id.to_owned(),
                version: actual + 1 + i as u64,
                position: Position::new(commit, (first_index + i + 1) as u64),
                recorded_at,
                event,
                metadata: metadata.clone(),
            })
            .collect();
        let count = recorded.len();
        inner.log.extend(recorded.iter().cloned());
        inner.streams.entry(stream_id.to_owned()).or_default().extend(first_index..first_index + count);
        Ok(Appended { stream_version: actual + count as u64, events: recorded })
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        validate_stream_id(stream_id)?;
        let inner = self.lock();
        let Some(indexes) = inner.streams.get(stream_id) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(range.after_version).unwrap_or(usize::MAX);
        Ok(indexes
            .iter()
            .skip(skip)
            .map(|&i| &inner.log[i])
            .take_while(|e| range.admits(e.version, e.recorded_at))
            .cloned()
            .collect())
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = self.lock();
        let start = inner.log.partition_point(|e| e.position <= after);
        Ok(inner.log[start..].iter().take(limit).cloned().collect())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        validate_stream_id(&snapshot.stream_id)?;
        check_payload(&snapshot.state, "a snapshot's state")?;
        let mut inner = self.lock();
        if let Some(&first) = inner.streams.get(&snapshot.stream_id).and_then(|s| s.first()) {
            check_aggregate_type(&snapshot.aggregate_type, &snapshot.stream_id, &inner.log[first].aggregate_type)?;
        }
        let newer = inner.snapshots.get(&snapshot.stream_id).is_none_or(|old| old.version <= snapshot.version);
        if newer {
            inner.snapshots.insert(snapshot.stream_id.clone(), snapshot);
        }
        Ok(())
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        validate_stream_id(stream_id)?;
        Ok(self.lock().snapshots.get(stream_id).cloned())
    }
}
