//! `projections`, `projection NAME reset` and `projection NAME rebuild`.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use es_core::admin::ProjectionAdmin;
use es_core::admin::{RunnerInfo, printable};
use es_core::{Position, ProjectionError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::app::Mounted;
use crate::error::Error;
use crate::output::{self, Output, table};
use crate::store::Store;

/// Projections read per page.
const PAGE: usize = 500;

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
    /// The runners standing by to take it over.
    standbys: Vec<Runner>,
    /// Parked events nobody has discarded.
    parked: u64,
    /// Why it stopped, if it stopped on an event it cannot handle.
    stopped: Option<String>,
}

/// A runner of a projection: the application process it runs in, where
/// the store records it, and its session on the server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Runner {
    /// The label the application gave its process (a pod or host name).
    label: Option<String>,
    /// The application's process id.
    pid: Option<u32>,
    /// When the application's process started.
    started_at: Option<String>,
    application_name: String,
    host: String,
    /// The process id of its session on the server.
    server_pid: i64,
    #[serde(skip)]
    info: RunnerInfo,
}

impl From<RunnerInfo> for Runner {
    fn from(info: RunnerInfo) -> Self {
        let process = info.process.as_ref();
        Runner {
            label: process.map(|p| p.label.clone()),
            pid: process.map(|p| p.pid),
            started_at: process.map(|p| output::time_exact(p.started_at)),
            application_name: info.name.clone(),
            host: info.host.clone(),
            server_pid: info.pid,
            info,
        }
    }
}

/// Every projection of the store, by name, with how far behind each is.
pub(crate) async fn list(store: &Store) -> Result<Vec<ProjectionRow>, Error> {
    let mut projections = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.projections.projections(after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        after = page.last().map(|p| p.name.clone());
        for p in page {
            let backlog = store.admin.backlog(p.checkpoint).await?;
            let lag = backlog.oldest_recorded_at.map(|at| SystemTime::now().duration_since(at).unwrap_or_default());
            projections.push(ProjectionRow {
                checkpoint: p.checkpoint.to_string(),
                updated_at: output::time_exact(p.updated_at),
                behind: backlog.events,
                lag_seconds: lag.map(|d| d.as_secs_f64()),
                runner: p.runner.map(Runner::from),
                standbys: p.standbys.into_iter().map(Runner::from).collect(),
                parked: p.parked,
                stopped: p.stopped,
                name: p.name,
            });
        }
        if !full {
            return Ok(projections);
        }
    }
}

/// `es projections`.
pub(crate) async fn show(store: &Store, out: &mut Output<'_>) -> Result<(), Error> {
    let projections = list(store).await?;
    out.emit(&projections, |w, p| match p.is_empty() {
        true => writeln!(w, "no projections in {}", store.projections.location()),
        false => write_table(w, p),
    })
}

/// The projections as a table.
pub(crate) fn write_table(out: &mut dyn Write, projections: &[ProjectionRow]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = projections
        .iter()
        .map(|p| {
            vec![
                printable(&p.name).into_owned(),
                p.checkpoint.clone(),
                p.behind.to_string(),
                output::or_dash(p.lag_seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()).map(output::duration)),
                output::or_dash(p.runner.as_ref().map(|r| r.info.to_string())),
                p.standbys.len().to_string(),
                p.parked.to_string(),
                output::or_dash(p.stopped.as_deref().map(|s| printable(s).into_owned())),
            ]
        })
        .collect();
    table(out, &["PROJECTION", "CHECKPOINT", "BEHIND", "LAG", "RUNNER", "STANDBYS", "PARKED", "STOPPED"], &rows)
}

/// The refusal to move projection `name` while a runner holds it, naming
/// the runner; `None` when none holds it.
async fn refusal(projections: &dyn ProjectionAdmin, name: &str) -> Result<Option<Error>, Error> {
    let status = projections.projections(None, usize::MAX).await?.into_iter().find(|p| p.name == name);
    let runner = status.and_then(|p| p.runner).map(Box::new);
    Ok(runner.map(|runner| es_core::admin::AdminError::Running { projection: name.to_owned(), runner }.into()))
}

/// `es projection NAME reset`: asks on stdin unless `yes`, then moves the
/// checkpoint to the start.
pub(crate) async fn reset(
    store: &Store,
    name: &str,
    yes: bool,
    input: &mut dyn BufRead,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    if let Some(refused) = refusal(&*store.projections, name).await? {
        return Err(refused);
    }
    if !yes && !confirm(name, input)? {
        return Err(Error::NotConfirmed { name: name.to_owned() });
    }
    store.projections.reset(name).await?;
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
    store: &es_postgres::PgEventStore,
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
    let events = match projection.rebuild(store.clone(), &mut progress).await {
        // Another runner holds it: say which.
        Err(busy @ ProjectionError::Busy { .. }) => match refusal(store, &name).await? {
            Some(refused) => return Err(refused),
            None => Err(busy),
        },
        other => other,
    };
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
