//! The storage contract every backend implements.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use crate::envelope::{Metadata, Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::expected_version::ExpectedVersion;
use crate::payload::Payload;
use crate::stream_id;

/// Which events of one stream to read.
///
/// ```
/// use es_core::StreamRange;
///
/// let all = StreamRange::all();
/// let tail = StreamRange::after(100);
/// let history = StreamRange::all().up_to_version(42);
/// assert!(history.admits(42, std::time::SystemTime::now()));
/// assert!(!tail.admits(100, std::time::SystemTime::now()));
/// # let _ = all;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamRange {
    /// Only events with a version greater than this.
    pub after_version: u64,
    /// Only events with a version up to and including this.
    pub up_to_version: Option<u64>,
    /// Only events recorded at or before this instant.
    pub up_to_time: Option<SystemTime>,
}

impl StreamRange {
    /// The whole stream.
    pub fn all() -> Self {
        StreamRange::default()
    }

    /// The events after `version`.
    pub fn after(version: u64) -> Self {
        StreamRange { after_version: version, ..StreamRange::default() }
    }

    /// Stops at `version`, inclusive.
    pub fn up_to_version(self, version: u64) -> Self {
        StreamRange { up_to_version: Some(version), ..self }
    }

    /// Stops at the last event recorded at or before `time`.
    pub fn up_to_time(self, time: SystemTime) -> Self {
        StreamRange { up_to_time: Some(time), ..self }
    }

    /// Whether an event at `version` recorded at `recorded_at` is in range.
    pub fn admits(&self, version: u64, recorded_at: SystemTime) -> bool {
        version > self.after_version
            && self.up_to_version.is_none_or(|v| version <= v)
            && self.up_to_time.is_none_or(|t| recorded_at <= t)
    }
}

/// Which aggregate typeies a reader of the global order reads.
///
/// ```
/// use es_core::AggregateTypes;
///
/// let accounts = AggregateTypes::only(["account"]);
/// assert!(accounts.admits("account") && !accounts.admits("cart"));
/// assert!(AggregateTypes::All.admits("cart"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AggregateTypes {
    /// Every aggregate type.
    #[default]
    All,
    /// Only these aggregate types.
    Only(Vec<String>),
}

impl AggregateTypes {
    /// Only the aggregate types `names`.
    pub fn only<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        AggregateTypes::Only(names.into_iter().map(Into::into).collect())
    }

    /// Whether events of `aggregate_type` are read.
    pub fn admits(&self, aggregate_type: &str) -> bool {
        match self {
            AggregateTypes::All => true,
            AggregateTypes::Only(names) => names.iter().any(|n| n == aggregate_type),
        }
    }
}

/// A page of the global order, as read by
/// [`EventStore::read_types`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// The events read, in global order.
    pub events: Vec<RecordedEvent>,
    /// How far the store looked: every event of the aggregate types up to this
    /// position is in `events` or was before the page. Reading on from here
    /// skips nothing; it can be past the last event of `events` when events
    /// of other aggregate types follow it.
    pub through: Position,
}

/// A saved state of one aggregate instance at a stream version.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The aggregate type.
    pub aggregate_type: String,
    /// The stream the state was folded from.
    pub stream_id: String,
    /// The version of the last event folded into the state.
    pub version: u64,
    /// The schema version of the serialized state.
    pub schema_version: u32,
    /// The state type's fingerprint
    /// ([`Aggregate::SNAPSHOT_FINGERPRINT`](crate::Aggregate::SNAPSHOT_FINGERPRINT))
    /// when it was written.
    pub fingerprint: u64,
    /// The serialized state.
    pub state: Payload,
}

/// A stream's snapshot and the events that follow it, as read by
/// [`EventStore::read_snapshot_and_events`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotAndEvents {
    /// The stream's snapshot, if it has one within the range read (at any
    /// schema version).
    pub snapshot: Option<Snapshot>,
    /// The events of the range, in version order: those after the
    /// snapshot when it has the schema version asked for, all of them
    /// otherwise.
    pub events: Vec<(u64, EncodedEvent)>,
}

/// The outcome of a successful append.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The stream's version after the append.
    pub stream_version: u64,
    /// The events as recorded, with their versions and positions.
    pub events: Vec<RecordedEvent>,
}

impl Appended {
    /// The global position of the last appended event, if any was appended.
    pub fn position(&self) -> Option<Position> {
        self.events.last().map(|e| e.position)
    }
}

