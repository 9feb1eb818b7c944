//! `es status`: the store at a glance.

use std::io::Write;
use std::time::Duration;

use indicatif::HumanBytes;
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output};
use crate::projections::{self, ProjectionRow};
use crate::store::Store;

#[derive(Debug, Serialize)]
struct Status {
    /// Where the store lives, under its kind: `"schema": "es"`.
    #[serde(flatten)]
    location: std::collections::BTreeMap<&'static str, String>,
    events: u64,
    streams: u64,
    /// The latest committed event's position, if there is one.
    head: Option<String>,
    size_bytes: Option<u64>,
    /// Committed events readers of the global order do not get yet.
    held_back: Option<u64>,
    /// How long the oldest open writing transaction has been running.
    oldest_transaction_seconds: Option<f64>,
    projections: Vec<ProjectionRow>,
}

/// `es status`.
pub(crate) async fn show(store: &Store, out: &mut Output<'_>) -> Result<(), Error> {
    let status = store.admin.status().await?;
    let location = store.location();
    let status = Status {
        location: [(location.kind, location.name)].into(),
        events: status.events,
        streams: status.streams,
        head: status.head.map(|p| p.to_string()),
        size_bytes: status.size_bytes,
        held_back: status.read_lag.map(|lag| lag.held_back),
        oldest_transaction_seconds: status.read_lag.and_then(|lag| lag.oldest_transaction).map(|d| d.as_secs_f64()),
        projections: projections::list(store).await?,
    };
    out.emit(&status, |w, s| write_status(w, s))
}

fn write_status(w: &mut dyn Write, s: &Status) -> std::io::Result<()> {
    for (kind, name) in &s.location {
        writeln!(w, "{kind:<14}{name}")?;
    }
    writeln!(w, "events        {}", s.events)?;
    writeln!(w, "streams       {}", s.streams)?;
    writeln!(w, "head          {}", output::or_dash(s.head.clone()))?;
    if let Some(bytes) = s.size_bytes {
        writeln!(w, "size on disk  {}", HumanBytes(bytes))?;
    }
    if let Some(held_back) = s.held_back {
        let oldest = match s.oldest_transaction_seconds.and_then(|secs| Duration::try_from_secs_f64(secs).ok()) {
            Some(age) => format!("the oldest open writing transaction started {} ago", output::duration(age)),
            None => "no writing transaction open".to_owned(),
        };
        writeln!(w, "read lag      {held_back} events held back; {oldest}")?;
    }
    if s.projections.is_empty() {
        writeln!(w, "projections   none")
    } else {
        writeln!(w, "projections")?;
        projections::write_table(w, &s.projections)
    }
}
