//! What the operator's tools read and do, for every store: the `es`
//! command line and the web console call these traits and nothing else.
//!
//! Two traits, because two things may hold the data:
//!
//! - [`StoreAdmin`], implemented by every event store: its size, streams
//!   by prefix and aggregate type a page at a time, a stream's events, the
//!   global order, the backlog after a position, and a scan of every
//!   event for `check`.
//! - [`ProjectionAdmin`], implemented by whatever holds checkpoints (the
//!   event store's own database today): checkpoints with their runners,
//!   parked events, reset.
//!
//! The traits are object safe, so that a tool picks a store at run time
//! (from a URL's scheme) and holds it as `Box<dyn StoreAdmin>`. Application
//! code uses [`EventStore`](crate::EventStore) and the runners, not these.
//!
//! [`AggregateKind`] is an aggregate type behind a trait object, for tools
//! that decode and fold the application's events; [`printable`] is how
//! every tool shows stored text.

mod aggregate;
mod memory;
mod printable;
mod types;

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

pub use aggregate::{AggregateKind, FoldError, aggregate_kind};
pub use printable::{SHOWN_BYTES, cut, printable};
pub use types::{
    Backlog, Location, ProjectionStatus, ReadLag, RunnerInfo, RunnerProcess, ScannedEvent, StoreStatus, StreamFilter,
    StreamInfo, StreamSummary, projection_runner_name,
};

use crate::envelope::{Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::projection::ParkedEvent;
use crate::store::{AggregateTypes, Page, Snapshot, StreamRange};

/// The future an admin method returns.
pub type AdminFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AdminError>> + Send + 'a>>;

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No checkpoint is kept under this name.
    #[error("{location} has no projection `{name}`: list the projections to see which it has")]
    UnknownProjection {
        /// Where the checkpoints were looked for.
        location: Location,
        /// The name asked for.
        name: String,
    },
    /// The projection has no parked event with this id.
    #[error("projection `{projection}` has no parked event {id}: list them to see which are parked")]
    NotParked {
        /// The projection.
        projection: String,
        /// The id asked for.
        id: u64,
    },
    /// A runner holds the projection, so its checkpoint must not move.
    #[error("projection `{projection}` is being run by {runner}: stop that runner first")]
    Running {
        /// The projection.
        projection: String,
        /// Who runs it.
        runner: Box<RunnerInfo>,
    },
}

/// What the tools read of an event store. Every store implements it.
pub trait StoreAdmin: Send + Sync {
    /// Where the store lives (a PostgreSQL schema, a file).
    fn location(&self) -> Location;

    /// Whether the store exists there (it was migrated or created).
    fn exists(&self) -> AdminFuture<'_, bool>;

    /// The store at a glance.
    fn status(&self) -> AdminFuture<'_, StoreStatus>;

    /// A page of streams in stream id order.
    fn streams<'a>(&'a self, filter: &'a StreamFilter) -> AdminFuture<'a, Vec<StreamSummary>>;

    /// One stream's head and when it began; `None` when it has no events.
    fn stream<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<StreamInfo>>;

    /// The version `stream_id` was at, at `time`: its last event recorded
    /// at or before then (`None`: none was).
    fn version_at<'a>(&'a self, stream_id: &'a str, time: SystemTime) -> AdminFuture<'a, Option<u64>>;

    /// The events of one stream in `range`, with their envelopes.
    fn read_stream<'a>(&'a self, stream_id: &'a str, range: StreamRange) -> AdminFuture<'a, Vec<RecordedEvent>>;

    /// The events of one stream in `range` as folding reads them (see
    /// [`EventStore::read_stream_events`](crate::EventStore::read_stream_events)).
    fn read_stream_events<'a>(
        &'a self,
        aggregate_type: &'a str,
        stream_id: &'a str,
        range: StreamRange,
    ) -> AdminFuture<'a, Vec<(u64, EncodedEvent)>>;

    /// The stream's latest snapshot.
    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<Snapshot>>;

    /// A page of the global order (see
    /// [`EventStore::read_types`](crate::EventStore::read_types)).
    fn read_types<'a>(&'a self, after: Position, limit: usize, categories: &'a AggregateTypes)
    -> AdminFuture<'a, Page>;

    /// Where to read the global order after so that its `last` latest
    /// events (of `aggregate_type`, if given) come first.
    fn tail_start<'a>(&'a self, aggregate_type: Option<&'a str>, last: usize) -> AdminFuture<'a, Position>;

    /// The committed events after `after`: how many, and when the oldest
    /// was recorded.
    fn backlog(&self, after: Position) -> AdminFuture<'_, Backlog>;

    /// A page of every event in (stream id, version) order, after the
    /// event `after` names (`None`: from the first), for checks that look
    /// at each stream whole.
    fn scan<'a>(&'a self, after: Option<(&'a str, u64)>, limit: usize) -> AdminFuture<'a, Vec<ScannedEvent>>;
}

/// What the tools read and do of projections' checkpoints. Whatever holds
/// checkpoints implements it.
pub trait ProjectionAdmin: Send + Sync {
    /// Where the checkpoints live.
    fn location(&self) -> Location;

    /// A page of projections by name, after `after` (`None`: from the
    /// first).
    fn projections<'a>(&'a self, after: Option<&'a str>, limit: usize) -> AdminFuture<'a, Vec<ProjectionStatus>>;

    /// A page of `projection`'s parked events, by id after `after`,
    /// discarded ones included (marked).
    fn parked<'a>(&'a self, projection: &'a str, after: u64, limit: usize) -> AdminFuture<'a, Vec<ParkedEvent>>;

    /// Marks parked event `id` discarded with `reason`; it stays listed as
    /// the record of that decision.
    fn discard_parked<'a>(&'a self, projection: &'a str, id: u64, reason: &'a str) -> AdminFuture<'a, ()>;

    /// Moves `projection`'s checkpoint back to the start, so that its next
    /// runner replays every event; refused with [`AdminError::Running`]
    /// while a runner holds it. The read model is left as it is.
    fn reset<'a>(&'a self, projection: &'a str) -> AdminFuture<'a, ()>;
}
