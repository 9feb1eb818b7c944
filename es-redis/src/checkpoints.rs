//! The operations on checkpoints and parked events, over a connection.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::admin::ProjectionStatus;
use es_core::backend::CheckpointState;
use es_core::projection::ParkedEvent;
use es_core::{Position, RecordedEvent};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::error::{Error, is_outage};
use crate::keys::{self, Keys};
use crate::projection::RedisWrites;

static COMMIT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(include_str!("lua/commit.lua")));
static TAKE_OVER: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(include_str!("lua/take_over.lua")));
static CHANGE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(include_str!("lua/change.lua")));

/// Microseconds since the Unix epoch, as the keys keep times.
fn micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn time(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

fn now() -> u64 {
    micros(SystemTime::now())
}

fn number(value: Option<String>, what: &str) -> Result<u64, Error> {
    let value = value.unwrap_or_else(|| "0".to_owned());
    value.parse().map_err(|_| Error::Corrupt(format!("the checkpoint's {what} is `{value}`, not a number")))
}

/// Takes `name`'s checkpoint over: where it stands and its revision.
pub(crate) async fn take_over(c: &mut ConnectionManager, prefix: &str, name: &str) -> Result<(Position, u64), Error> {
    let keys = Keys::new(prefix, name);
    let (tx, position, revision): (String, String, u64) =
        TAKE_OVER.key(&keys.checkpoint).key(keys::projections(prefix)).arg(name).arg(now()).invoke_async(c).await?;
    Ok((Position::new(number(Some(tx), "tx")?, number(Some(position), "position")?), revision))
}

/// Runs `writes` and, with `checkpoint`, moves it `from` → `to`, in one
/// script; the checkpoint's revision, or `None` when another runner moved
/// it and nothing was written.
pub(crate) async fn commit(
    c: &mut ConnectionManager,
    keys: &Keys,
    checkpoint: Option<(Position, Position)>,
    writes: &RedisWrites,
) -> Result<Option<u64>, Error> {
    let (from, to) = checkpoint.unwrap_or_default();
    let mut invocation = COMMIT.key(&keys.checkpoint);
    invocation.key(&keys.parked).key(&keys.parked_ids).key(&keys.parked_at);
    invocation.arg(if checkpoint.is_some() { "1" } else { "0" });
    invocation.arg(from.commit).arg(from.sequence).arg(to.commit).arg(to.sequence).arg(now());
    for word in &writes.words {
        invocation.arg(word.as_slice());
    }
    match invocation.invoke_async(c).await {
        Ok(revision) => Ok(revision),
        Err(e) if is_outage(&e) => Err(Error::Redis(e)),
        Err(e) => Err(Error::PartlyApplied(e)),
    }
}

/// Records that `name` stopped on `error`; the new revision.
pub(crate) async fn stop(c: &mut ConnectionManager, keys: &Keys, error: &str) -> Result<Option<u64>, Error> {
    Ok(CHANGE.key(&keys.checkpoint).arg("stop").arg(error).arg(now()).invoke_async(c).await?)
}

/// Moves `name`'s checkpoint back to the start; `false` when there is none.
pub(crate) async fn reset(c: &mut ConnectionManager, keys: &Keys) -> Result<bool, Error> {
    let revision: Option<u64> = CHANGE.key(&keys.checkpoint).arg("reset").arg("").arg(now()).invoke_async(c).await?;
    Ok(revision.is_some())
}

/// The checkpoint hash's fields.
type Fields = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

async fn fields(c: &mut ConnectionManager, keys: &Keys) -> Result<Option<Fields>, Error> {
    let fields: Fields = c.hget(&keys.checkpoint, &["tx", "position", "revision", "updated_at", "error"]).await?;
    Ok(fields.0.is_some().then_some(fields))
}

/// `name`'s stored checkpoint, if it has one.
pub(crate) async fn state(c: &mut ConnectionManager, keys: &Keys) -> Result<Option<CheckpointState>, Error> {
    let Some((tx, position, revision, _, stopped)) = fields(c, keys).await? else { return Ok(None) };
    Ok(Some(CheckpointState {
        position: Position::new(number(tx, "tx")?, number(position, "position")?),
        stopped,
        revision: number(revision, "revision")?,
    }))
}

/// A parked event as stored: JSON under its id.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    tx: u64,
    position: u64,
    stream_id: String,
    version: u64,
    event_name: String,
    error: String,
    attempts: u32,
    parked_at: u64,
    discarded_at: Option<u64>,
    discard_reason: Option<String>,
}

