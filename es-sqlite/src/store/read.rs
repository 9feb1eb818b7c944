//! Reads of the event log and its snapshots, each run inside one
//! transaction (one snapshot of the file) on the blocking pool.

use es_core::backend::{check_aggregate_type, check_payload};
use es_core::{
    AggregateTypes, EncodedEvent, Page, Payload, Position, RecordedEvent, Snapshot, SnapshotAndEvents, StreamRange,
    validate_stream_id,
};
use rusqlite::{OptionalExtension, Transaction};

use crate::codec::{self, bound, stored, time_to_sql, unsigned};
use crate::error::Error;

/// The bounds of `range` as the statements of one stream take them.
fn range_params(range: &StreamRange) -> (i64, i64, Option<i64>) {
    (bound(range.after_version), range.up_to_version.map_or(i64::MAX, bound), range.up_to_time.map(time_to_sql))
}

/// One stream's events in `range`, with their envelopes.
pub(crate) fn stream(tx: &Transaction<'_>, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, Error> {
    validate_stream_id(stream_id)?;
    let (after, up_to, time) = range_params(&range);
    let mut statement = tx.prepare_cached(include_str!("sql/read_stream.sql"))?;
    let mut rows = statement.query((stream_id, after, up_to, time))?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(codec::event(row)?);
    }
    Ok(events)
}

/// One stream's events in `range` as folding reads them, refused when one
/// is of another aggregate type than `aggregate_type`.
pub(crate) fn stream_events(
    tx: &Transaction<'_>,
    aggregate_type: &str,
    stream_id: &str,
    range: StreamRange,
) -> Result<Vec<(u64, EncodedEvent)>, Error> {
    validate_stream_id(stream_id)?;
    let (after, up_to, time) = range_params(&range);
    let mut statement = tx.prepare_cached(include_str!("sql/read_stream_events.sql"))?;
    let mut rows = statement.query((stream_id, after, up_to, time))?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        check_aggregate_type(aggregate_type, stream_id, &row.get::<_, String>(0)?)?;
        events.push(codec::versioned_event(stream_id, row, 1)?);
    }
    Ok(events)
}

/// A stream's snapshot (unless past `range`'s end) and the events of
/// `range` after it when it has `schema_version`, after `range`'s start
/// otherwise: both in one snapshot of the file.
pub(crate) fn snapshot_and_events(
    tx: &Transaction<'_>,
    aggregate_type: &str,
    stream_id: &str,
    range: StreamRange,
    schema_version: u32,
) -> Result<SnapshotAndEvents, Error> {
    let snapshot = load_snapshot(tx, stream_id)?.filter(|s| range.up_to_version.is_none_or(|v| s.version <= v));
    if let Some(snapshot) = &snapshot {
        check_aggregate_type(aggregate_type, stream_id, &snapshot.aggregate_type)?;
    }
    let after = snapshot
        .as_ref()
        .filter(|s| s.schema_version == schema_version)
        .map_or(range.after_version, |s| s.version.max(range.after_version));
    let events = stream_events(tx, aggregate_type, stream_id, StreamRange { after_version: after, ..range })?;
    Ok(SnapshotAndEvents { snapshot, events })
}

/// Up to `limit` events of the global order after `after`.
pub(crate) fn all(tx: &Transaction<'_>, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
    let mut statement = tx.prepare_cached(include_str!("sql/read_all.sql"))?;
    let mut rows = statement.query((bound(after.sequence), bound(limit as u64)))?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(codec::event(row)?);
    }
    Ok(events)
}

/// A page of the events of `types` after `after`, and how far it looked.
pub(crate) fn types(
    tx: &Transaction<'_>,
    after: Position,
    limit: usize,
    types: &AggregateTypes,
) -> Result<Page, Error> {
    let AggregateTypes::Only(names) = types else {
        let events = all(tx, after, limit)?;
        let through = events.last().map_or(after, |e| e.position);
        return Ok(Page { events, through });
    };
    let names = serde_json::to_string(names).map_err(|e| Error::InvalidInput(format!("aggregate types: {e}")))?;
    let mut statement = tx.prepare_cached(include_str!("sql/read_types.sql"))?;
    let mut rows = statement.query((bound(after.sequence), bound(limit as u64), names))?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(codec::event(row)?);
    }
    // A full page may be followed by more events it reads: only its last is
    // known to be read through. Otherwise every event up to the head is, in
    // this snapshot.
    let through = match events.last() {
        Some(last) if events.len() == limit => last.position,
        _ => head(tx)?.unwrap_or(after).max(after),
    };
    Ok(Page { events, through })
}

