//! The `es` command line for an es event store on PostgreSQL, and the
//! library an application mounts to add the commands that need its types.
//!
//! ```no_run
//! use std::process::ExitCode;
//! # use es_core::{Aggregate, Apply, BoxError, Event, RecordedEvent};
//! # use es_postgres::{PgProjection, PgTransaction};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! # struct Deposited { amount: i64 }
//! # #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
//! # #[aggregate(name = "account", event = Deposited)]
//! # struct Account { balance: i64 }
//! # impl Apply<Deposited> for Account { fn apply(&mut self, e: &Deposited) { self.balance += e.amount } }
//! # struct Balances;
//! # impl PgProjection for Balances {
//! #     type Event = Deposited;
//! #     fn name(&self) -> &str { "balances" }
//! #     async fn handle(&mut self, _: &PgTransaction<'_>, _: &Deposited, _: &RecordedEvent) -> Result<(), BoxError> { Ok(()) }
//! #     async fn reset(&mut self, _: &PgTransaction<'_>) -> Result<(), BoxError> { Ok(()) }
//! # }
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     let args: Vec<_> = std::env::args_os().collect();
//!     // `myapp es projection balances rebuild`, `myapp es stream acc-1 --state`, `myapp es check`
//!     if args.get(1).is_some_and(|a| a == "es") {
//!         return es_cli::Cli::new()
//!             .aggregate::<Account>()
//!             .projection(Balances)
//!             .run(args.into_iter().skip(1))
//!             .await;
//!     }
//!     // … the application itself …
//!     ExitCode::SUCCESS
//! }
//! ```
//!
//! # Commands
//!
//! Every command takes `--database-url` (or `DATABASE_URL`), `--schema`
//! (or `ES_SCHEMA`, default `es`) and `--json`, which prints JSON for
//! scripts instead of tables. An application that mounts the command line
//! hands it its own store with [`Cli::store`], and neither is needed.
//!
//! | command | what it does |
//! |---|---|
//! | `migrate` | creates the schema and applies the migrations it lacks |
//! | `status` | events, streams, head position, size on disk, read lag, projections |
//! | `streams [--aggregate type TYPE] [--limit N] [--after ID]` | streams with their type, version and last event time, a page at a time |
//! | `stream ID [--from V] [--to V] [--as-of TIME]` | a stream's events with their envelopes and payloads |
//! | `tail [--aggregate type TYPE] [--last N] [--follow]` | the latest events in global order, then new ones as they come |
//! | `projections` | each projection's checkpoint, lag in events and seconds, and the runner holding it |
//! | `projection NAME reset [--yes]` | moves the checkpoint back to the start, after asking |
//! | `projection NAME rebuild` | empties the read model and replays every event, with a progress bar (application binary) |
//! | `stream ID --state [--at V \| --as-of TIME]` | the aggregate's state after each event, as JSON (application binary) |
//! | `check` | every event decodes with the application's types, no stream misses a version (application binary) |
//!
//! The exit code is 0 on success, 1 when the command failed (a check found
//! problems, a projection is unknown) and 2 for a usage or connection error.
//! An error is printed with its causes, each once.
//!
//! # Registering types
//!
//! [`Cli::aggregate`] registers an aggregate by type: `stream ID --state`
//! folds a stream with the aggregate registered for the stream's aggregate
//! type, and `check` decodes each event with it. [`Cli::projection`] takes a
//! [`PgProjection`](es_postgres::PgProjection) value, which `rebuild` runs
//! with a [`PgProjectionRunner`](es_postgres::PgProjectionRunner).
//!
//! The standalone reset only moves the checkpoint: the read model belongs to
//! the application, so it stays as it is. The application's `rebuild`
//! empties it too, through the projection's own `reset`.
#![warn(missing_docs)]

mod app;
mod args;
mod check;
mod cli;
mod error;
mod output;
mod parked;
mod projections;
mod status;
mod store;
mod stream;
mod streams;
mod tail;

pub use cli::Cli;
pub use error::Error;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
