//! A stream's latest snapshot: saved unless a later one is stored, loaded
//! as it is.

use es_core::backend::{check_aggregate_type, check_payload};
use es_core::{Snapshot, validate_stream_id};

use crate::codec::convert::{stored, stored32};
use crate::codec::json::JsonParam;
use crate::codec::row;
use crate::connection::Executor;
use crate::error::Error;
use crate::schema::Schema;

/// Saves `snapshot` unless a later one is stored; refused when the stream
/// holds events of another aggregate type.
pub(crate) async fn save<E: Executor>(on: &E, schema: &Schema, snapshot: &Snapshot) -> Result<(), Error> {
    validate_stream_id(&snapshot.stream_id)?;
    check_payload(&snapshot.state, "a snapshot's state")?;
    let version = stored(snapshot.version, "a snapshot's version")?;
    let schema_version = stored32(snapshot.schema_version, "a snapshot's schema version")?;
    let fingerprint = row::fingerprint_to_sql(snapshot.fingerprint);
    let state = JsonParam(&snapshot.state);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&snapshot.stream_id, &snapshot.aggregate_type, &version, &schema_version, &state, &fingerprint];
    let row = on.fetch_one(&schema.sql(include_str!("sql/save_snapshot.sql")), &params).await?;
    if let Some(actual) = row.try_get::<_, Option<&str>>(0)? {
        check_aggregate_type(&snapshot.aggregate_type, &snapshot.stream_id, actual)?;
    }
    Ok(())
}

/// The stream's latest snapshot.
pub(crate) async fn load<E: Executor>(on: &E, schema: &Schema, stream_id: &str) -> Result<Option<Snapshot>, Error> {
    validate_stream_id(stream_id)?;
    let row = on.fetch_optional(&schema.sql(include_str!("sql/load_snapshot.sql")), &[&stream_id]).await?;
    row.map(|row| row::snapshot(stream_id, &row)).transpose()
}
