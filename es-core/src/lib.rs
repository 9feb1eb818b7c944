//! Event sourcing for Rust: state is a fold of immutable events.
//!
//! ```
//! use es_core::{Aggregate, Apply, Event, InMemoryEventStore, Repository};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! struct Deposited { amount: i64 }
//!
//! #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
//! #[aggregate(name = "account", event = Deposited)]
//! struct Account { balance: i64 }
//!
//! impl Apply<Deposited> for Account {
//!     fn apply(&mut self, e: &Deposited) { self.balance += e.amount }
//! }
//!
//! impl Account {
//!     fn deposit(&self, amount: i64) -> Result<Vec<Deposited>, String> {
//!         if amount <= 0 { return Err("amount must be positive".into()) }
//!         Ok(vec![Deposited { amount }])
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let accounts = Repository::<Account, _>::new(InMemoryEventStore::new());
//! accounts.execute("acc-1", |a| a.deposit(100)).await?;
//! let committed = accounts.execute("acc-1", |a| a.deposit(50)).await?;
//! assert_eq!((committed.version, committed.state.balance), (2, 150));
//! assert_eq!(accounts.load_at_version("acc-1", 1).await?.state.balance, 100);
//! # Ok(())
//! # }
//! ```
//!
//! # The parts
//!
//! - An [`Event`] is a named, versioned fact; `#[derive(Event)]` gives it a
//!   stable name, a schema version and an upcaster chain for old payloads.
//! - An [`Aggregate`] is a consistency boundary: [`Apply`] evolves its state,
//!   commands are methods returning new events. `#[derive(Aggregate)]`
//!   dispatches each event to its `Apply` impl.
//! - An [`EventStore`] appends with [`ExpectedVersion`] and keeps a global
//!   order; [`InMemoryEventStore`] is the embedded one, `es-postgres` the
//!   durable one.
//! - The [`Repository`] loads aggregates (snapshot plus newer events),
//!   executes commands with optimistic concurrency and retries, takes
//!   snapshots and travels in time. A snapshot whose state fingerprint
//!   (a hash of the state type's definition, see [`StateFingerprint`])
//!   differs from the aggregate's is ignored and replaced.
//! - A [`Projection`] builds a read model from the global order of events;
//!   [`InMemoryProjectionRunner`] feeds it, rebuilds it, parks the events it
//!   cannot handle and lets queries wait for a command's position (read
//!   your own writes).
//! - [`testing`] holds a given/when/then kit for aggregates.
//! - [`registry`] lists every event type and aggregate linked into the
//!   program and [`registry::validate`]s at start-up that no two share a
//!   stored name.
//! - [`shape::check_lock`], called from a test, compares every event's
//!   shape with a committed lock file, so that a stored version's shape
//!   never changes without the next version and its upcaster.
//! - [`telemetry`] lists the `tracing` spans and the metrics the runtime
//!   reports; it installs no subscriber and no recorder.
//!
//! # Features
//!
//! - `derive` (default): re-exports the derive macros.
//! - `conformance`: the tests every [`EventStore`] must pass, for backends.
//! - `personal`: crypto-shredding of personal data, see `personal`.
//! - `backend`: what a crate implementing a store or a runner needs, in
//!   `backend`.
#![warn(missing_docs)]

pub mod admin;
mod aggregate;
#[cfg(feature = "backend")]
pub mod backend;
mod cache;
mod envelope;
mod error;
mod event;
mod expected_version;
mod fingerprint;
mod memory;
mod payload;
#[cfg(feature = "personal")]
pub mod personal;
pub mod projection;
pub mod registry;
mod report;
mod repository;
pub mod shape;
mod store;
mod stream_id;
pub mod telemetry;
pub mod testing;

#[cfg(feature = "conformance")]
pub mod conformance;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use aggregate::Aggregate;
pub use envelope::{Metadata, ParsePositionError, Position, RecordedEvent};
pub use error::{BoxError, DecodeError, Error, ExecuteError, StoreError};
pub use event::{Apply, ApplyTo, EncodedEvent, Event};
pub use expected_version::ExpectedVersion;
pub use fingerprint::StateFingerprint;
pub use memory::InMemoryEventStore;
pub use payload::{DEFAULT_MAX_EVENT_SIZE, Payload};
pub use projection::{InMemoryProjectionRunner, Projection, ProjectionError};
pub use report::ErrorReport;
pub use repository::{Committed, DEFAULT_MAX_ATTEMPTS, Loaded, Repository, SnapshotOutcome};
pub use store::{
    AggregateTypes, Appended, EventStore, Page, Snapshot, SnapshotAndEvents, StreamRange, validate_stream_id,
};
pub use stream_id::{MAX_STREAM_ID_LEN, StreamIdProblem};

#[cfg(feature = "derive")]
pub use es_macros::{Aggregate, Event, StateFingerprint};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeDoctests;