/// Storage for events, snapshots and their global order.
///
/// The in-memory [`InMemoryEventStore`](crate::InMemoryEventStore) and
/// `es_postgres::PgEventStore` implement it; the `conformance` feature
/// holds the tests any implementation must pass.
pub trait EventStore: Send + Sync {
    /// Appends `events` to a stream atomically if `expected` holds, giving
    /// them consecutive versions and positions after every committed event.
    ///
    /// A stream belongs to the aggregate type of its first event: appending
    /// as another `aggregate_type` is refused with
    /// [`StoreError::WrongAggregateType`], before `expected` is checked.
    /// Appending no events checks both and changes nothing.
    fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Reads the events of one stream in `range`, in version order.
    fn read_stream(
        &self,
        stream_id: &str,
        range: StreamRange,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Reads what folding state needs of one stream's events in `range`:
    /// each event's version and encoded form, without the envelope. When
    /// an event it reads is of another aggregate type than
    /// `aggregate_type`, the read is refused with
    /// [`StoreError::WrongAggregateType`].
    ///
    /// The default drops the envelopes of [`read_stream`](Self::read_stream);
    /// a backend that can read less overrides it. The repository loads
    /// aggregates through it.
    fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> impl Future<Output = Result<Vec<(u64, EncodedEvent)>, StoreError>> + Send {
        async move {
            self.read_stream(stream_id, range)
                .await?
                .into_iter()
                .map(|e| {
                    check_aggregate_type(aggregate_type, stream_id, &e.aggregate_type)?;
                    Ok((e.version, e.event))
                })
                .collect()
        }
    }

    /// Reads up to `limit` committed events after `after` in global order.
    ///
    /// Calling it again from the last position returned never skips an
    /// event, whatever order concurrent writers commit in.
    fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Reads up to `limit` committed events of `categories` after `after` in
    /// global order, and how far it looked. Like
    /// [`read_all`](Self::read_all), reading on from
    /// [`Page::through`] never skips an event. The default filters pages of
    /// `read_all`; a backend that can filter where the events are stored
    /// overrides it.
    fn read_types(
        &self,
        after: Position,
        limit: usize,
        categories: &AggregateTypes,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send {
        async move {
            let mut events = self.read_all(after, limit).await?;
            let through = events.last().map_or(after, |e| e.position);
            events.retain(|e| categories.admits(&e.aggregate_type));
            Ok(Page { events, through })
        }
    }

    /// The number of events in the store, for progress reports. The default
    /// pages through [`read_all`](Self::read_all); backends override it.
    fn count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            let mut count = 0;
            let mut after = Position::START;
            loop {
                let page = self.read_all(after, 1000).await?;
                let Some(last) = page.last() else { return Ok(count) };
                after = last.position;
                count += page.len() as u64;
            }
        }
    }

    /// Saves a snapshot, replacing the stream's previous one unless that one
    /// is at a later version. A snapshot of another aggregate type than the
    /// stream's events is refused with [`StoreError::WrongAggregateType`].
    fn save_snapshot(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Loads the stream's latest snapshot.
    fn load_snapshot(&self, stream_id: &str) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// Reads what loading an aggregate from its snapshot needs: the
    /// stream's latest snapshot unless it is past `range.up_to_version`,
    /// and the events of `range` after it when it has schema version
    /// `schema_version` (after the start of `range` otherwise). When the
    /// snapshot or an event it reads is of another aggregate type than
    /// `aggregate_type`, the read is refused with
    /// [`StoreError::WrongAggregateType`].
    ///
    /// The default calls [`load_snapshot`](Self::load_snapshot), then
    /// [`read_stream_events`](Self::read_stream_events); a backend that can
    /// read both at once overrides it. The repository loads aggregates that
    /// take snapshots through it.
    fn read_snapshot_and_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
        schema_version: u32,
    ) -> impl Future<Output = Result<SnapshotAndEvents, StoreError>> + Send {
        async move {
            let snapshot =
                self.load_snapshot(stream_id).await?.filter(|s| range.up_to_version.is_none_or(|v| s.version <= v));
            if let Some(snapshot) = &snapshot {
                check_aggregate_type(aggregate_type, stream_id, &snapshot.aggregate_type)?;
            }
            let after = snapshot
                .as_ref()
                .filter(|s| s.schema_version == schema_version)
                .map_or(range.after_version, |s| s.version.max(range.after_version));
            let range = StreamRange { after_version: after, ..range };
            let events = self.read_stream_events(aggregate_type, stream_id, range).await?;
            Ok(SnapshotAndEvents { snapshot, events })
        }
    }

