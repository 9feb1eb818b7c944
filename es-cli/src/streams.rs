//! `es streams`: the streams of the store, a page at a time.

use std::time::SystemTime;

use es_postgres::PgEventStore;
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output, table};
use crate::sql;

#[derive(Debug, Serialize)]
struct StreamRow {
    stream_id: String,
    aggregate_type: String,
    version: u64,
    last_recorded_at: String,
    #[serde(skip)]
    last_recorded: SystemTime,
}

/// `es streams`.
pub(crate) async fn show(
    store: &PgEventStore,
    category: Option<&str>,
    limit: u32,
    after: Option<&str>,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let client = sql::client(store).await?;
    let query = sql::render(store, include_str!("sql/streams.sql"));
    let rows = client.query(&query, &[&after, &category, &i64::from(limit)]).await?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in rows {
        let last_recorded: SystemTime = row.try_get("recorded_at")?;
        streams.push(StreamRow {
            stream_id: row.try_get("stream_id")?,
            aggregate_type: row.try_get("aggregate_type")?,
            version: sql::unsigned(&row, "version")?,
            last_recorded_at: output::time_exact(last_recorded),
            last_recorded,
        });
    }
    let full = streams.len() == limit as usize && limit > 0;
    out.emit(&streams, |w, streams| {
        let rows: Vec<Vec<String>> = streams
            .iter()
            .map(|s| {
                vec![
                    s.stream_id.clone(),
                    s.aggregate_type.clone(),
                    s.version.to_string(),
                    output::time(s.last_recorded),
                ]
            })
            .collect();
        table(w, &["STREAM", "TYPE", "VERSION", "LAST RECORDED"], &rows)?;
        match streams.last() {
            Some(last) if full => writeln!(w, "(first {limit} shown; next page: --after {})", last.stream_id),
            _ => Ok(()),
        }
    })
}
