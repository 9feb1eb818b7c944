//! One projection's work split among processes by stream.

use std::fmt;
use std::num::NonZeroU32;

use crate::error::PgError;

/// One of `count` partitions of a projection: the streams whose id hashes
/// to `index`.
///
/// Each partition of a projection has its own checkpoint and its own runner
/// election, so `count` processes can share one projection while each
/// stream's events stay in order (every event of a stream falls in the same
/// partition). The hash is the first 32 bits of the md5 of the stream id:
/// stable across releases and servers, so a stream never changes partition
/// while the count stays the same. Changing the count means a new
/// projection (rebuild it under the new count).
///
/// ```
/// use std::num::NonZeroU32;
/// use es_postgres::PgPartition;
///
/// let three = NonZeroU32::new(3).unwrap();
/// let partitions: Vec<PgPartition> = PgPartition::all(three).collect();
/// assert_eq!(partitions[1].projection_name("balances"), "balances[1/3]");
/// assert!(PgPartition::new(3, three).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PgPartition {
    index: u32,
    count: NonZeroU32,
}

impl PgPartition {
    /// Partition `index` (from 0) of `count`.
    pub fn new(index: u32, count: NonZeroU32) -> Result<Self, PgError> {
        if index >= count.get() {
            return Err(PgError::InvalidPartition { index, count: count.get() });
        }
        Ok(PgPartition { index, count })
    }

    /// Every partition of `count`, in order.
    pub fn all(count: NonZeroU32) -> impl Iterator<Item = PgPartition> {
        (0..count.get()).map(move |index| PgPartition { index, count })
    }

    /// Its index, from 0.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many partitions there are.
    pub fn count(&self) -> NonZeroU32 {
        self.count
    }

    /// The name its checkpoint, lock and parked events are kept under, for
    /// projection `projection`: `projection[index/count]`.
    pub fn projection_name(&self, projection: &str) -> String {
        format!("{projection}[{self}]")
    }
}

impl fmt::Display for PgPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}
