//! Queries of the command line's own, against the store's tables: the SQL
//! lives in `sql/*.sql` beside this file, with `{schema}` standing for the
//! store's quoted schema.

use es_core::Position;
use es_postgres::PgEventStore;
use es_postgres::deadpool_postgres::Client;
use es_postgres::tokio_postgres::Row;

use crate::error::Error;

/// `template` with every `{schema}` replaced by the store's quoted schema.
pub(crate) fn render(store: &PgEventStore, template: &str) -> String {
    template.replace("{schema}", store.quoted_schema())
}

/// A connection from the store's pool.
pub(crate) async fn client(store: &PgEventStore) -> Result<Client, Error> {
    Ok(store.connection().await?)
}

/// A `bigint` column that holds a count, a version or a part of a position.
pub(crate) fn unsigned(row: &Row, column: &'static str) -> Result<u64, Error> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| Error::Negative { column, value })
}

/// The position in the `tx` and `position` columns (the transaction id read
/// as `tx::text::int8`).
pub(crate) fn position(row: &Row) -> Result<Position, Error> {
    Ok(Position::new(unsigned(row, "tx")?, unsigned(row, "position")?))
}
