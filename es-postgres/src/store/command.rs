//! Commands sent with a command id: the events one committed on a stream.

use es_core::{RecordedEvent, StreamRange, validate_stream_id};

use crate::codec::row;
use crate::connection::Executor;
use crate::error::Error;
use crate::schema::Schema;
use crate::store::read;

/// The events command `command_id` appended to `stream_id`, if it was
/// committed there: its versions from the `commands` table, then those
/// events.
pub(crate) async fn events<E: Executor>(
    on: &E,
    schema: &Schema,
    stream_id: &str,
    command_id: &str,
) -> Result<Option<Vec<RecordedEvent>>, Error> {
    validate_stream_id(stream_id)?;
    let Some(row) =
        on.fetch_optional(&schema.sql(include_str!("sql/command_versions.sql")), &[&stream_id, &command_id]).await?
    else {
        return Ok(None);
    };
    let (first, last) = row::versions(stream_id, &row)?;
    let range = StreamRange::after(first.saturating_sub(1)).up_to_version(last);
    Ok(Some(read::stream(on, schema, stream_id, range).await?))
}
