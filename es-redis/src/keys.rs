//! The keys a projection's checkpoint and parked events live under.

/// The keys of one projection, under a target's prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// The checkpoint: a hash of `tx`, `position`, `revision`,
    /// `updated_at` and `error`.
    pub(crate) checkpoint: String,
    /// The parked events: a hash of id to record.
    pub(crate) parked: String,
    /// The parked events' id counter.
    pub(crate) parked_ids: String,
    /// The parked events by position: a hash of `tx/position` to id.
    pub(crate) parked_at: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str, projection: &str) -> Self {
        Keys {
            checkpoint: format!("{prefix}checkpoint:{projection}"),
            parked: format!("{prefix}parked:{projection}"),
            parked_ids: format!("{prefix}parked-ids:{projection}"),
            parked_at: format!("{prefix}parked-at:{projection}"),
        }
    }
}

/// The set of the projections with a checkpoint under `prefix`.
pub(crate) fn projections(prefix: &str) -> String {
    format!("{prefix}projections")
}
