//! `projections`, `projection NAME reset` and `projection NAME rebuild`.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use es_core::Position;
use es_postgres::PgEventStore;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::app::Mounted;
use crate::error::Error;
use crate::output::{self, Output, table};
use crate::sql;

/// One projection: its checkpoint, lag and runner.
#[derive(Debug, Serialize)]
pub(crate) struct ProjectionRow {
    name: String,
    checkpoint: String,
    updated_at: String,
    /// Events after the checkpoint.
    behind: u64,
    /// Age of the oldest event after the checkpoint.
    lag_seconds: Option<f64>,
    runner: Option<Runner>,
    /// Parked events nobody has discarded.
    parked: u64,
    /// Why it stopped, if it stopped on an event it cannot handle.
    stopped: Option<String>,
}

/// The session of the runner holding a projection's lock.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Runner {
    application_name: String,
    host: String,
    pid: i32,
}

impl std::fmt::Display for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

/// Every projection of the store, by name.
pub(crate) async fn list(store: &PgEventStore) -> Result<Vec<ProjectionRow>, Error> {
    let client = sql::client(store).await?;
    let rows = client.query(&sql::render(store, include_str!("sql/checkpoints.sql")), &[]).await?;
    let runners = runners(store).await?;
    let mut projections = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("projection")?;
        let updated_at: SystemTime = row.try_get("updated_at")?;
        let lag: Option<f64> = row.try_get("oldest_seconds")?;
        let runner = runner_of(store, &name, &runners);
        projections.push(ProjectionRow {
            checkpoint: sql::position(&row)?.to_string(),
            updated_at: output::time_exact(updated_at),
            behind: sql::unsigned(&row, "behind")?,
            lag_seconds: lag.map(|secs| secs.max(0.0)),
            runner,
            parked: sql::unsigned(&row, "parked")?,
            stopped: row.try_get("stopped")?,
            name,
        });
    }
    Ok(projections)
}

/// `es projections`.
pub(crate) async fn show(store: &PgEventStore, out: &mut Output<'_>) -> Result<(), Error> {
    let projections = list(store).await?;
    out.emit(&projections, |w, p| match p.is_empty() {
        true => writeln!(w, "no projections in schema `{}`", store.schema()),
        false => write_table(w, p),
    })
}

/// The projections as a table.
pub(crate) fn write_table(out: &mut dyn Write, projections: &[ProjectionRow]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = projections
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.checkpoint.clone(),
                p.behind.to_string(),
                output::or_dash(p.lag_seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()).map(output::duration)),
                output::or_dash(p.runner.as_ref().map(Runner::to_string)),
                p.parked.to_string(),
                output::or_dash(p.stopped.clone()),
            ]
        })
        .collect();
    table(out, &["PROJECTION", "CHECKPOINT", "BEHIND", "LAG", "RUNNER", "PARKED", "STOPPED"], &rows)
}

/// The runners holding a projection lock now.
async fn runners(store: &PgEventStore) -> Result<Vec<Runner>, Error> {
    let client = sql::client(store).await?;
    let rows = client.query(include_str!("sql/runners.sql"), &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(Runner {
                application_name: row.try_get("application_name")?,
                host: row.try_get("host")?,
                pid: row.try_get("pid")?,
            })
        })
        .collect()
}

/// The runner of projection `name` among `runners`, found by the
/// application name runners connect with (which Postgres cuts to 63 bytes).
fn runner_of(store: &PgEventStore, name: &str, runners: &[Runner]) -> Option<Runner> {
    let full = format!("es projection {}.{name}", store.schema());
    let mut cut = full.len().min(63);
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    runners.iter().find(|r| r.application_name == full[..cut]).cloned()
}

/// `es projection NAME reset`: asks on stdin unless `yes`, then moves the
/// checkpoint to the start.
pub(crate) async fn reset(
    store: &PgEventStore,
    name: &str,
    yes: bool,
    input: &mut dyn BufRead,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let runners = runners(store).await?;
    if let Some(runner) = runner_of(store, name, &runners) {
        return Err(Error::ProjectionRunning { name: name.to_owned(), runner: runner.to_string() });
    }
    if !yes && !confirm(name, input)? {
        return Err(Error::NotConfirmed { name: name.to_owned() });
    }
    if !store.reset_projection(name).await? {
        return Err(Error::UnknownProjection { schema: store.schema().to_owned(), name: name.to_owned() });
    }
    #[derive(Serialize)]
    struct Reset<'a> {
        projection: &'a str,
        checkpoint: String,
    }
    let reset = Reset { projection: name, checkpoint: Position::START.to_string() };
    out.emit(&reset, |w, r| {
        writeln!(w, "projection `{}` reset to {}: its next runner replays every event.", r.projection, r.checkpoint)?;
        writeln!(
            w,
            "Its read model belongs to the application and was left as it is: empty it before the replay, \
             or use `projection {} rebuild` from the application's binary, which does both.",
            r.projection
        )
    })
}

/// Asks whether to reset `name`; only `y` or `yes` confirms.
fn confirm(name: &str, input: &mut dyn BufRead) -> Result<bool, Error> {
    let mut stderr = std::io::stderr();
    let question = format!(
        "Reset projection `{name}` to the start? Its runner will replay every event; \
         its read model is left as it is. [y/N] "
    );
    stderr.write_all(question.as_bytes()).and_then(|()| stderr.flush())?;
    let mut answer = String::new();
    input.read_line(&mut answer).map_err(|source| Error::Io { doing: "read the answer", source })?;
    if !std::io::stdin().is_terminal() {
        // The answer was not typed, so no newline follows the question yet.
        writeln!(stderr)?;
    }
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// `es projection NAME rebuild`: replays every event into the projection,
/// with a progress bar on the terminal.
pub(crate) async fn rebuild(
    store: &PgEventStore,
    projection: Box<dyn Mounted>,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let name = projection.name().to_owned();
    let bar = ProgressBar::new(0).with_message(name.clone()).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} events, {per_sec}, ETA {eta}")
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut progress = |p: es_core::projection::Progress| {
        bar.set_length(p.total.max(p.done));
        bar.set_position(p.done);
    };
    let events = projection.rebuild(store.clone(), &mut progress).await;
    bar.finish_and_clear();
    #[derive(Serialize)]
    struct Rebuilt {
        projection: String,
        events: u64,
        seconds: f64,
    }
    let rebuilt = Rebuilt { projection: name, events: events?, seconds: started.elapsed().as_secs_f64() };
    out.emit(&rebuilt, |w, r| {
        let took = Duration::try_from_secs_f64(r.seconds).map(output::duration).unwrap_or_default();
        writeln!(w, "projection `{}` rebuilt: {} events replayed in {took}", r.projection, r.events)
    })
}
