//! `parked NAME`, `parked NAME retry ID` and `parked NAME discard ID`.

use std::io::Write;

use es_core::admin::printable;
use es_core::projection::ParkedEvent;
use es_postgres::PgEventStore;
use serde::Serialize;

use crate::app::Mounted;
use crate::error::Error;
use crate::output::{self, Output, table};
use crate::store::Store;

/// Parked events read per page.
const PAGE: usize = 500;

/// A parked event as listed.
#[derive(Debug, Serialize)]
struct ParkedRow {
    id: u64,
    position: String,
    stream_id: String,
    version: u64,
    event_name: String,
    attempts: u32,
    parked_at: String,
    error: String,
    discarded_at: Option<String>,
    discard_reason: Option<String>,
}

impl From<ParkedEvent> for ParkedRow {
    fn from(p: ParkedEvent) -> Self {
        let (discarded_at, discard_reason) = p.discarded.map(|(at, why)| (output::time_exact(at), why)).unzip();
        ParkedRow {
            id: p.id,
            position: p.position.to_string(),
            stream_id: p.stream_id,
            version: p.version,
            event_name: p.event_name,
            attempts: p.attempts,
            parked_at: output::time_exact(p.parked_at),
            error: p.error,
            discarded_at,
            discard_reason,
        }
    }
}

/// `es parked NAME`: the projection's parked events, oldest first.
pub(crate) async fn list(store: &Store, projection: &str, out: &mut Output<'_>) -> Result<(), Error> {
    let mut parked: Vec<ParkedRow> = Vec::new();
    loop {
        let page = store.projections.parked(projection, parked.last().map_or(0, |p| p.id), PAGE).await?;
        let full = page.len() == PAGE;
        parked.extend(page.into_iter().map(ParkedRow::from));
        if !full {
            break;
        }
    }
    out.emit(&parked, |w, rows| match rows.is_empty() {
        true => writeln!(w, "projection `{projection}` has no parked events"),
        false => write_table(w, rows),
    })
}

fn write_table(out: &mut dyn Write, parked: &[ParkedRow]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = parked
        .iter()
        .map(|p| {
            let state = match &p.discard_reason {
                Some(reason) => format!("discarded: {}", printable(reason)),
                None => "parked".to_owned(),
            };
            vec![
                p.id.to_string(),
                p.position.clone(),
                format!("{} #{}", printable(&p.stream_id), p.version),
                printable(&p.event_name).into_owned(),
                p.attempts.to_string(),
                p.parked_at.clone(),
                state,
                printable(&p.error).into_owned(),
            ]
        })
        .collect();
    table(out, &["ID", "POSITION", "EVENT", "NAME", "ATTEMPTS", "PARKED AT", "STATE", "ERROR"], &rows)
}

#[derive(Serialize)]
struct Done<'a> {
    projection: &'a str,
    id: u64,
    done: &'static str,
}

/// `es parked NAME discard ID --reason TEXT`.
pub(crate) async fn discard(
    store: &Store,
    projection: &str,
    id: u64,
    reason: &str,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    store.projections.discard_parked(projection, id, reason).await?;
    let done = Done { projection, id, done: "discarded" };
    out.emit(&done, |w, d| {
        writeln!(w, "parked event {} of projection `{}` discarded; it stays on record", d.id, d.projection)
    })
}

/// `es parked NAME retry ID`: hands the event to the application's
/// projection once more.
pub(crate) async fn retry(
    store: &PgEventStore,
    projection: Box<dyn Mounted>,
    id: u64,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let name = projection.name().to_owned();
    projection.retry_parked(store.clone(), id).await?;
    let done = Done { projection: &name, id, done: "retried" };
    out.emit(&done, |w, d| {
        writeln!(w, "parked event {} of projection `{}` handled and no longer parked", d.id, d.projection)
    })
}