/// The position of the last event, if there is one.
pub(crate) fn head(tx: &Transaction<'_>) -> Result<Option<Position>, Error> {
    let row = tx
        .prepare_cached(include_str!("sql/head_position.sql"))?
        .query_row([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
        .optional()?;
    row.map(|(commit, position)| {
        Ok(Position::new(
            unsigned(commit, "tx", "<global order>", 0)?,
            unsigned(position, "position", "<global order>", 0)?,
        ))
    })
    .transpose()
}

/// The number of events of `types`.
pub(crate) fn count(tx: &Transaction<'_>, types: &AggregateTypes) -> Result<u64, Error> {
    let names = match types {
        AggregateTypes::All => None,
        AggregateTypes::Only(names) => {
            Some(serde_json::to_string(names).map_err(|e| Error::InvalidInput(format!("aggregate types: {e}")))?)
        }
    };
    let count: i64 = tx.prepare_cached(include_str!("sql/count.sql"))?.query_row([names], |row| row.get(0))?;
    unsigned(count, "count", "<global order>", 0)
}

/// Saves `snapshot` unless a later one is stored; refused when the stream
/// holds events of another aggregate type.
pub(crate) fn save_snapshot(tx: &Transaction<'_>, snapshot: &Snapshot) -> Result<(), Error> {
    let head: Option<String> = tx
        .prepare_cached(include_str!("sql/head.sql"))?
        .query_row([&snapshot.stream_id], |row| row.get(1))
        .optional()?;
    if let Some(actual) = head {
        check_aggregate_type(&snapshot.aggregate_type, &snapshot.stream_id, &actual)?;
    }
    tx.prepare_cached(include_str!("sql/save_snapshot.sql"))?.execute((
        &snapshot.stream_id,
        &snapshot.aggregate_type,
        stored(snapshot.version, "a snapshot's version")?,
        i64::from(snapshot.schema_version),
        snapshot.state.as_str(),
        i64::from_be_bytes(snapshot.fingerprint.to_be_bytes()),
        time_to_sql(std::time::SystemTime::now()),
    ))?;
    Ok(())
}

/// Refuses a snapshot no store can take before anything is written.
pub(crate) fn validate_snapshot(snapshot: &Snapshot) -> Result<(), Error> {
    validate_stream_id(&snapshot.stream_id)?;
    check_payload(&snapshot.state, "a snapshot's state")?;
    stored(snapshot.version, "a snapshot's version")?;
    Ok(())
}

/// A stream's snapshot.
pub(crate) fn load_snapshot(tx: &Transaction<'_>, stream_id: &str) -> Result<Option<Snapshot>, Error> {
    validate_stream_id(stream_id)?;
    let mut statement = tx.prepare_cached(include_str!("sql/load_snapshot.sql"))?;
    let row = statement
        .query_row([stream_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((aggregate_type, version, schema_version, state, fingerprint)) = row else { return Ok(None) };
    let version = unsigned(version, "snapshot version", stream_id, 0)?;
    let schema_version =
        u32::try_from(schema_version).map_err(|e| codec::corrupt(stream_id, version, "snapshot schema_version", e))?;
    Ok(Some(Snapshot {
        aggregate_type,
        stream_id: stream_id.to_owned(),
        version,
        schema_version,
        fingerprint: u64::from_be_bytes(fingerprint.to_be_bytes()),
        state: Payload::from_json(state),
    }))
}

/// The events command `command_id` appended to `stream_id`, if it was
/// committed there.
pub(crate) fn command_events(
    tx: &Transaction<'_>,
    stream_id: &str,
    command_id: &str,
) -> Result<Option<Vec<RecordedEvent>>, Error> {
    validate_stream_id(stream_id)?;
    let versions = tx
        .prepare_cached(include_str!("sql/command_versions.sql"))?
        .query_row((stream_id, command_id), |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
        .optional()?;
    let Some((first, last)) = versions else { return Ok(None) };
    let (first, last) =
        (unsigned(first, "first_version", stream_id, 0)?, unsigned(last, "last_version", stream_id, 0)?);
    Ok(Some(stream(tx, stream_id, StreamRange::after(first.saturating_sub(1)).up_to_version(last))?))
}
