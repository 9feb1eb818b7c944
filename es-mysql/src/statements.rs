//! The statements of checkpoints, parked events and the projection lock,
//! on a connection (in a runner's transaction or on their own).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::admin::{ProjectionStatus, RunnerInfo};
use es_core::backend::CheckpointState;
use es_core::projection::ParkedEvent;
use es_core::{Position, RecordedEvent};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::error::Error;

/// The longest projection name the tables hold.
const NAME_LIMIT: usize = 190;

/// Microseconds since the Unix epoch, as the tables keep times.
fn micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn time(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

fn now() -> i64 {
    micros(SystemTime::now())
}

/// Refuses a projection name the tables cannot hold, before any statement
/// truncates or refuses it.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    match name.chars().count() {
        0 => Err(Error::InvalidInput("a projection needs a name".into())),
        n if n > NAME_LIMIT => Err(Error::InvalidInput(format!(
            "projection name `{name}` has {n} characters; a MariaDB/MySQL target holds {NAME_LIMIT} at most"
        ))),
        _ => Ok(()),
    }
}

/// Creates the checkpoint and parked-event tables when missing.
pub(crate) async fn create_tables(c: &mut Conn) -> Result<(), mysql_async::Error> {
    c.query_drop(include_str!("sql/checkpoints_table.sql")).await?;
    c.query_drop(include_str!("sql/parked_table.sql")).await
}

/// The tables of the database whose engine cannot roll back, with it.
pub(crate) async fn not_transactional(c: &mut Conn) -> Result<Vec<(String, String)>, mysql_async::Error> {
    c.query(include_str!("sql/not_transactional.sql")).await
}

/// Takes the projection's lock for `c`'s session, without waiting.
pub(crate) async fn take_lock(c: &mut Conn, name: &str) -> Result<bool, Error> {
    let taken: Option<Option<i64>> = c.exec_first(include_str!("sql/take_lock.sql"), (name,)).await?;
    Ok(taken.flatten() == Some(1))
}

/// Takes `name`'s checkpoint over, in a transaction: where it stands and
/// its revision.
pub(crate) async fn take_over(c: &mut Conn, name: &str) -> Result<(Position, u64), Error> {
    check_name(name)?;
    c.query_drop("START TRANSACTION").await?;
    c.exec_drop(include_str!("sql/take_over.sql"), (name, now())).await?;
    let state = state(c, name).await?;
    c.query_drop("COMMIT").await?;
    let state = state.ok_or_else(|| Error::Corrupt(format!("the checkpoint of `{name}` vanished")))?;
    Ok((state.position, state.revision))
}

/// Locks `name`'s checkpoint row in the open transaction.
pub(crate) async fn lock_checkpoint(c: &mut Conn, name: &str) -> Result<(), Error> {
    c.exec_drop(include_str!("sql/lock_checkpoint.sql"), (name,)).await?;
    Ok(())
}

/// Moves `name`'s checkpoint `from` → `to` in the open transaction; its
/// new revision, or `None` when another runner moved it. On MariaDB it
/// first checks that the transaction is still open.
pub(crate) async fn save(
    c: &mut Conn,
    mariadb: bool,
    name: &str,
    from: Position,
    to: Position,
) -> Result<Option<u64>, Error> {
    if mariadb {
        let open: Option<i64> = c.query_first(include_str!("sql/in_transaction.sql")).await?;
        if open != Some(1) {
            return Err(Error::EndedTransaction);
        }
    }
    let params = (to.commit, to.sequence, now(), name, from.commit, from.sequence);
    c.exec_drop(include_str!("sql/save_checkpoint.sql"), params).await?;
    if c.affected_rows() != 1 {
        return Ok(None);
    }
    let revision: Option<u64> = c.exec_first(include_str!("sql/revision.sql"), (name,)).await?;
    revision.map(Some).ok_or_else(|| Error::Corrupt(format!("the checkpoint of `{name}` vanished")))
}

/// Records that `name` stopped on `error`; the new revision.
pub(crate) async fn stop(c: &mut Conn, name: &str, error: &str) -> Result<Option<u64>, Error> {
    c.exec_drop(include_str!("sql/stop_checkpoint.sql"), (error, now(), name)).await?;
    Ok(state(c, name).await?.map(|s| s.revision))
}