    /// The events that the command with id `command_id` (see
    /// [`Metadata::command_id`]) appended to `stream_id`, if it was
    /// committed there. A store refuses a second append with the same
    /// command id on a stream with [`StoreError::DuplicateCommand`]; the
    /// repository uses both to make a retried command return its first
    /// commit. The default reads the stream; a backend that keeps an index
    /// overrides it.
    fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<Vec<RecordedEvent>>, StoreError>> + Send {
        async move {
            let events = self.read_stream(stream_id, StreamRange::all()).await?;
            let of_command: Vec<RecordedEvent> =
                events.into_iter().filter(|e| e.metadata.command_id.as_deref() == Some(command_id)).collect();
            Ok((!of_command.is_empty()).then_some(of_command))
        }
    }
}

/// Refuses a stream holding events of `actual` aggregate type when it is
/// read or written as `expected`: the check every store makes, with
/// [`StoreError::WrongAggregateType`].
///
/// ```
/// use es_core::StoreError;
/// use es_core::backend::check_aggregate_type;
///
/// assert!(check_aggregate_type("cart", "c-1", "cart").is_ok());
/// let refused = check_aggregate_type("wishlist", "c-1", "cart").unwrap_err();
/// assert!(matches!(refused, StoreError::WrongAggregateType { .. }));
/// ```
pub fn check_aggregate_type(expected: &str, stream_id: &str, actual: &str) -> Result<(), StoreError> {
    if expected == actual {
        return Ok(());
    }
    Err(StoreError::WrongAggregateType {
        stream_id: stream_id.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

/// Checks `stream_id` against the rule every store applies: not empty, at
/// most [`MAX_STREAM_ID_LEN`](crate::MAX_STREAM_ID_LEN) bytes, no NUL
/// character. Stores call it before touching storage, so that every backend
/// refuses the same ids with [`StoreError::InvalidStreamId`].
///
/// ```
/// use es_core::{StoreError, validate_stream_id};
///
/// assert!(validate_stream_id("account-42").is_ok());
/// assert!(matches!(validate_stream_id(""), Err(StoreError::InvalidStreamId { .. })));
/// let long = validate_stream_id(&"x".repeat(5000)).unwrap_err().to_string();
/// assert!(long.contains("5000 bytes long, more than the limit of 1024 bytes"), "{long}");
/// ```
pub fn validate_stream_id(stream_id: &str) -> Result<(), StoreError> {
    match stream_id::problem(stream_id) {
        None => Ok(()),
        Some(problem) => Err(StoreError::InvalidStreamId { stream_id: stream_id::shown(stream_id), problem }),
    }
}

/// Forwards every method, so that a store can be shared by reference or by
/// `Arc` (`Repository<A, &S>`, `Repository<A, Arc<S>>`) and keeps its own
/// overrides.
macro_rules! forward_event_store {
    ($($target:ty),*) => {$(
        impl<S: EventStore> EventStore for $target {
            fn append(
                &self,
                aggregate_type: &str,
                stream_id: &str,
                expected: ExpectedVersion,
                events: Vec<EncodedEvent>,
                metadata: &Metadata,
            ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
                (**self).append(aggregate_type, stream_id, expected, events, metadata)
            }

            fn read_stream(
                &self,
                stream_id: &str,
                range: StreamRange,
            ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
                (**self).read_stream(stream_id, range)
            }

            fn read_stream_events(
                &self,
                aggregate_type: &str,
                stream_id: &str,
                range: StreamRange,
            ) -> impl Future<Output = Result<Vec<(u64, EncodedEvent)>, StoreError>> + Send {
                (**self).read_stream_events(aggregate_type, stream_id, range)
            }

            fn read_all(
                &self,
                after: Position,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
                (**self).read_all(after, limit)
            }

            fn count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
                (**self).count()
            }

            fn save_snapshot(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).save_snapshot(snapshot)
            }

            fn load_snapshot(
                &self,
                stream_id: &str,
            ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
                (**self).load_snapshot(stream_id)
            }

            fn read_snapshot_and_events(
                &self,
                aggregate_type: &str,
                stream_id: &str,
                range: StreamRange,
                schema_version: u32,
            ) -> impl Future<Output = Result<SnapshotAndEvents, StoreError>> + Send {
                (**self).read_snapshot_and_events(aggregate_type, stream_id, range, schema_version)
            }

            fn read_types(
                &self,
                after: Position,
                limit: usize,
                categories: &AggregateTypes,
            ) -> impl Future<Output = Result<Page, StoreError>> + Send {
                (**self).read_types(after, limit, categories)
            }

            fn command_events(
                &self,
                stream_id: &str,
                command_id: &str,
            ) -> impl Future<Output = Result<Option<Vec<RecordedEvent>>, StoreError>> + Send {
                (**self).command_events(stream_id, command_id)
            }
        }
    )*};
}

forward_event_store!(&S, Arc<S>);
