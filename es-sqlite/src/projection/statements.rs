//! The statements of checkpoints and parked events, over a connection (in
//! a runner's transaction or on their own).

use std::time::SystemTime;

use es_core::backend::CheckpointState;
use es_core::projection::ParkedEvent;
use es_core::{Position, RecordedEvent};
use rusqlite::{Connection, OptionalExtension};

use crate::codec::{bound, exact, stored, time_from_sql, time_to_sql, unsigned};
use crate::error::Error;

/// Where the rows here stand, for the errors about them.
const CHECKPOINTS: &str = "<checkpoints>";

fn now() -> i64 {
    time_to_sql(SystemTime::now())
}

fn position(commit: i64, sequence: i64) -> Result<Position, Error> {
    Ok(Position::new(unsigned(commit, "tx", CHECKPOINTS, 0)?, unsigned(sequence, "position", CHECKPOINTS, 0)?))
}

/// Takes `name`'s checkpoint over: where it stands and its revision.
pub(crate) fn load(c: &Connection, name: &str) -> Result<(Position, u64), Error> {
    let (commit, sequence, revision): (i64, i64, i64) = c
        .prepare_cached(include_str!("sql/load_checkpoint.sql"))?
        .query_row((name, now()), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok((position(commit, sequence)?, unsigned(revision, "revision", CHECKPOINTS, 0)?))
}

/// Moves `name`'s checkpoint `from` → `to`; its new revision, or `None`
/// when another runner moved it.
pub(crate) fn save(c: &Connection, name: &str, from: Position, to: Position) -> Result<Option<u64>, Error> {
    let params = (
        name,
        bound(from.commit),
        bound(from.sequence),
        stored(to.commit, "a position")?,
        stored(to.sequence, "a position")?,
        now(),
    );
    let revision: Option<i64> =
        c.prepare_cached(include_str!("sql/save_checkpoint.sql"))?.query_row(params, |r| r.get(0)).optional()?;
    revision.map(|r| unsigned(r, "revision", CHECKPOINTS, 0)).transpose()
}

/// Records that `name` stopped on `error`; the new revision.
pub(crate) fn stop(c: &Connection, name: &str, error: &str) -> Result<Option<u64>, Error> {
    let revision: Option<i64> = c
        .prepare_cached(include_str!("sql/stop_checkpoint.sql"))?
        .query_row((name, error, now()), |r| r.get(0))
        .optional()?;
    revision.map(|r| unsigned(r, "revision", CHECKPOINTS, 0)).transpose()
}

/// Moves `name`'s checkpoint back to the start; `false` when there is none.
pub(crate) fn reset(c: &Connection, name: &str) -> Result<bool, Error> {
    Ok(c.prepare_cached(include_str!("sql/reset_checkpoint.sql"))?
        .query_row((name, now()), |_| Ok(()))
        .optional()?
        .is_some())
}

/// `name`'s stored checkpoint, if it has one.
pub(crate) fn state(c: &Connection, name: &str) -> Result<Option<CheckpointState>, Error> {
    let row = c
        .prepare_cached(include_str!("sql/checkpoint.sql"))?
        .query_row([name], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, i64>(3)?))
        })
        .optional()?;
    row.map(|(commit, sequence, stopped, revision)| {
        Ok(CheckpointState {
            position: position(commit, sequence)?,
            stopped,
            revision: unsigned(revision, "revision", CHECKPOINTS, 0)?,
        })
    })
    .transpose()
}

/// A page of checkpoints by name, with their parked counts.
pub(crate) fn projections(
    c: &Connection,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<es_core::admin::ProjectionStatus>, Error> {
    let mut statement = c.prepare_cached(include_str!("sql/projections.sql"))?;
    let mut rows = statement.query((after, bound(limit as u64)))?;
    let mut statuses = Vec::new();
    while let Some(r) = rows.next()? {
        statuses.push(es_core::admin::ProjectionStatus {
            name: r.get(0)?,
            checkpoint: position(r.get(1)?, r.get(2)?)?,
            updated_at: time_from_sql(r.get(3)?),
            stopped: r.get(4)?,
            parked: unsigned(r.get(5)?, "parked", CHECKPOINTS, 0)?,
            runner: None,
            standbys: Vec::new(),
        });
    }
    Ok(statuses)
}

/// Parks `event` for `projection`.
pub(crate) fn park(
    c: &Connection,
    projection: &str,
    event: &RecordedEvent,
    error: &str,
    attempts: u32,
) -> Result<(), Error> {
    c.prepare_cached(include_str!("sql/park.sql"))?.execute((
        projection,
        stored(event.position.commit, "a position")?,
        stored(event.position.sequence, "a position")?,
        &event.stream_id,
        stored(event.version, "a version")?,
        &event.event.name,
        error,
        i64::from(attempts),
        now(),
    ))?;
    Ok(())
}

/// `projection`'s parked events by id after `after`, at most `limit`
/// (`None`: all).
pub(crate) fn parked(
    c: &Connection,
    projection: &str,
    after: u64,
    limit: Option<usize>,
) -> Result<Vec<ParkedEvent>, Error> {
    let limit = limit.map_or(-1, |l| bound(l as u64));
    let mut statement = c.prepare_cached(include_str!("sql/parked.sql"))?;
    let mut rows = statement.query((projection, bound(after), limit))?;
    let mut parked = Vec::new();
    while let Some(r) = rows.next()? {
        let stream_id: String = r.get(4)?;
        let discarded_at: Option<i64> = r.get(10)?;
        let reason: Option<String> = r.get(11)?;
        let attempts =
            u32::try_from(r.get::<_, i64>(8)?).map_err(|e| crate::codec::corrupt(&stream_id, 0, "attempts", e))?;
        parked.push(ParkedEvent {
            id: unsigned(r.get(0)?, "id", "<parked events>", 0)?,
            projection: r.get(1)?,
            position: position(r.get(2)?, r.get(3)?)?,
            version: unsigned(r.get(5)?, "version", &stream_id, 0)?,
            stream_id,
            event_name: r.get(6)?,
            error: r.get(7)?,
            attempts,
            parked_at: time_from_sql(r.get(9)?),
            discarded: discarded_at.map(|at| (time_from_sql(at), reason.unwrap_or_default())),
        });
    }
    Ok(parked)
}

/// Takes parked event `id` out; `false` when it is not parked.
pub(crate) fn unpark(c: &Connection, projection: &str, id: u64) -> Result<bool, Error> {
    Ok(c.prepare_cached(include_str!("sql/unpark.sql"))?.execute((projection, exact(id)))? == 1)
}

/// Notes that a retry of parked event `id` failed again.
pub(crate) fn failed_again(c: &Connection, projection: &str, id: u64, error: &str) -> Result<(), Error> {
    c.prepare_cached(include_str!("sql/retry_failed.sql"))?.execute((projection, exact(id), error))?;
    Ok(())
}

/// Marks parked event `id` discarded; `false` when there is none.
pub(crate) fn discard(c: &Connection, projection: &str, id: u64, reason: &str) -> Result<bool, Error> {
    Ok(c.prepare_cached(include_str!("sql/discard.sql"))?.execute((projection, exact(id), reason, now()))? > 0)
}

/// Forgets `projection`'s parked events.
pub(crate) fn forget(c: &Connection, projection: &str) -> Result<(), Error> {
    c.prepare_cached(include_str!("sql/forget_parked.sql"))?.execute([projection])?;
    Ok(())
}
