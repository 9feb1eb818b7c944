//! Errors of the runtime, each precise enough to act on.

use std::error::Error as StdError;

use crate::expected_version::ExpectedVersion;
use crate::stream_id::StreamIdProblem;

/// A boxed error from a backend's driver.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why an event could not be rebuilt from its stored form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No event type is stored under this name.
    #[error("unknown event `{name}`")]
    UnknownEvent {
        /// The stored name.
        name: String,
    },
    /// The stored version is newer than the code, or zero.
    #[error("event `{name}` has no version {version} (the code knows versions 1 to {current})")]
    UnknownVersion {
        /// The event's name.
        name: String,
        /// The stored version.
        version: u32,
        /// The version the code is at.
        current: u32,
    },
    /// An upcaster refused the payload.
    #[error("upcasting event `{name}` from version {from} failed")]
    Upcast {
        /// The event's name.
        name: String,
        /// The version the failing step starts from.
        from: u32,
        /// Why the step failed.
        #[source]
        cause: serde_json::Error,
    },
    /// The (upcast) payload does not deserialize into the event type.
    #[error("payload of event `{name}` (version {version}) does not match its type")]
    Payload {
        /// The event's name.
        name: String,
        /// The stored version.
        version: u32,
        /// The deserializer's complaint.
        #[source]
        cause: serde_json::Error,
    },
}

