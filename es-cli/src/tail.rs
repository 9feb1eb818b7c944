//! `es tail`: the global order as it grows.

use std::time::Duration;

use es_core::admin::printable;
use es_core::{AggregateTypes, RecordedEvent};
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output};
use crate::store::Store;

/// Events read per page.
const PAGE: usize = 500;

#[derive(Debug, Serialize)]
struct TailRow<'a> {
    position: String,
    recorded_at: String,
    aggregate_type: &'a str,
    stream_id: &'a str,
    version: u64,
    event_name: &'a str,
    schema_version: u32,
}

/// What `tail` shows and how long it goes on.
#[derive(Debug)]
pub(crate) struct Tail<'a> {
    pub(crate) aggregate_type: Option<&'a str>,
    pub(crate) last: u32,
    pub(crate) follow: bool,
    pub(crate) interval: Duration,
}

/// `es tail`: the latest `last` events, then with `follow` every new one,
/// polling every `interval`, until the process is interrupted.
pub(crate) async fn run(store: &Store, tail: Tail<'_>, out: &mut Output<'_>) -> Result<(), Error> {
    let mut after = store.admin.tail_start(tail.aggregate_type, tail.last as usize).await?;
    let categories = tail.aggregate_type.map_or(AggregateTypes::All, |c| AggregateTypes::only([c]));
    loop {
        let page = store.admin.read_types(after, PAGE, &categories).await?;
        if page.through == after {
            if !tail.follow {
                return Ok(());
            }
            tokio::time::sleep(tail.interval).await;
            continue;
        }
        after = page.through;
        for event in &page.events {
            print(event, out)?;
        }
    }
}

fn print(e: &RecordedEvent, out: &mut Output<'_>) -> Result<(), Error> {
    let row = TailRow {
        position: e.position.to_string(),
        recorded_at: output::time_exact(e.recorded_at),
        aggregate_type: &e.aggregate_type,
        stream_id: &e.stream_id,
        version: e.version,
        event_name: &e.event.name,
        schema_version: e.event.schema_version,
    };
    let time = output::time(e.recorded_at);
    out.line(&row, |w, r| {
        let (aggregate_type, stream_id, name) =
            (printable(r.aggregate_type), printable(r.stream_id), printable(r.event_name));
        writeln!(w, "{}  {time}  {aggregate_type} {stream_id} #{}  {name}", r.position, r.version)
    })
}
