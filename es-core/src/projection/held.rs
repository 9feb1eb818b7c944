//! The streams a projection under
//! [`PoisonPolicy::ParkStream`](super::PoisonPolicy::ParkStream) holds
//! back: those with parked events, whose later events park behind them.

use std::collections::HashMap;

use crate::projection::options::ParkLimits;
use crate::projection::{ParkedEvent, ProjectionError};

/// Each held stream's parked events: how many, and the version of the
/// first (the one the others wait behind).
#[derive(Debug, Default)]
pub(crate) struct HeldStreams {
    streams: HashMap<String, (usize, u64)>,
}

impl HeldStreams {
    /// The streams `parked` holds back: those with an event parked and not
    /// discarded.
    pub(crate) fn of(parked: &[ParkedEvent]) -> Self {
        let mut held = HeldStreams::default();
        for event in parked.iter().filter(|p| p.discarded.is_none()) {
            held.add(&event.stream_id, event.version);
        }
        held
    }

    /// Whether `stream` is held back.
    pub(crate) fn holds(&self, stream: &str) -> bool {
        self.streams.contains_key(stream)
    }

    /// The version of the first parked event of `stream`, if it is held.
    pub(crate) fn first(&self, stream: &str) -> Option<u64> {
        self.streams.get(stream).map(|&(_, first)| first)
    }

    /// How many streams are held back.
    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }

    /// Refuses to park event `version` of `stream` for `projection` past
    /// `limits`.
    pub(crate) fn admit(
        &self,
        projection: &str,
        (stream, version): (&str, u64),
        limits: ParkLimits,
    ) -> Result<(), ProjectionError> {
        let (limit, what) = match self.streams.get(stream) {
            Some(&(parked, _)) if parked >= limits.per_stream => (limits.per_stream, "parked events per stream"),
            None if self.streams.len() >= limits.streams => (limits.streams, "parked streams"),
            _ => return Ok(()),
        };
        Err(ProjectionError::ParkLimit {
            projection: projection.to_owned(),
            stream_id: stream.to_owned(),
            version,
            limit,
            what,
        })
    }

    /// Counts a parked event of `stream` at `version`.
    pub(crate) fn add(&mut self, stream: &str, version: u64) {
        let entry = self.streams.entry(stream.to_owned()).or_insert((0, version));
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_events_per_stream_and_streams() {
        let limits = ParkLimits { per_stream: 2, streams: 2 };
        let mut held = HeldStreams::default();
        held.add("a", 3);
        assert!(held.admit("p", ("a", 4), limits).is_ok());
        held.add("a", 4);
        let refused = held.admit("p", ("a", 5), limits).unwrap_err();
        assert!(matches!(refused, ProjectionError::ParkLimit { limit: 2, what: "parked events per stream", .. }));
        held.add("b", 1);
        assert!(held.admit("p", ("b", 2), limits).is_ok(), "a held stream is not a new one");
        let refused = held.admit("p", ("c", 1), limits).unwrap_err();
        assert!(matches!(refused, ProjectionError::ParkLimit { limit: 2, what: "parked streams", .. }));
        assert_eq!((held.first("a"), held.first("c"), held.len()), (Some(3), None, 2));
    }
}