/// An error of an [`EventStore`](crate::EventStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the stream is not at the expected version.
    #[error("concurrency conflict on stream `{stream_id}`: expected {expected}, but it is at version {actual}")]
    Conflict {
        /// The stream written to.
        stream_id: String,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was refused.
        actual: u64,
    },
    /// The append runs in a transaction that began writing before the
    /// stream's last event was appended (by another transaction, which
    /// committed first): its events would come before that event in the
    /// global order, so that projections would read the stream out of
    /// order. Nothing was appended; roll the transaction back and run it
    /// again, which sees the new head.
    #[error(
        "stream `{stream_id}` is at version {actual}, appended by a transaction that started writing after this \
         one: this transaction's events would precede it in the global order; roll back and run the transaction \
         again"
    )]
    OutOfOrder {
        /// The stream.
        stream_id: String,
        /// The stream's version, appended by the later transaction.
        actual: u64,
    },
    /// The stream belongs to another aggregate type: a stream id names one
    /// aggregate instance in the whole store, and its first event fixes the
    /// type. Nothing was read or written.
    #[error(
        "stream `{stream_id}` belongs to aggregate type `{actual}`, not `{expected}`: a stream id names one \
         aggregate in the whole store; give each aggregate type ids of its own (such as `{expected}-<id>`)"
    )]
    WrongAggregateType {
        /// The stream.
        stream_id: String,
        /// The aggregate type the caller read or wrote it as.
        expected: String,
        /// The aggregate type the stream holds events of.
        actual: String,
    },
    /// A command with this id was already committed on the stream; nothing
    /// was appended.
    #[error(
        "command `{command_id}` was already committed on stream `{stream_id}`: its events are stored once; \
         read them with `command_events`"
    )]
    DuplicateCommand {
        /// The stream.
        stream_id: String,
        /// The command id sent again.
        command_id: String,
    },
    /// An event's payload is larger than the store's limit (see
    /// [`DEFAULT_MAX_EVENT_SIZE`](crate::DEFAULT_MAX_EVENT_SIZE)); nothing
    /// was written.
    #[error(
        "event `{event}` for stream `{stream_id}` is {size} bytes, over the store's limit of {limit} bytes: \
         every later load of the stream would read it; keep large content elsewhere (a file or blob store) and put \
         its reference in the event, or raise the store's `max_event_size`"
    )]
    EventTooLarge {
        /// The stream.
        stream_id: String,
        /// The event's name.
        event: String,
        /// The payload's size in bytes.
        size: usize,
        /// The store's limit in bytes.
        limit: usize,
    },
    /// The command id was committed on another stream: an id names one
    /// request in the whole store, not one per stream. Nothing was
    /// appended.
    #[error(
        "command id `{command_id}` was already committed on stream `{committed_on}`, not `{stream_id}`: a command id \
         names one request in the whole store; send a new request with a new id"
    )]
    CommandIdTaken {
        /// The stream written to.
        stream_id: String,
        /// The command id.
        command_id: String,
        /// The stream the command id was committed on.
        committed_on: String,
    },
    /// The stream id is not one a store accepts (see
    /// [`validate_stream_id`](crate::validate_stream_id)); nothing was read
    /// or written.
    #[error("invalid stream id `{stream_id}`: {problem}; use a non-empty id of at most {max} bytes without NUL", max = crate::MAX_STREAM_ID_LEN)]
    InvalidStreamId {
        /// The id's first characters, escaped (`…` marks a cut).
        stream_id: String,
        /// What is wrong with it.
        problem: StreamIdProblem,
    },
    /// A value the store cannot hold, such as a number beyond its column's
    /// range; nothing was written.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong, and the limit.
        reason: String,
    },
    /// The store cannot be reached; the cause (a backend's own error type,
    /// such as `es_postgres::PgError`) is the [`source`](StdError::source).
    #[error("the event store is unreachable")]
    Unavailable(#[source] BoxError),
    /// A stored row cannot be read back.
    #[error("corrupt row in stream `{stream_id}` at version {version}: {cause}")]
    Corrupt {
        /// The stream of the row.
        stream_id: String,
        /// The row's version in its stream.
        version: u64,
        /// What is wrong with it.
        cause: String,
    },
    /// Any other failure of the backend; the cause is the
    /// [`source`](StdError::source), as with [`Unavailable`](StoreError::Unavailable).
    #[error("the event store failed")]
    Backend(#[source] BoxError),
}

/// An error of the [`Repository`](crate::Repository).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event cannot be decoded into the aggregate's event type.
    #[error("cannot decode event {version} of stream `{stream_id}`")]
    Decode {
        /// The stream holding the event.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// Why decoding failed.
        #[source]
        cause: DecodeError,
    },
    /// A new event or a state cannot be serialized.
    #[error("cannot serialize {what} for stream `{stream_id}`")]
    Encode {
        /// The stream written to.
        stream_id: String,
        /// What was being serialized.
        what: &'static str,
        /// The serializer's complaint.
        #[source]
        cause: serde_json::Error,
    },
    /// A new event serializes to a payload that does not decode back into
    /// its type, so appending it would make the stream unloadable; nothing
    /// was appended. A float that is NaN or infinite, which JSON writes as
    /// `null`, is the usual cause.
    #[error(
        "event `{name}` for stream `{stream_id}` was not appended: its payload does not decode back; \
         a NaN or infinite float is written as null, so keep floats finite or make the field an Option"
    )]
    Unreadable {
        /// The stream written to.
        stream_id: String,
        /// The event's stored name.
        name: String,
        /// Why the encoded payload does not decode.
        #[source]
        cause: DecodeError,
    },
    /// Every attempt of a command hit a concurrency conflict.
    #[error(
        "command on stream `{stream_id}` gave up after {attempts} concurrency conflicts (the last expected \
         {expected}, but the stream was at version {actual}); retry later or raise the repository's max attempts"
    )]
    RetriesExhausted {
        /// The contended stream.
        stream_id: String,
        /// How many times the command ran.
        attempts: u32,
        /// What the last attempt expected.
        expected: ExpectedVersion,
        /// The stream's version when the last attempt was refused.
        actual: u64,
    },
    /// A command id sent again with another request than the one committed
    /// under it (their [fingerprints](crate::Metadata::fingerprint)
    /// differ): nothing was appended, and the first commit is not returned
    /// as if it were this request's. HTTP services answer 422.
    #[error(
        "command id `{command_id}` was already committed on stream `{stream_id}` for another request (fingerprint \
         `{committed}`, not `{sent}`); a retry must send the same request, and a new request a new command id"
    )]
    CommandIdReused {
        /// The stream.
        stream_id: String,
        /// The command id.
        command_id: String,
        /// The fingerprint of the committed request.
        committed: String,
        /// The fingerprint sent now.
        sent: String,
    },
    /// A load up to a version the stream has not reached.
    #[error("stream `{stream_id}` has no version {version}: it ends at version {head}; ask for a version up to {head}")]
    VersionNotReached {
        /// The stream.
        stream_id: String,
        /// The version asked for.
        version: u64,
        /// The stream's last version (0 when it has no events).
        head: u64,
    },
}

impl Error {
    /// Whether this is a concurrency conflict (raw, after retries, or a
    /// transaction whose append would come out of order): running the
    /// work again can succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Store(StoreError::Conflict { .. } | StoreError::OutOfOrder { .. }) | Error::RetriesExhausted { .. }
        )
    }
}

/// The failure of [`Repository::execute`](crate::Repository::execute): the
/// command rejected itself, or the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    /// The command refused to run against the current state.
    #[error("command rejected: {0}")]
    Rejected(E),
    /// Loading or committing failed.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl<E> ExecuteError<E> {
    /// The domain error, if the command rejected itself.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            ExecuteError::Rejected(e) => Some(e),
            ExecuteError::Failed(_) => None,
        }
    }
}
