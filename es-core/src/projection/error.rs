//! Why a projection stopped, and why a wait for it ended without success.

use std::time::Duration;

use crate::envelope::{Position, RecordedEvent};
use crate::error::{BoxError, DecodeError, StoreError};

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// Reading events or the checkpoint failed.
    #[error("projection `{projection}` could not read events or commit")]
    Store {
        /// The projection's name.
        projection: String,
        /// The store's error.
        source: StoreError,
    },
    /// An event of a aggregate type the projection reads does not decode: its
    /// name is known to no event type of the program, or its payload or
    /// version does not match.
    #[error("projection `{projection}` stopped at event {version} of stream `{stream_id}` (position {position})")]
    Decode {
        /// The projection's name.
        projection: String,
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// The event's global position.
        position: Position,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// The handler failed (or panicked) on an event every time it was tried.
    #[error(
        "projection `{projection}` stopped at event {version} of stream `{stream_id}` (position {position}) after {attempts} attempt(s)"
    )]
    Handler {
        /// The projection's name.
        projection: String,
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// The event's global position.
        position: Position,
        /// How many times the handler ran on it.
        attempts: u32,
        /// The handler's last error.
        source: BoxError,
    },
    /// Another runner holds the projection's lock, or moved its checkpoint.
    #[error("projection `{projection}` is being run by another runner")]
    Busy {
        /// The projection's name.
        projection: String,
    },
    /// Setting the read model up (creating its tables) failed, or the
    /// target refused what it found.
    #[error("projection `{projection}` could not set its read model up")]
    Setup {
        /// The projection's name.
        projection: String,
        /// The error of the setup, or of the target.
        source: BoxError,
    },
    /// Resetting the read model for a rebuild failed.
    #[error("projection `{projection}` could not reset its read model")]
    Reset {
        /// The projection's name.
        projection: String,
        /// The handler's error.
        source: BoxError,
    },
    /// Parking an event would pass the runner's
    /// [`ParkLimits`](super::ParkLimits).
    #[error(
        "projection `{projection}` stops: parking event {version} of stream `{stream_id}` would pass its limit of \
         {limit} {what}; fix the cause, then retry or discard the parked events (`es parked {projection}`), \
         or raise RunnerOptions::park_limits"
    )]
    ParkLimit {
        /// The projection's name.
        projection: String,
        /// The stream of the event it would have parked.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// The limit.
        limit: usize,
        /// What the limit counts.
        what: &'static str,
    },
    /// No parked event has this id (it was retried, or never parked).
    #[error("projection `{projection}` has no parked event {id}: list them to see which are parked")]
    NotParked {
        /// The projection's name.
        projection: String,
        /// The id asked for.
        id: u64,
    },
}

impl ProjectionError {
    /// The error for a handler that failed on `event` after `attempts` tries.
    pub(crate) fn handler(projection: &str, event: &RecordedEvent, attempts: u32, source: BoxError) -> Self {
        ProjectionError::Handler {
            projection: projection.to_owned(),
            stream_id: event.stream_id.clone(),
            version: event.version,
            position: event.position,
            attempts,
            source,
        }
    }

    /// The error for an event that does not decode.
    pub(crate) fn decode(projection: &str, event: &RecordedEvent, source: DecodeError) -> Self {
        ProjectionError::Decode {
            projection: projection.to_owned(),
            stream_id: event.stream_id.clone(),
            version: event.version,
            position: event.position,
            source,
        }
    }

    /// The error for a store failure.
    pub fn store(projection: &str, source: StoreError) -> Self {
        ProjectionError::Store { projection: projection.to_owned(), source }
    }

    /// Whether the projection stopped on it until someone fixes the cause:
    /// an event it failed on, or a setup that failed. Runners record such
    /// a stop where waiters of every process see it.
    pub fn stops(&self) -> bool {
        matches!(
            self,
            ProjectionError::Handler { .. }
                | ProjectionError::Decode { .. }
                | ProjectionError::Setup { .. }
                | ProjectionError::ParkLimit { .. }
        )
    }
}

/// Why a wait for a projection's checkpoint ended before the checkpoint got
/// there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The position was not reached in time.
    #[error("projection `{projection}` did not reach position {wanted} within {timeout:?} (it is at {reached})")]
    Timeout {
        /// The projection's name.
        projection: String,
        /// The position waited for.
        wanted: Position,
        /// The checkpoint when the wait ended.
        reached: Position,
        /// How long the wait lasted.
        timeout: Duration,
    },
    /// The projection stopped before the position, and will not get there
    /// until it is fixed and run again.
    #[error("projection `{projection}` stopped at position {reached} before reaching {wanted}: {error}")]
    Stopped {
        /// The projection's name.
        projection: String,
        /// The position waited for.
        wanted: Position,
        /// The checkpoint it stopped at.
        reached: Position,
        /// Why it stopped.
        error: String,
    },
}
