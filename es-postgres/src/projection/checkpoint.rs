//! The statements of checkpoints, shared by every runner (projections,
//! outbox consumers) and by the waits of every process: each change bumps
//! the checkpoint's revision and notifies.

use es_core::Position;
use es_core::backend::CheckpointState;
use tokio_postgres::types::ToSql;

use crate::codec::convert::{bound, unsigned};
use crate::connection::Executor;
use crate::error::Error;
use crate::schema::Schema;

/// Where the checkpoint row stands, for the errors about it.
const CHECKPOINTS: &str = "<checkpoints>";

/// A checkpoint as a runner takes it over.
pub(crate) struct Loaded {
    pub(crate) position: Position,
    pub(crate) revision: u64,
}

/// Takes `name`'s checkpoint over: created at the start the first time,
/// cleared of the error it last stopped on.
pub(crate) async fn load<E: Executor>(on: &E, schema: &Schema, name: &str) -> Result<Loaded, Error> {
    let row = on
        .fetch_one(&schema.sql(include_str!("sql/load_checkpoint.sql")), &[&name, &schema.checkpoint_channel()])
        .await?;
    let column = |i, column| unsigned(row.try_get(i)?, column, CHECKPOINTS, 0);
    let position = Position::new(column(0, "tx")?, column(1, "position")?);
    Ok(Loaded { position, revision: column(2, "revision")? })
}

/// Moves `name`'s checkpoint `from` → `to` inside the runner's transaction
/// `on`; its new revision, or `None` when another runner moved it (the
/// transaction must then roll back).
pub(crate) async fn save<E: Executor>(
    on: &E,
    schema: &Schema,
    name: &str,
    from: Position,
    to: Position,
) -> Result<Option<u64>, Error> {
    let channel = schema.checkpoint_channel();
    let params: [&(dyn ToSql + Sync); 6] =
        [&name, &bound(from.commit), &bound(from.sequence), &bound(to.commit), &bound(to.sequence), &channel];
    let Some(row) = on.fetch_optional(&schema.sql(include_str!("sql/save_checkpoint.sql")), &params).await? else {
        return Ok(None);
    };
    Ok(Some(unsigned(row.try_get(0)?, "revision", CHECKPOINTS, 0)?))
}

/// Records that `name` stopped on `error`; the checkpoint's new revision.
pub(crate) async fn stop<E: Executor>(on: &E, schema: &Schema, name: &str, error: &str) -> Result<u64, Error> {
    let row = on
        .fetch_one(&schema.sql(include_str!("sql/stop_checkpoint.sql")), &[&name, &error, &schema.checkpoint_channel()])
        .await?;
    unsigned(row.try_get(0)?, "revision", CHECKPOINTS, 0)
}

/// Moves `name`'s checkpoint back to the start; `false` when there is none.
pub(crate) async fn reset<E: Executor>(on: &E, schema: &Schema, name: &str) -> Result<bool, Error> {
    Ok(on
        .fetch_optional(&schema.sql(include_str!("sql/reset_checkpoint.sql")), &[&name, &schema.checkpoint_channel()])
        .await?
        .is_some())
}

/// The stored states of the checkpoints `names` (those that exist).
pub(crate) async fn states<E: Executor>(
    on: &E,
    schema: &Schema,
    names: &[&str],
) -> Result<Vec<(String, CheckpointState)>, Error> {
    let rows = on.fetch_all(&schema.sql(include_str!("sql/checkpoints.sql")), &[&names]).await?;
    rows.iter()
        .map(|row| {
            let column = |i, column| unsigned(row.try_get(i)?, column, CHECKPOINTS, 0);
            let position = Position::new(column(1, "tx")?, column(2, "position")?);
            let state = CheckpointState { position, stopped: row.try_get(3)?, revision: column(4, "revision")? };
            Ok((row.try_get(0)?, state))
        })
        .collect()
}
