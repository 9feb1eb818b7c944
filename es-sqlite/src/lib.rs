//! The SQLite event store for `es-core`: one durable file, SQLite bundled
//! (no server, no system library), with the same semantics as every other
//! store, and projections exactly-once in the same file or in another.
#![warn(missing_docs)]

mod admin;
mod codec;
mod database;
mod error;
#[cfg(feature = "personal")]
mod keys;
mod projection;
mod store;

pub use error::SqliteError;
pub use projection::{SqliteProjection, SqliteProjectionRunner, SqliteTarget, SqliteTransaction, WAIT_POLL_INTERVAL};
pub use store::{SqliteEventStore, SqliteEventStoreBuilder};

/// The SQLite binding this crate is built on, for the statements of read
/// models.
pub use rusqlite;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
