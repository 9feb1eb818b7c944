//! Rust numbers to SQL and back, by one rule each way.
//!
//! PostgreSQL has no unsigned integers: counts, versions, ids and the parts
//! of a position are `BIGINT`, schema versions `INTEGER`.
//!
//! - **Reading**, a column that does not fit its Rust type (a negative
//!   version, a schema version below 0) is [`Error::Corrupt`], naming the
//!   column: never read as 0 or as its absolute value, which would resume
//!   a projection somewhere else.
//! - **Writing** a value that does not fit its column is
//!   [`Error::InvalidInput`], naming the value and the limit: nothing is
//!   written.
//! - **Comparing**, a bound beyond `BIGINT` ([`bound`]) is `BIGINT`'s
//!   largest value: no stored value is above it, so "after it" selects
//!   nothing and "up to it" everything. A value looked up or expected
//!   exactly ([`exact`]) that `BIGINT` cannot hold matches no row, the
//!   same on every statement: an id is not found, a stream is not at that
//!   version.

use crate::error::Error;

/// A `BIGINT` column read as a count, a version, an id or a part of a
/// position, in the row of `stream_id` at `version` ("<what the statement
/// reads>" and 0 where there is none).
pub(crate) fn unsigned(value: i64, column: &str, stream_id: &str, version: u64) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| corrupt(stream_id, version, column, format!("negative value {value}")))
}

/// An `INTEGER` column read as a schema version or a number of attempts.
pub(crate) fn unsigned32(value: i32, column: &str, stream_id: &str, version: u64) -> Result<u32, Error> {
    u32::try_from(value).map_err(|_| corrupt(stream_id, version, column, format!("negative value {value}")))
}

/// A value to store in a `BIGINT` column.
pub(crate) fn stored(value: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| too_large(what, value, i64::MAX))
}

/// A value to store in an `INTEGER` column.
pub(crate) fn stored32(value: u32, what: &str) -> Result<i32, Error> {
    i32::try_from(value).map_err(|_| too_large(what, value, i32::MAX))
}

/// A bound compared with `BIGINT` values: beyond them all, the largest.
pub(crate) fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A value compared for equality with `BIGINT` values that are never
/// negative: one that cannot be stored is -1, which matches none.
pub(crate) fn exact(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(-1)
}

/// [`exact`] for `INTEGER` values.
pub(crate) fn exact32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(-1)
}

/// The error for a row that cannot be read back.
pub(crate) fn corrupt(stream_id: &str, version: u64, column: &str, cause: impl std::fmt::Display) -> Error {
    Error::Corrupt { stream_id: stream_id.to_owned(), version, cause: format!("column `{column}`: {cause}") }
}

fn too_large(what: &str, value: impl std::fmt::Display, max: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{what} {value} is larger than PostgreSQL stores ({max} at most)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_refuse_negative_values_naming_the_column() {
        assert_eq!(unsigned(7, "version", "s", 0).unwrap(), 7);
        let Err(Error::Corrupt { cause, .. }) = unsigned(-3, "position", "<checkpoints>", 0) else { panic!() };
        assert_eq!(cause, "column `position`: negative value -3");
        assert!(unsigned32(-1, "event_version", "s", 2).is_err());
    }

    #[test]
    fn writes_refuse_what_does_not_fit_and_comparisons_stay_on_the_right_side() {
        assert_eq!(stored(i64::MAX as u64, "a version").unwrap(), i64::MAX);
        assert!(
            matches!(stored(u64::MAX, "a version"), Err(Error::InvalidInput(r)) if r.contains("18446744073709551615"))
        );
        assert!(stored32(u32::MAX, "a schema version").is_err());
        assert_eq!(bound(u64::MAX), i64::MAX);
        assert_eq!(bound(0), 0);
        assert_eq!(exact(u64::MAX), -1);
        assert_eq!(exact(5), 5);
    }
}
