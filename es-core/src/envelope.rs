//! What a store records around an event: where it sits and why it happened.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::EncodedEvent;

/// A place in the global order of all events of a store.
///
/// Positions are totally ordered and a projection that reads everything
/// after its last position never skips an event. A store orders events by
/// the commit they were written in, then by sequence within the store, so a
/// position is the pair of both. Positions are ordered, not dense: an
/// append that fails may leave a number unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Position {
    /// The commit (transaction) the event was written in.
    pub commit: u64,
    /// The event's sequence number in the store.
    pub sequence: u64,
}

impl Position {
    /// Before the first event: reading after it reads everything.
    pub const START: Position = Position { commit: 0, sequence: 0 };

    /// A position from its two parts.
    pub const fn new(commit: u64, sequence: u64) -> Self {
        Position { commit, sequence }
    }
}

/// A position's one text form, `commit/sequence` (`148720/10`), which
/// [`FromStr`](std::str::FromStr) reads back: the form the command line,
/// the console and JSON show, to copy from one to another.
///
/// ```
/// use es_core::Position;
///
/// let position = Position::new(148_720, 10);
/// assert_eq!(position.to_string(), "148720/10");
/// assert_eq!("148720/10".parse::<Position>()?, position);
/// assert!("148720.10".parse::<Position>().is_err());
/// # Ok::<(), es_core::ParsePositionError>(())
/// ```
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.commit, self.sequence)
    }
}

impl std::str::FromStr for Position {
    type Err = ParsePositionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParsePositionError { text: text.chars().take(64).collect() };
        let (commit, sequence) = text.trim().split_once('/').ok_or_else(invalid)?;
        let part = |part: &str| part.parse::<u64>().map_err(|_| invalid());
        Ok(Position::new(part(commit)?, part(sequence)?))
    }
}

/// Text that is not a [`Position`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a position: write it as a store shows it, `commit/sequence` such as 148720/10")]
pub struct ParsePositionError {
    text: String,
}

/// Why an event was written and by whom.
///
/// ```
/// use es_core::Metadata;
///
/// let metadata = Metadata::default()
///     .with_correlation_id("req-42")
///     .with_actor("alice")
///     .with("ip", "10.0.0.1");
/// assert_eq!(metadata.actor.as_deref(), Some("alice"));
/// assert_eq!(metadata.extra["ip"], "10.0.0.1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Groups all events caused by one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The message (command or event) that caused this event. Events
    /// appended by a command carry its metadata's, or none when it names
    /// none: no id is made up (their [`command_id`](Self::command_id)
    /// names the command, when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Who or what issued the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The command's own id, chosen by its sender (an idempotency key, such
    /// as a request id a client sends again on a retry). The store holds at
    /// most one commit per command id, whatever the stream: the repository
    /// returns the first commit of a command sent again instead of
    /// appending twice, and the id sent to another stream is refused with
    /// [`StoreError::CommandIdTaken`](crate::StoreError::CommandIdTaken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// What the command was sent with, in a form its sender chooses (a
    /// hash of the request's method, route and body): the same command id
    /// sent again with another fingerprint is another request reusing the
    /// key, which the repository refuses with
    /// [`Error::CommandIdReused`](crate::Error::CommandIdReused) instead of
    /// returning the first commit as the retry's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Anything else worth keeping with the event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

impl Metadata {
    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.causation_id = Some(id.into());
        self
    }

    /// Sets the command id, the key that makes a command idempotent.
    pub fn with_command_id(mut self, id: impl Into<String>) -> Self {
        self.command_id = Some(id.into());
        self
    }

    /// Sets the command id and the fingerprint of the request it came
    /// with: a retry must bring the same fingerprint.
    ///
    /// ```
    /// use es_core::Metadata;
    ///
    /// let metadata = Metadata::default().with_command_id_for("req-7", "sha256:9f2c…");
    /// assert_eq!((metadata.command_id.as_deref(), metadata.fingerprint.as_deref()), (Some("req-7"), Some("sha256:9f2c…")));
    /// ```
    pub fn with_command_id_for(mut self, id: impl Into<String>, fingerprint: impl Into<String>) -> Self {
        self.command_id = Some(id.into());
        self.fingerprint = Some(fingerprint.into());
        self
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Adds a free-form entry.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
}

/// An event as a store holds it: the encoded event and its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The aggregate type of the stream, such as `"account"`.
    pub aggregate_type: String,
    /// The stream (aggregate instance) the event belongs to.
    pub stream_id: String,
    /// The event's version in its stream: 1, 2, 3, … without gaps.
    pub version: u64,
    /// The event's place in the global order.
    pub position: Position,
    /// When the store recorded the event.
    pub recorded_at: SystemTime,
    /// The event's name, schema version and payload as stored.
    pub event: EncodedEvent,
    /// Why the event was written.
    pub metadata: Metadata,
}
