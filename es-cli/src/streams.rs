//! `es streams`: the streams of the store, a page at a time.

use std::time::SystemTime;

use es_core::admin::{StreamFilter, printable};
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output, table};
use crate::store::Store;

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
    store: &Store,
    aggregate_type: Option<&str>,
    limit: u32,
    after: Option<&str>,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let filter = StreamFilter {
        prefix: String::new(),
        aggregate_type: aggregate_type.map(str::to_owned),
        after: after.map(str::to_owned),
        limit: limit as usize,
    };
    let streams: Vec<StreamRow> = store
        .admin
        .streams(&filter)
        .await?
        .into_iter()
        .map(|s| StreamRow {
            last_recorded_at: output::time_exact(s.last_recorded_at),
            last_recorded: s.last_recorded_at,
            stream_id: s.stream_id,
            aggregate_type: s.aggregate_type,
            version: s.version,
        })
        .collect();
    let full = streams.len() == limit as usize && limit > 0;
    out.emit(&streams, |w, streams| {
        let rows: Vec<Vec<String>> = streams
            .iter()
            .map(|s| {
                vec![
                    printable(&s.stream_id).into_owned(),
                    printable(&s.aggregate_type).into_owned(),
                    s.version.to_string(),
                    output::time(s.last_recorded),
                ]
            })
            .collect();
        table(w, &["STREAM", "TYPE", "VERSION", "LAST RECORDED"], &rows)?;
        match streams.last() {
            Some(last) if full => {
                writeln!(w, "(first {limit} shown; next page: --after {})", printable(&last.stream_id))
            }
            _ => Ok(()),
        }
    })
}
