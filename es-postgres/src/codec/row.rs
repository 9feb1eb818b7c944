//! Turning rows back into events and snapshots, without trusting them.

use std::time::SystemTime;

use es_core::backend::check_aggregate_type;
use es_core::projection::ParkedEvent;
use es_core::{EncodedEvent, Metadata, Payload, Position, RecordedEvent, Snapshot};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, FromSqlOwned, Type};

use crate::codec::convert::{corrupt, unsigned, unsigned32};
use crate::codec::json::JsonColumn;
use crate::codec::xid8::Xid8;
use crate::error::Error;

// Column indexes of `schema::EVENT_COLUMNS`.
const POSITION: usize = 0;
const TX: usize = 1;
const VERSION: usize = 2;
const RECORDED_AT: usize = 3;
const AGGREGATE_TYPE: usize = 4;
const EVENT_NAME: usize = 5;
const EVENT_VERSION: usize = 6;
const PAYLOAD: usize = 7;
const METADATA: usize = 8;
/// Only in reads of several streams.
const STREAM_ID: usize = 9;

/// Decodes a row selected with `schema::EVENT_COLUMNS` and `stream_id`.
pub(crate) fn event(row: &Row) -> Result<RecordedEvent, Error> {
    let stream_id: String = row.try_get(STREAM_ID).map_err(|e| corrupt("<unreadable>", 0, "stream_id", e))?;
    stream_event(row, stream_id)
}

/// Decodes a row of stream `stream_id` selected with `schema::EVENT_COLUMNS`.
pub(crate) fn stream_event(row: &Row, stream_id: String) -> Result<RecordedEvent, Error> {
    let version = row
        .try_get::<_, i64>(VERSION)
        .map_err(|e| corrupt(&stream_id, 0, "version", e))
        .and_then(|v| unsigned(v, "version", &stream_id, 0))?;
    let get = |column| Column { row, stream_id: &stream_id, version, column };
    let position = get(POSITION).u64("position")?;
    let Xid8(commit) = get(TX).get("tx")?;
    let event_version = get(EVENT_VERSION).u32("event_version")?;
    let MetadataColumn(metadata) = get(METADATA).get("metadata")?;
    Ok(RecordedEvent {
        aggregate_type: get(AGGREGATE_TYPE).get("aggregate_type")?,
        position: Position::new(commit, position),
        recorded_at: get(RECORDED_AT).get::<SystemTime>("recorded_at")?,
        event: EncodedEvent {
            name: get(EVENT_NAME).get("event_name")?,
            schema_version: event_version,
            payload: get(PAYLOAD).payload("payload")?,
        },
        metadata,
        version,
        stream_id,
    })
}

// The columns `sql/read_filtered.sql` adds after `STREAM_ID`.
const THROUGH_TX: usize = 10;
const THROUGH_POSITION: usize = 11;

/// The position a row of `sql/read_filtered.sql` was read through.
pub(crate) fn through(row: &Row) -> Result<Position, Error> {
    let col = |column| Column { row, stream_id: "<global order>", version: 0, column };
    let Xid8(commit) = col(THROUGH_TX).get("through tx")?;
    Ok(Position::new(commit, col(THROUGH_POSITION).u64("through position")?))
}

/// Whether a row of `sql/read_filtered.sql` holds an event (the one row
/// of a page with none does not).
pub(crate) fn has_event(row: &Row) -> bool {
    row.try_get::<_, Option<i64>>(POSITION).is_ok_and(|p| p.is_some())
}

/// Decodes a row of `sql/command_versions.sql`: the first and last version.
pub(crate) fn versions(stream_id: &str, row: &Row) -> Result<(u64, u64), Error> {
    let col = |column| Column { row, stream_id, version: 0, column };
    Ok((col(0).u64("first_version")?, col(1).u64("last_version")?))
}

/// Decodes a row of `sql/parked.sql`.
pub(crate) fn parked(row: &Row) -> Result<ParkedEvent, Error> {
    let col = |column| Column { row, stream_id: "<parked events>", version: 0, column };
    let discarded_at: Option<SystemTime> = col(10).get("discarded_at")?;
    let reason: Option<String> = col(11).get("discard_reason")?;
    Ok(ParkedEvent {
        id: col(0).u64("id")?,
        projection: col(1).get("projection")?,
        position: Position::new(col(2).u64("tx")?, col(3).u64("position")?),
        stream_id: col(4).get("stream_id")?,
        version: col(5).u64("version")?,
        event_name: col(6).get("event_name")?,
        error: col(7).get("error")?,
        attempts: col(8).u32("attempts")?,
        parked_at: col(9).get("parked_at")?,
        discarded: discarded_at.map(|at| (at, reason.unwrap_or_default())),
    })
}

/// Decodes a row of `sql/read_stream_events.sql`, whose columns start at
/// `first`, of a stream read as `aggregate_type`.
pub(crate) fn versioned_event(
    aggregate_type: &str,
    stream_id: &str,
    row: &Row,
    first: usize,
) -> Result<(u64, EncodedEvent), Error> {
    let col = |column| Column { row, stream_id, version: 0, column: first + column };
    let version = col(0).u64("version")?;
    let col = |column| Column { row, stream_id, version, column: first + column };
    let other_type: Option<&str> =
        row.try_get(first + 4).map_err(|e| corrupt(stream_id, version, "aggregate_type", e))?;
    if let Some(actual) = other_type {
        check_aggregate_type(aggregate_type, stream_id, actual)?;
    }
    let event_version = col(2).u32("event_version")?;
    Ok((
        version,
        EncodedEvent {
            name: col(1).get("event_name")?,
            schema_version: event_version,
            payload: col(3).payload("payload")?,
        },
    ))
}

