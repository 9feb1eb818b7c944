//! The statements of parked events, kept beside the checkpoint: parked in
//! the transaction that moves the checkpoint past them, taken out in the
//! transaction that finally handles them.

use es_core::RecordedEvent;
use es_core::projection::{ParkedEvent, ProjectionError};
use tokio_postgres::types::ToSql;

use crate::codec::convert::{bound, exact, stored};
use crate::codec::row;
use crate::connection::Executor;
use crate::error::Error;
use crate::schema::Schema;
use crate::store::PgEventStore;

/// Parks `event` for `projection` with `error` after `attempts`.
pub(crate) async fn park<E: Executor>(
    on: &E,
    schema: &Schema,
    projection: &str,
    event: &RecordedEvent,
    error: &str,
    attempts: u32,
) -> Result<(), Error> {
    // A count of attempts past `INTEGER` is recorded as its largest.
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    let (commit, sequence) =
        (stored(event.position.commit, "a position")?, stored(event.position.sequence, "a position")?);
    let version = stored(event.version, "a version")?;
    let params: [&(dyn ToSql + Sync); 8] =
        [&projection, &commit, &sequence, &event.stream_id, &version, &event.event.name, &error, &attempts];
    on.run(&schema.sql(include_str!("sql/park.sql")), &params).await?;
    Ok(())
}

/// Takes parked event `id` out; `false` when it is not parked (any more).
pub(crate) async fn unpark<E: Executor>(on: &E, schema: &Schema, projection: &str, id: u64) -> Result<bool, Error> {
    Ok(on.run(&schema.sql(include_str!("sql/unpark.sql")), &[&projection, &exact(id)]).await? == 1)
}

/// `projection`'s parked events by id after `after`, at most `limit`
/// (`None`: all), discarded ones included.
pub(crate) async fn list<E: Executor>(
    on: &E,
    schema: &Schema,
    projection: &str,
    after: u64,
    limit: Option<usize>,
) -> Result<Vec<ParkedEvent>, Error> {
    let limit = limit.map(|l| bound(l as u64));
    let rows = on.fetch_all(&schema.sql(include_str!("sql/parked.sql")), &[&projection, &bound(after), &limit]).await?;
    rows.iter().map(row::parked).collect()
}

/// Notes that a retry of parked event `id` failed again, with `error`.
pub(crate) async fn failed_again<E: Executor>(
    on: &E,
    schema: &Schema,
    projection: &str,
    id: u64,
    error: &str,
) -> Result<(), Error> {
    on.run(&schema.sql(include_str!("sql/retry_failed.sql")), &[&projection, &exact(id), &error]).await?;
    Ok(())
}

/// Marks parked event `id` discarded with `reason`; `false` when there is
/// no such event.
pub(crate) async fn discard<E: Executor>(
    on: &E,
    schema: &Schema,
    projection: &str,
    id: u64,
    reason: &str,
) -> Result<bool, Error> {
    Ok(on.run(&schema.sql(include_str!("sql/discard.sql")), &[&projection, &exact(id), &reason]).await? > 0)
}

/// Forgets `projection`'s parked events: a replay from the start handles
/// them again.
pub(crate) async fn forget<E: Executor>(on: &E, schema: &Schema, projection: &str) -> Result<(), Error> {
    on.run(&schema.sql(include_str!("sql/forget_parked.sql")), &[&projection]).await?;
    Ok(())
}

impl PgEventStore {
    /// The events projection `projection` parked, oldest first, discarded
    /// ones included (marked).
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, es_core::StoreError> {
        let client = self.client().await?;
        Ok(list(&client, &self.schema, projection, 0, None).await?)
    }

    /// Marks parked event `id` of `projection` as discarded, with the
    /// reason; it stays listed as the record of that decision.
    pub async fn discard_parked(&self, projection: &str, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let discarded = async {
            let client = self.client().await?;
            discard(&client, &self.schema, projection, id, reason).await
        };
        match discarded.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProjectionError::NotParked { projection: projection.to_owned(), id }),
            Err(e) => Err(ProjectionError::store(projection, e.into())),
        }
    }
}
