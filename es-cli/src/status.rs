//! `es status`: the store at a glance.

use std::io::Write;
use std::time::Duration;

use es_postgres::PgEventStore;
use indicatif::HumanBytes;
use serde::Serialize;

use crate::error::Error;
use crate::output::{self, Output};
use crate::projections::{self, ProjectionRow};
use crate::sql;

#[derive(Debug, Serialize)]
struct Status {
    schema: String,
    events: u64,
    streams: u64,
    /// The latest committed event's position, if there is one.
    head: Option<String>,
    size_bytes: u64,
    /// Committed events `read_all` holds back behind an open transaction.
    held_back: u64,
    /// How long the oldest open writing transaction has been running.
    oldest_transaction_seconds: Option<f64>,
    projections: Vec<ProjectionRow>,
}

/// `es status`.
pub(crate) async fn show(store: &PgEventStore, out: &mut Output<'_>) -> Result<(), Error> {
    let client = sql::client(store).await?;
    let row = client.query_one(&sql::render(store, include_str!("sql/status.sql")), &[&store.schema()]).await?;
    let head = match row.try_get::<_, Option<i64>>("tx")? {
        Some(_) => Some(sql::position(&row)?.to_string()),
        None => None,
    };
    let lag = store.read_lag().await?;
    let status = Status {
        schema: store.schema().to_owned(),
        events: sql::unsigned(&row, "events")?,
        streams: sql::unsigned(&row, "streams")?,
        head,
        size_bytes: sql::unsigned(&row, "bytes")?,
        held_back: lag.held_back,
        oldest_transaction_seconds: lag.oldest_transaction.map(|d| d.as_secs_f64()),
        projections: projections::list(store).await?,
    };
    out.emit(&status, |w, s| write_status(w, s))
}

fn write_status(w: &mut dyn Write, s: &Status) -> std::io::Result<()> {
    writeln!(w, "schema        {}", s.schema)?;
    writeln!(w, "events        {}", s.events)?;
    writeln!(w, "streams       {}", s.streams)?;
    writeln!(w, "head          {}", output::or_dash(s.head.clone()))?;
    writeln!(w, "size on disk  {}", HumanBytes(s.size_bytes))?;
    let oldest = match s.oldest_transaction_seconds.and_then(|secs| Duration::try_from_secs_f64(secs).ok()) {
        Some(age) => format!("the oldest open writing transaction started {} ago", output::duration(age)),
        None => "no writing transaction open".to_owned(),
    };
    writeln!(w, "read lag      {} events held back; {oldest}", s.held_back)?;
    if s.projections.is_empty() {
        writeln!(w, "projections   none")
    } else {
        writeln!(w, "projections")?;
        projections::write_table(w, &s.projections)
    }
}
