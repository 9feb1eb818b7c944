//! A web console an application mounts to look into its es event store
//! (on PostgreSQL, or any store through [`Console::on`]): streams, the state after each event and what it changed,
//! the upcast steps of old events, a slice of a stream frozen as a test,
//! projections with their lag and parked events, and a live tail.
//!
//! ```no_run
//! # use es_core::{Aggregate, Apply, BoxError, Event, RecordedEvent};
//! # use es_postgres::{PgEventStore, PgProjection, PgTransaction};
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
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgEventStore::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
//! es_console::Console::new(store)
//!     .aggregate::<Account>()
//!     .projection(|| Balances)
//!     .token(std::env::var("ES_CONSOLE_TOKEN")?) // without it, the console only reads
//!     .serve(es_console::DEFAULT_ADDRESS)        // 127.0.0.1:7070
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Or merge [`Console::router`] into the application's own axum router:
//! its pages link to each other from the root (`/streams`, `/projections`,
//! `/tail`, `/static/…`), so merge it at the root rather than nest it.
//!
//! # Pages
//!
//! | page | what it shows |
//! |---|---|
//! | `/streams` | streams by id prefix and aggregate type, with version and last event time |
//! | `/streams/{id}` | a stream's events a page of versions at a time; the state after any event and its diff; jump to a version or a time |
//! | `/streams/{id}/events/{version}/upcast` | an event's stored payload, each upcaster step, and the value the application sees |
//! | `/streams/{id}/freeze` | a slice of the stream as a given/when/then test for `es_core::testing` |
//! | `/projections` | checkpoints, lag in events and seconds, the runner holding each, why one stopped |
//! | `/projections/{name}/parked` | parked events, to retry or discard |
//! | `/tail` | the global order, live, through server-sent events |
//!
//! # Safety
//!
//! Every value from the store is escaped. Responses carry a
//! Content-Security-Policy that allows scripts from the console's own
//! routes only (htmx and a few lines for the tail, served by the crate),
//! no inline script. The console only reads unless started with a
//! [`token`](Console::token): retrying, discarding and resetting then
//! need the request to carry it, and the page asks before each. Every list
//! is paged by key, never by offset, and [`DEFAULT_ADDRESS`] listens on the
//! loopback interface only.
#![warn(missing_docs)]

mod app;
mod console;
mod diff;
mod error;
mod pages;
mod server;

pub use console::{Console, DEFAULT_ADDRESS};
pub use error::Error;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
