//! Values between Rust and SQLite, by one rule each way (as es-postgres
//! does): SQLite's integers are signed 64-bit.
//!
//! - Reading, a column that does not fit its Rust type is
//!   [`Error::Corrupt`], naming the column.
//! - Writing a value that does not fit is [`Error::InvalidInput`].
//! - Comparing, a bound beyond `i64` is `i64::MAX` ([`bound`]); a value
//!   compared exactly that `i64` cannot hold is -1, which no stored value
//!   is ([`exact`]).
//!
//! Times are microseconds since the Unix epoch, UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::{EncodedEvent, Metadata, Payload, Position, RecordedEvent};
use rusqlite::Row;

use crate::error::Error;

/// An `INTEGER` column read as a count, a version or part of a position.
pub(crate) fn unsigned(value: i64, column: &str, stream_id: &str, version: u64) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| corrupt(stream_id, version, column, format!("negative value {value}")))
}

/// A value to store in an `INTEGER` column.
pub(crate) fn stored(value: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(value)
        .map_err(|_| Error::InvalidInput(format!("{what} {value} is larger than SQLite stores ({} at most)", i64::MAX)))
}

/// A bound compared with stored values: beyond them all, the largest.
pub(crate) fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A value compared for equality with stored values that are never
/// negative: one that cannot be stored is -1, which matches none.
pub(crate) fn exact(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(-1)
}

/// A time as stored.
pub(crate) fn time_to_sql(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

/// A stored time.
pub(crate) fn time_from_sql(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 { UNIX_EPOCH + offset } else { UNIX_EPOCH - offset }
}

/// The error for a row that cannot be read back.
pub(crate) fn corrupt(stream_id: &str, version: u64, column: &str, cause: impl std::fmt::Display) -> Error {
    Error::Corrupt { stream_id: stream_id.to_owned(), version, cause: format!("column `{column}`: {cause}") }
}

/// Decodes an event row: `position, tx, version, recorded_at,
/// aggregate_type, event_name, event_version, payload, metadata, stream_id`.
pub(crate) fn event(row: &Row<'_>) -> Result<RecordedEvent, Error> {
    let stream_id: String = row.get(9)?;
    let version = unsigned(row.get(2)?, "version", &stream_id, 0)?;
    let column = |i, name| -> Result<u64, Error> { unsigned(row.get(i)?, name, &stream_id, version) };
    let position = Position::new(column(1, "tx")?, column(0, "position")?);
    let schema_version =
        u32::try_from(row.get::<_, i64>(6)?).map_err(|e| corrupt(&stream_id, version, "event_version", e))?;
    let metadata: String = row.get(8)?;
    let metadata = match metadata.as_str() {
        "{}" => Metadata::default(),
        text => serde_json::from_str(text).map_err(|e| corrupt(&stream_id, version, "metadata", e))?,
    };
    Ok(RecordedEvent {
        aggregate_type: row.get(4)?,
        version,
        position,
        recorded_at: time_from_sql(row.get(3)?),
        event: EncodedEvent { name: row.get(5)?, schema_version, payload: Payload::from_json(row.get(7)?) },
        metadata,
        stream_id,
    })
}

/// Decodes the columns `version, event_name, event_version, payload` of a
/// row of stream `stream_id`, from column `first` on.
pub(crate) fn versioned_event(stream_id: &str, row: &Row<'_>, first: usize) -> Result<(u64, EncodedEvent), Error> {
    let version = unsigned(row.get(first)?, "version", stream_id, 0)?;
    let schema_version =
        u32::try_from(row.get::<_, i64>(first + 2)?).map_err(|e| corrupt(stream_id, version, "event_version", e))?;
    let payload = Payload::from_json(row.get(first + 3)?);
    Ok((version, EncodedEvent { name: row.get(first + 1)?, schema_version, payload }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_to_the_microsecond() {
        let now = SystemTime::now();
        let back = time_from_sql(time_to_sql(now));
        assert!(now.duration_since(back).unwrap() < Duration::from_micros(1));
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(time_from_sql(time_to_sql(before)), before);
    }

    #[test]
    fn numbers_follow_one_rule() {
        assert!(matches!(unsigned(-1, "position", "s", 0), Err(Error::Corrupt { .. })));
        assert!(matches!(stored(u64::MAX, "a version"), Err(Error::InvalidInput(_))));
        assert_eq!((bound(u64::MAX), exact(u64::MAX), exact(3)), (i64::MAX, -1, 3));
    }
}