/// Where the event columns of `sql/read_snapshot_and_events.sql` start,
/// after those of the snapshot.
const TAIL_EVENT: usize = 5;

/// A row of `sql/read_snapshot_and_events.sql`.
pub(crate) enum SnapshotOrEvent {
    Snapshot(Snapshot),
    Event((u64, EncodedEvent)),
}

/// Decodes a row of `sql/read_snapshot_and_events.sql`, of a stream read
/// as `aggregate_type`: an event row has its version, the snapshot row NULL
/// there.
pub(crate) fn snapshot_or_event(aggregate_type: &str, stream_id: &str, row: &Row) -> Result<SnapshotOrEvent, Error> {
    let is_event = row.try_get::<_, Option<i64>>(TAIL_EVENT).map_err(|e| corrupt(stream_id, 0, "version", e))?;
    Ok(match is_event {
        Some(_) => SnapshotOrEvent::Event(versioned_event(aggregate_type, stream_id, row, TAIL_EVENT)?),
        None => {
            let snapshot = snapshot(stream_id, row)?;
            check_aggregate_type(aggregate_type, stream_id, &snapshot.aggregate_type)?;
            SnapshotOrEvent::Snapshot(snapshot)
        }
    })
}

/// Decodes a row of `sql/load_snapshot.sql`.
pub(crate) fn snapshot(stream_id: &str, row: &Row) -> Result<Snapshot, Error> {
    let col = |column| Column { row, stream_id, version: 0, column };
    let version = col(1).u64("snapshot version")?;
    let schema_version = Column { row, stream_id, version, column: 2 }.u32("snapshot schema_version")?;
    Ok(Snapshot {
        aggregate_type: col(0).get("snapshot aggregate_type")?,
        stream_id: stream_id.to_owned(),
        version,
        schema_version,
        fingerprint: fingerprint_from_sql(col(4).get("snapshot fingerprint")?),
        state: col(3).payload("snapshot state")?,
    })
}

/// A fingerprint as stored: its 64 bits in a `BIGINT`. A hash has no sign,
/// so every `BIGINT` is a valid one.
pub(crate) fn fingerprint_to_sql(fingerprint: u64) -> i64 {
    i64::from_be_bytes(fingerprint.to_be_bytes())
}

fn fingerprint_from_sql(stored: i64) -> u64 {
    u64::from_be_bytes(stored.to_be_bytes())
}

/// One column of one row, with what an error about it must name.
struct Column<'a> {
    row: &'a Row,
    stream_id: &'a str,
    version: u64,
    column: usize,
}

impl Column<'_> {
    fn get<T: FromSqlOwned>(&self, name: &str) -> Result<T, Error> {
        self.row.try_get(self.column).map_err(|e| corrupt(self.stream_id, self.version, name, e))
    }

    fn payload(&self, name: &str) -> Result<Payload, Error> {
        self.get::<JsonColumn>(name).map(|JsonColumn(payload)| payload)
    }

    fn u64(&self, name: &str) -> Result<u64, Error> {
        unsigned(self.get(name)?, name, self.stream_id, self.version)
    }

    fn u32(&self, name: &str) -> Result<u32, Error> {
        unsigned32(self.get(name)?, name, self.stream_id, self.version)
    }
}

/// The `metadata` JSONB column. Most events carry none (`{}`), which is
/// recognized without running the JSON parser.
struct MetadataColumn(Metadata);

impl<'a> FromSql<'a> for MetadataColumn {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // JSONB's binary form is a format version byte, then the JSON text.
        match raw {
            [1, json @ ..] if json == b"{}" => Ok(MetadataColumn(Metadata::default())),
            [1, json @ ..] => Ok(MetadataColumn(serde_json::from_slice(json)?)),
            _ => Err("unsupported JSONB format version".into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(raw: &[u8]) -> Result<Metadata, Box<dyn std::error::Error + Sync + Send>> {
        MetadataColumn::from_sql(&Type::JSONB, raw).map(|MetadataColumn(m)| m)
    }

    #[test]
    fn empty_metadata_needs_no_parser() {
        assert_eq!(metadata(b"\x01{}").unwrap(), Metadata::default());
    }

    #[test]
    fn metadata_is_parsed_and_checked() {
        let parsed = metadata(br#"{"actor": "ada", "extra": {"ip": "10.0.0.1"}}"#.as_slice());
        assert!(parsed.is_err(), "a JSONB value starts with its format version");
        let mut raw = vec![1];
        raw.extend_from_slice(br#"{"actor": "ada", "extra": {"ip": "10.0.0.1"}}"#);
        assert_eq!(metadata(&raw).unwrap(), Metadata::default().with_actor("ada").with("ip", "10.0.0.1"));
        assert!(metadata(b"\x01{\"actor\": 42}").is_err());
        assert!(metadata(b"\x02{}").is_err());
        assert!(metadata(b"").is_err());
    }
}
