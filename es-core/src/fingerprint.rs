//! Snapshot fingerprints: a hash of a state type's definition, so that a
//! snapshot written by a release whose state had another shape is ignored
//! rather than decoded into the wrong meaning.

/// The fingerprint of a type used inside an aggregate's state.
///
/// `#[derive(StateFingerprint)]` implements it from the type's definition;
/// an aggregate lists the type in `#[aggregate(nested(...))]` so that a
/// change inside it also changes the aggregate's
/// [`SNAPSHOT_FINGERPRINT`](crate::Aggregate::SNAPSHOT_FINGERPRINT). A hand
/// written impl suits a type from another crate: pick any constant and
/// change it when the type's JSON changes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no state fingerprint",
    label = "listed in `nested(...)` but does not implement `StateFingerprint`",
    note = "add `#[derive(es_core::StateFingerprint)]` to `{Self}`, or implement `es_core::StateFingerprint` by hand for a type of another crate"
)]
pub trait StateFingerprint {
    /// A hash of the type's definition.
    const FINGERPRINT: u64;
}

/// Folds the fingerprints of nested types into a type's own, in order,
/// FNV-1a over their bytes.
pub const fn combine(own: u64, nested: &[u64]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = own;
    let mut i = 0;
    while i < nested.len() {
        let bytes = nested[i].to_le_bytes();
        let mut j = 0;
        while j < bytes.len() {
            hash = (hash ^ bytes[j] as u64).wrapping_mul(PRIME);
            j += 1;
        }
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn nested_fingerprints_change_the_result_and_their_order_counts() {
        assert_eq!(combine(7, &[]), 7);
        assert_ne!(combine(7, &[1]), 7);
        assert_ne!(combine(7, &[1, 2]), combine(7, &[2, 1]));
    }
}
