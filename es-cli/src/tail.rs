//! `es tail`: the global order as it grows.

use std::time::Duration;

use es_core::{EventStore, Position, RecordedEvent};
use es_postgres::PgEventStore;
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output};
use crate::sql;

/// Events read per call of `read_all`.
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
    pub(crate) category: Option<&'a str>,
    pub(crate) last: u32,
    pub(crate) follow: bool,
    pub(crate) interval: Duration,
}

/// `es tail`: the latest `last` events, then with `follow` every new one,
/// polling every `interval`, until the process is interrupted.
pub(crate) async fn run(store: &PgEventStore, tail: Tail<'_>, out: &mut Output<'_>) -> Result<(), Error> {
    let mut after = start(store, tail.category, tail.last).await?;
    loop {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else {
            if !tail.follow {
                return Ok(());
            }
            tokio::time::sleep(tail.interval).await;
            continue;
        };
        after = last.position;
        for event in page.iter().filter(|e| tail.category.is_none_or(|c| e.aggregate_type == c)) {
            print(event, out)?;
        }
    }
}

/// The position to read after so that the `last` latest events come first.
async fn start(store: &PgEventStore, category: Option<&str>, last: u32) -> Result<Position, Error> {
    let client = sql::client(store).await?;
    let query = sql::render(store, include_str!("sql/tail_start.sql"));
    match client.query_opt(&query, &[&category, &i64::from(last)]).await? {
        Some(row) => sql::position(&row),
        None => Ok(Position::START),
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
        writeln!(w, "{}  {time}  {} {} #{}  {}", r.position, r.aggregate_type, r.stream_id, r.version, r.event_name)
    })
}