/// Moves `name`'s checkpoint back to the start; `false` when there is none.
pub(crate) async fn reset(c: &mut Conn, name: &str) -> Result<bool, Error> {
    c.exec_drop(include_str!("sql/reset_checkpoint.sql"), (now(), name)).await?;
    Ok(c.affected_rows() == 1)
}

/// `name`'s stored checkpoint, if it has one.
pub(crate) async fn state(c: &mut Conn, name: &str) -> Result<Option<CheckpointState>, Error> {
    let row: Option<(u64, u64, Option<String>, u64)> =
        c.exec_first(include_str!("sql/checkpoint.sql"), (name,)).await?;
    Ok(row.map(|(commit, sequence, stopped, revision)| CheckpointState {
        position: Position::new(commit, sequence),
        stopped,
        revision,
    }))
}

/// A row of `projections.sql`.
type StatusRow = (String, u64, u64, i64, Option<String>, u64, Option<u64>, Option<String>);

/// A page of checkpoints by name, with their parked counts and runners.
pub(crate) async fn projections(
    c: &mut Conn,
    database: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ProjectionStatus>, Error> {
    let rows: Vec<StatusRow> = c.exec(include_str!("sql/projections.sql"), (after, after, limit as u64)).await?;
    Ok(rows
        .into_iter()
        .map(|(name, commit, sequence, updated_at, stopped, parked, holder, host)| {
            let runner = holder.map(|pid| RunnerInfo {
                name: es_core::admin::projection_runner_name(database, &name),
                host: host.unwrap_or_default(),
                pid: i64::try_from(pid).unwrap_or(i64::MAX),
                process: None,
            });
            ProjectionStatus {
                checkpoint: Position::new(commit, sequence),
                updated_at: time(updated_at),
                stopped,
                parked,
                runner,
                standbys: Vec::new(),
                name,
            }
        })
        .collect())
}

/// Parks `event` for `projection` in the open transaction.
pub(crate) async fn park(
    c: &mut Conn,
    projection: &str,
    event: &RecordedEvent,
    error: &str,
    attempts: u32,
) -> Result<(), Error> {
    let params = (
        projection,
        event.position.commit,
        event.position.sequence,
        &event.stream_id,
        event.version,
        &event.event.name,
        error,
        attempts,
        now(),
    );
    c.exec_drop(include_str!("sql/park.sql"), params).await?;
    Ok(())
}

/// A row of `parked.sql`.
type ParkedRow = (u64, String, u64, u64, String, u64, String, String, u32, i64, Option<i64>, Option<String>);

/// `projection`'s parked events by id after `after`, at most `limit`.
pub(crate) async fn parked(
    c: &mut Conn,
    projection: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<ParkedEvent>, Error> {
    let rows: Vec<ParkedRow> = c.exec(include_str!("sql/parked.sql"), (projection, after, limit as u64)).await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                projection,
                commit,
                sequence,
                stream_id,
                version,
                event_name,
                error,
                attempts,
                parked_at,
                at,
                why,
            )| {
                ParkedEvent {
                    id,
                    projection,
                    position: Position::new(commit, sequence),
                    stream_id,
                    version,
                    event_name,
                    error,
                    attempts,
                    parked_at: time(parked_at),
                    discarded: at.map(|at| (time(at), why.unwrap_or_default())),
                }
            },
        )
        .collect())
}

/// Takes parked event `id` out in the open transaction; `false` when it
/// is not parked.
pub(crate) async fn unpark(c: &mut Conn, projection: &str, id: u64) -> Result<bool, Error> {
    c.exec_drop(include_str!("sql/unpark.sql"), (projection, id)).await?;
    Ok(c.affected_rows() == 1)
}

/// Notes that a retry of parked event `id` failed again.
pub(crate) async fn failed_again(c: &mut Conn, projection: &str, id: u64, error: &str) -> Result<(), Error> {
    c.exec_drop(include_str!("sql/retry_failed.sql"), (error, projection, id)).await?;
    Ok(())
}

/// Marks parked event `id` discarded; `false` when there is none.
pub(crate) async fn discard(c: &mut Conn, projection: &str, id: u64, reason: &str) -> Result<bool, Error> {
    c.exec_drop(include_str!("sql/discard.sql"), (now(), reason, projection, id)).await?;
    Ok(c.affected_rows() > 0)
}

/// Forgets `projection`'s parked events in the open transaction.
pub(crate) async fn forget(c: &mut Conn, projection: &str) -> Result<(), Error> {
    c.exec_drop(include_str!("sql/forget_parked.sql"), (projection,)).await?;
    Ok(())
}