fn encode(record: &Record) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// Queues the parking of `event` in `writes`.
pub(crate) fn park(writes: &mut RedisWrites, event: &RecordedEvent, error: String, attempts: u32) {
    let record = Record {
        tx: event.position.commit,
        position: event.position.sequence,
        stream_id: event.stream_id.clone(),
        version: event.version,
        event_name: event.event.name.clone(),
        error,
        attempts,
        parked_at: now(),
        discarded_at: None,
        discard_reason: None,
    };
    writes.park(format!("{}/{}", record.tx, record.position), encode(&record));
}

/// Queues taking parked event `id` out, if it is parked; `false` when it
/// is not.
pub(crate) async fn unpark(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: u64,
    writes: &mut RedisWrites,
) -> Result<bool, Error> {
    let Some(record) = record(c, keys, id).await? else { return Ok(false) };
    writes.command("HDEL", (&keys.parked, id));
    writes.command("HDEL", (&keys.parked_at, format!("{}/{}", record.tx, record.position)));
    Ok(true)
}

/// Queues forgetting every parked event of the projection.
pub(crate) fn forget(keys: &Keys, writes: &mut RedisWrites) {
    writes.command("DEL", (&keys.parked, &keys.parked_at));
}

async fn record(c: &mut ConnectionManager, keys: &Keys, id: u64) -> Result<Option<Record>, Error> {
    let stored: Option<Vec<u8>> = c.hget(&keys.parked, id).await?;
    stored.map(|json| decode(id, &json)).transpose()
}

fn decode(id: u64, json: &[u8]) -> Result<Record, Error> {
    serde_json::from_slice(json).map_err(|e| Error::Corrupt(format!("parked event {id} does not decode: {e}")))
}

/// Changes parked event `id` with `change`; `false` when there is none.
pub(crate) async fn update(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: u64,
    change: impl FnOnce(&mut ParkedChange<'_>),
) -> Result<bool, Error> {
    let Some(mut record) = record(c, keys, id).await? else { return Ok(false) };
    change(&mut ParkedChange(&mut record));
    let () = c.hset(&keys.parked, id, encode(&record)).await?;
    Ok(true)
}

/// What can change of a parked event.
pub(crate) struct ParkedChange<'a>(&'a mut Record);

impl ParkedChange<'_> {
    /// A retry failed again with `error`.
    pub(crate) fn failed_again(&mut self, error: &str) {
        self.0.error = error.to_owned();
        self.0.attempts = self.0.attempts.saturating_add(1);
    }

    /// An operator discarded it.
    pub(crate) fn discard(&mut self, reason: &str) {
        self.0.discarded_at = Some(now());
        self.0.discard_reason = Some(reason.to_owned());
    }
}

/// `projection`'s parked events by id after `after`, at most `limit`.
pub(crate) async fn parked(
    c: &mut ConnectionManager,
    keys: &Keys,
    projection: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<ParkedEvent>, Error> {
    let stored: Vec<(u64, Vec<u8>)> = c.hgetall(&keys.parked).await?;
    let mut parked = stored
        .into_iter()
        .filter(|(id, _)| *id > after)
        .map(|(id, json)| {
            let r = decode(id, &json)?;
            Ok(ParkedEvent {
                id,
                projection: projection.to_owned(),
                position: Position::new(r.tx, r.position),
                stream_id: r.stream_id,
                version: r.version,
                event_name: r.event_name,
                error: r.error,
                attempts: r.attempts,
                parked_at: time(r.parked_at),
                discarded: r.discarded_at.map(|at| (time(at), r.discard_reason.unwrap_or_default())),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    parked.sort_by_key(|p| p.id);
    parked.truncate(limit);
    Ok(parked)
}

/// A page of checkpoints by name after `after`, with their parked counts.
pub(crate) async fn projections(
    c: &mut ConnectionManager,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ProjectionStatus>, Error> {
    let mut names: Vec<String> = c.smembers(keys::projections(prefix)).await?;
    names.sort();
    names.retain(|name| after.is_none_or(|after| name.as_str() > after));
    names.truncate(limit);
    let mut statuses = Vec::with_capacity(names.len());
    for name in names {
        let keys = Keys::new(prefix, &name);
        let Some((tx, position, _, updated_at, stopped)) = fields(c, &keys).await? else { continue };
        let parked = parked(c, &keys, &name, 0, usize::MAX).await?;
        statuses.push(ProjectionStatus {
            checkpoint: Position::new(number(tx, "tx")?, number(position, "position")?),
            updated_at: time(number(updated_at, "updated_at")?),
            stopped,
            parked: parked.iter().filter(|p| p.discarded.is_none()).count() as u64,
            runner: None,
            standbys: Vec::new(),
            name,
        });
    }
    Ok(statuses)
}
