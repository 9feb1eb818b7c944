//! Events a projection set aside after they could not be handled.

use std::time::SystemTime;

use crate::envelope::Position;

/// An event a projection parked under [`PoisonPolicy::Park`](super::PoisonPolicy::Park):
/// it could not be handled, the projection went on without it, and it waits
/// to be retried (once the cause is fixed) or discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    /// The id to retry or discard it by.
    pub id: u64,
    /// The projection that parked it.
    pub projection: String,
    /// The event's global position.
    pub position: Position,
    /// The event's stream.
    pub stream_id: String,
    /// The event's version in its stream.
    pub version: u64,
    /// The event's stored name.
    pub event_name: String,
    /// Why it could not be handled: the last error, with its causes.
    pub error: String,
    /// How many times the handler ran on it (0 when it did not decode).
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: SystemTime,
    /// When and why an operator discarded it, if one did. A discarded event
    /// stays listed as a record; it can still be retried.
    pub discarded: Option<(SystemTime, String)>,
}
