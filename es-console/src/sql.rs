//! Queries of the console's own, against the store's tables: the SQL lives
//! in `sql/*.sql` beside this file, with `{schema}` standing for the
//! store's quoted schema. Each list is read a page at a time by key.

use std::time::SystemTime;

use es_core::Position;
use es_postgres::PgEventStore;
use es_postgres::tokio_postgres::Row;
use es_postgres::tokio_postgres::types::ToSql;

use crate::error::Error;

/// The statements, rendered for one schema.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) streams: String,
    pub(crate) stream_head: String,
    pub(crate) version_at: String,
    pub(crate) checkpoints: String,
    pub(crate) runners: String,
    pub(crate) parked: String,
    pub(crate) tail_start: String,
}

impl Queries {
    pub(crate) fn new(store: &PgEventStore) -> Self {
        let render = |template: &str| template.replace("{schema}", store.quoted_schema());
        Queries {
            streams: render(include_str!("sql/streams.sql")),
            stream_head: render(include_str!("sql/stream_head.sql")),
            version_at: render(include_str!("sql/version_at.sql")),
            checkpoints: render(include_str!("sql/checkpoints.sql")),
            runners: include_str!("sql/runners.sql").to_owned(),
            parked: render(include_str!("sql/parked.sql")),
            tail_start: render(include_str!("sql/tail_start.sql")),
        }
    }
}

/// Runs `sql` on a connection of the store's pool.
pub(crate) async fn query(store: &PgEventStore, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
    let client = store.connection().await?;
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// A `bigint` column that holds a count, a version or a part of a position.
pub(crate) fn unsigned(row: &Row, column: &'static str) -> Result<u64, Error> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| Error::OutOfRange { column, value })
}

/// The position in the `tx` and `position` columns.
pub(crate) fn position(row: &Row) -> Result<Position, Error> {
    Ok(Position::new(unsigned(row, "tx")?, unsigned(row, "position")?))
}

/// A `timestamptz` column.
pub(crate) fn time(row: &Row, column: &'static str) -> Result<SystemTime, Error> {
    Ok(row.try_get(column)?)
}

/// A count, version or id for a `bigint` parameter; larger ones are
/// clamped, which matches nothing.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
