//! What the admin traits return.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::admin::printable;
use crate::envelope::Position;
use crate::event::EncodedEvent;

/// Where a store or its checkpoints live: a kind (`schema`, `file`) and a
/// name. Displays as ``schema `orders` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// What the name names: `schema` for a PostgreSQL schema, `file` for a
    /// database file.
    pub kind: &'static str,
    /// The schema's name, the file's path.
    pub name: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind, self.name)
    }
}

/// A store at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStatus {
    /// Committed events.
    pub events: u64,
    /// Streams with at least one event.
    pub streams: u64,
    /// The position of the latest committed event, if there is one.
    pub head: Option<Position>,
    /// Bytes on disk, tables and indexes, when the store can tell.
    pub size_bytes: Option<u64>,
    /// How far readers of the global order lag, when they can lag.
    pub read_lag: Option<ReadLag>,
}

/// How far readers of the global order lag behind the committed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLag {
    /// Committed events readers do not get yet.
    pub held_back: u64,
    /// How long the oldest open writing transaction has been running.
    pub oldest_transaction: Option<Duration>,
}

/// Which streams to list: those whose id starts with `prefix`, of
/// `aggregate_type` when given, after the id `after`, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// The ids' common start (`""`: every stream).
    pub prefix: String,
    /// Only streams of this aggregate type.
    pub aggregate_type: Option<String>,
    /// Only streams after this id: the last id of the previous page.
    pub after: Option<String>,
    /// The page size.
    pub limit: usize,
}

/// A stream as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Its id.
    pub stream_id: String,
    /// The aggregate type its events belong to.
    pub aggregate_type: String,
    /// The version of its last event.
    pub version: u64,
    /// When its last event was recorded.
    pub last_recorded_at: SystemTime,
}

/// A stream's head and when it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Its head.
    pub summary: StreamSummary,
    /// When its first event was recorded.
    pub first_recorded_at: SystemTime,
}

/// The committed events after a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// How many.
    pub events: u64,
    /// When the oldest of them was recorded (`None`: there are none).
    pub oldest_recorded_at: Option<SystemTime>,
}

/// An event as a scan of the whole store reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedEvent {
    /// Its stream.
    pub stream_id: String,
    /// Its version in the stream.
    pub version: u64,
    /// Its stream's aggregate type.
    pub aggregate_type: String,
    /// The event as stored.
    pub event: EncodedEvent,
}

/// A projection's checkpoint and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// The position of the last event it committed.
    pub checkpoint: Position,
    /// When the checkpoint last changed.
    pub updated_at: SystemTime,
    /// Why it stopped, if it stopped on an event it cannot handle.
    pub stopped: Option<String>,
    /// Its parked events that nobody discarded.
    pub parked: u64,
    /// The runner holding it, if one does.
    pub runner: Option<RunnerInfo>,
    /// The runners standing by to take it over, where the store can tell.
    pub standbys: Vec<RunnerInfo>,
}

/// A runner of a projection: the session it holds it (or stands by) with,
/// and the application process it runs in, where the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerInfo {
    /// The name its connection carries (`es projection <schema>.<name>`).
    pub name: String,
    /// Where it connects from.
    pub host: String,
    /// The process id of its session on the server (not the
    /// application's: see [`process`](Self::process)).
    pub pid: i64,
    /// The application process the runner runs in.
    pub process: Option<RunnerProcess>,
}

/// The name of the runner of projection `projection` in `namespace` (a
/// schema or a database), `es projection <namespace>.<name>`: what its
/// connection carries where the server names sessions, and what
/// [`RunnerInfo::name`] holds.
///
/// ```
/// assert_eq!(es_core::admin::projection_runner_name("es", "balances"), "es projection es.balances");
/// ```
pub fn projection_runner_name(namespace: &str, projection: &str) -> String {
    format!("es projection {namespace}.{projection}")
}

/// The application process a runner runs in, as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerProcess {
    /// The label the application gave (a pod or host name).
    pub label: String,
    /// The operating system's process id.
    pub pid: u32,
    /// When the process started (when it built its first store).
    pub started_at: SystemTime,
}

impl fmt::Display for RunnerInfo {
    /// `pid 4242 on pod-7`, the application's process, or the server
    /// session's where the application process is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.process {
            Some(p) => write!(f, "pid {} on {}", p.pid, printable(&p.label)),
            None => write!(f, "server session pid {} on {}", self.pid, self.host),
        }
    }
}
