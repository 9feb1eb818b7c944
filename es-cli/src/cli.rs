//! [`Cli`]: the commands, with the application's types registered.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use clap::Parser;
use es_core::admin::{AggregateKind, aggregate_kind};
use es_core::{Aggregate, StreamRange};
use es_postgres::{PgEventStore, PgProjection};

use crate::app::Mounted;
use crate::args::{Args, Command, ParkedAction, ProjectionAction};
use crate::error::Error;
use crate::output::Output;
use crate::store::Store;
use crate::{check, parked, projections, status, stream, streams, tail};

/// The `es` command line, with the aggregates and projections of an
/// application registered.
///
/// The standalone `es` binary is `Cli::new()` with nothing registered: it
/// inspects, migrates and resets. Commands that need the application's
/// types (`projection NAME rebuild`, `stream ID --state`, `check`) work
/// once the application registers them and runs the `Cli` from its own
/// binary. See the [crate documentation](crate) for an example.
pub struct Cli {
    aggregates: Vec<Box<dyn AggregateKind>>,
    projections: Vec<Box<dyn Mounted>>,
    store: Option<PgEventStore>,
}

impl Default for Cli {
    fn default() -> Self {
        Cli::new()
    }
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("aggregates", &self.aggregates.iter().map(|a| a.name()).collect::<Vec<_>>())
            .field("projections", &self.projections.iter().map(|p| p.name()).collect::<Vec<_>>())
            .finish()
    }
}

impl Cli {
    /// The command line with no application types: what the `es` binary runs.
    pub fn new() -> Self {
        Cli { aggregates: Vec::new(), projections: Vec::new(), store: None }
    }

    /// Runs the commands on `store`, the one the application already has:
    /// `--database-url` and `--schema` are then not needed (and ignored).
    pub fn store(mut self, store: PgEventStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Registers aggregate `A`: `stream ID --state` folds streams of its
    /// type with it, and `check` decodes their events with its event type.
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        self.aggregates.push(aggregate_kind::<A>());
        self
    }

    /// Registers a projection, for `projection NAME rebuild` under its name.
    pub fn projection<P: PgProjection + 'static>(mut self, projection: P) -> Self {
        self.projections.push(Box::new(projection));
        self
    }

    /// Runs the command line on `args` (the first is the program's name),
    /// printing to stdout, errors and their causes to stderr. Returns 0 on
    /// success, 1 when the command failed, 2 for a usage or connection
    /// error.
    pub async fn run<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let stdout = io::stdout();
        let result = self.run_with(args, &mut stdout.lock(), &mut io::stdin().lock()).await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(Error::Usage(e)) => {
                let _ = e.print();
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
            }
            // A reader that stopped early (`es tail | head`) is not a failure.
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", e.report());
                ExitCode::from(e.exit_code())
            }
        }
    }

    /// Runs the command line on `args`, printing to `out` and reading a
    /// confirmation from `input`; for tests and for applications that print
    /// elsewhere. A progress bar, if any, goes to stderr when it is a
    /// terminal.
    pub async fn run_with<I, T>(mut self, args: I, out: &mut dyn Write, input: &mut dyn BufRead) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args = Args::try_parse_from(args)?;
        let store = match (self.store.take(), &args.database_url) {
            (Some(store), _) => Store::postgres(store),
            (None, Some(url)) => Store::connect(url, &args.schema, matches!(args.command, Command::Migrate)).await?,
            (None, None) => return Err(Error::NoDatabase),
        };
        if !matches!(args.command, Command::Migrate) && !store.admin.exists().await? {
            return Err(Error::NoStore { location: store.location() });
        }
        let mut out = Output::new(out, args.json);
        self.dispatch(&store, args.command, &mut out, input).await
    }

    async fn dispatch(
        mut self,
        store: &Store,
        command: Command,
        out: &mut Output<'_>,
        input: &mut dyn BufRead,
    ) -> Result<(), Error> {
        match command {
            Command::Migrate => migrate(store, out).await,
            Command::Status => status::show(store, out).await,
            Command::Streams { aggregate_type, limit, after } => {
                streams::show(store, aggregate_type.as_deref(), limit, after.as_deref(), out).await
            }
            Command::Stream { id, from, to, as_of, state, at, full } => {
                let mut range = StreamRange::after(from.unwrap_or(1).saturating_sub(1));
                range.up_to_version = to.or(at);
                range.up_to_time = as_of;
                if state {
                    stream::states(store, &id, range, &self.aggregates, full, out).await
                } else {
                    stream::events(store, &id, range, full, out).await
                }
            }
            Command::Tail { aggregate_type, last, follow, interval } => {
                let tail = tail::Tail { aggregate_type: aggregate_type.as_deref(), last, follow, interval };
                tail::run(store, tail, out).await
            }
            Command::Projections => projections::show(store, out).await,
            Command::Projection { name, action: ProjectionAction::Reset { yes } } => {
                projections::reset(store, &name, yes, input, out).await
            }
            Command::Projection { name, action: ProjectionAction::Rebuild } => {
                let projection = self.take_projection(name, "projection rebuild")?;
                projections::rebuild(store.require_postgres("projection rebuild")?, projection, out).await
            }
            Command::Parked { name, action: None } => parked::list(store, &name, out).await,
            Command::Parked { name, action: Some(ParkedAction::Discard { id, reason }) } => {
                parked::discard(store, &name, id, &reason, out).await
            }
            Command::Parked { name, action: Some(ParkedAction::Retry { id }) } => {
                let projection = self.take_projection(name, "parked retry")?;
                parked::retry(store.require_postgres("parked retry")?, projection, id, out).await
            }
            Command::Check => check::run(store, &self.aggregates, out).await,
        }
    }
}

impl Cli {
    /// The registered projection `name`, for `command`.
    fn take_projection(&mut self, name: String, command: &'static str) -> Result<Box<dyn Mounted>, Error> {
        let Some(index) = self.projections.iter().position(|p| p.name() == name) else {
            if self.projections.is_empty() {
                return Err(Error::NeedsApplication { command, needs: "projections" });
            }
            let known = self.projections.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
            return Err(Error::NotRegistered { kind: "projection", name, known });
        };
        Ok(self.projections.swap_remove(index))
    }
}

/// `es migrate`.
async fn migrate(store: &Store, out: &mut Output<'_>) -> Result<(), Error> {
    let migrated = store.migrate().await?;
    out.emit(&migrated, |w, m| match m.applied.as_deref() {
        Some([]) | None => writeln!(w, "{} is up to date (migration {})", m.location, m.latest),
        Some(applied) => {
            let list = applied.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            writeln!(w, "{} migrated: applied {list}; now at migration {}", m.location, m.latest)
        }
    })
}
