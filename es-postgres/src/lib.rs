//! PostgreSQL event store for `es-core`.
//!
//! ```no_run
//! use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, Position, StreamRange};
//! use es_postgres::PgEventStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgEventStore::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
//! store.migrate().await?; // once at startup; safe from every process
//!
//! let opened = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: serde_json::json!({"owner": "ada"}).into() };
//! store.append("account", "acc-1", ExpectedVersion::NoStream, vec![opened], &Metadata::default()).await?;
//!
//! let history = store.read_stream("acc-1", StreamRange::all()).await?;
//! assert_eq!(history[0].version, 1);
//! let everything = store.read_all(Position::START, 1_000).await?;
//! assert!(!everything.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Use it wherever es-core takes an [`EventStore`](es_core::EventStore), most
//! often in an `es_core::Repository`. Every public type of this crate starts
//! with `Pg` (constants do not), so that it reads apart from es-core's in
//! code that uses both. [`PgEventStore::builder`] sets the pool
//! size, the schema and the wait for a free connection; the crate's README
//! lists the server settings that matter.
//!
//! # What it stores
//!
//! [`PgEventStore::migrate`] creates, in its own Postgres schema (`es` unless
//! configured), the tables `events`, `snapshots`, `checkpoints`, `outbox`
//! and `schema_migrations`. The migrations are SQL files shipped in the crate;
//! they run in one transaction under an advisory lock, so every process may
//! call `migrate` at startup.
//!
//! - **Appends** are one statement: one round trip and one transaction for
//!   any number of events, with the expected version checked in the same
//!   statement (a command's single event takes a leaner statement than a
//!   batch). The unique constraint on `(stream_id, version)` turns a race
//!   between two writers into [`StoreError::Conflict`](es_core::StoreError::Conflict).
//! - **Reads** decode rows as they arrive. Loading an aggregate reads
//!   through [`read_stream_events`](es_core::EventStore::read_stream_events),
//!   which leaves out the envelope (position, time, metadata) that folding
//!   state does not need.
//! - **Events are immutable**: triggers refuse `UPDATE`, `DELETE` and
//!   `TRUNCATE` on `events`, except for [`PgEventStore::rewrite`], which
//!   declares a reason and an actor and keeps every changed row's previous
//!   content. [`PgEventStore::grant_app_role`] sets up an application role
//!   that can append and read but neither change events nor disable the
//!   trigger.
//! - **Personal data** (feature `personal`): `PgEventStore` implements
//!   `es_core::personal::SubjectKeys`, keeping one key per subject in
//!   `subject_keys`, for crypto-shredding with
//!   `es_core::personal::PersonalDataStore`.
//! - **Global order** is the pair (transaction id, position): `events.tx`
//!   is an `xid8` set by `pg_current_xact_id()`, and
//!   [`read_all`](es_core::EventStore::read_all) only returns events of
//!   transactions older than every transaction of this database still
//!   running. A reader therefore never skips an event whose transaction
//!   commits late, and appends stay concurrent (no global lock). The
//!   trade-off: a writing transaction left open in the database holds
//!   `read_all` back (it delays, never loses), so set
//!   `idle_in_transaction_session_timeout` and watch
//!   [`PgEventStore::read_lag`]. Transactions of other databases of the
//!   cluster do not hold it back.
//! - **Projections** ([`PgProjectionRunner`]) commit read model and
//!   checkpoint in one transaction, read only their aggregate types, stop at or
//!   park poison events, and let any process wait for a position
//!   ([`PgEventStore::wait_for_projection`]).
//! - **In the caller's transaction**: [`PgEventStore::append_in`] appends
//!   inside a transaction the application holds, so that events and its own
//!   rows commit together; [`PgEventStore::in_transaction`] gives a
//!   `Repository` the same. A write side without events enqueues messages
//!   the same way in [`PgOutbox`], delivered in commit order by
//!   [`PgOutboxRunner`].
//! - **TLS** on every connection, as `sslmode` says (libpq's five modes,
//!   [`PgSslMode`]); `verify-full` with `sslrootcert=<file>` in the URL or
//!   [`PgEventStoreBuilder::ca_file`] is the setting for a server across a
//!   network.
//! - **Errors** name their cause and the fix, with the server's message,
//!   detail, hint and SQLSTATE: a [`PgError`] such as
//!   [`Unreachable`](PgError::Unreachable) (naming host and port),
//!   [`Authentication`](PgError::Authentication) or
//!   [`NotMigrated`](PgError::NotMigrated), carried by
//!   [`StoreError::Unavailable`](es_core::StoreError::Unavailable) or
//!   [`StoreError::Backend`](es_core::StoreError::Backend) on reads and
//!   writes. A stream id is checked before any SQL
//!   ([`StoreError::InvalidStreamId`](es_core::StoreError::InvalidStreamId)).
//!   A row that does not decode is
//!   [`StoreError::Corrupt`](es_core::StoreError::Corrupt) naming its
//!   stream and version. Nothing read from the database can panic.
#![warn(missing_docs)]

mod admin;
mod codec;
mod connection;
mod error;
#[cfg(feature = "personal")]
mod keys;
mod lease;
mod migrate;
mod outbox;
mod projection;
mod rewrite;
mod schema;
mod store;

pub use connection::tls::PgSslMode;
pub use error::PgError;
pub use outbox::{
    DEFAULT_OUTBOX_PAGE_SIZE, OUTBOX_POLL_INTERVAL, PgOutbox, PgOutboxError, PgOutboxHandler, PgOutboxMessage,
    PgOutboxRunner,
};
pub use projection::{PgPartition, PgProjection, PgProjectionRunner, PgTarget, PgTransaction};
pub use rewrite::{PgEventChange, PgRewriteError, PgRewriteFilter, PgRewriteReport, PgRewriteRequest};
pub use store::{
    DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, PgEventStore, PgEventStoreBuilder, PgReadLag, PgStoreInTransaction,
};

/// The driver and pool this crate is built on, so that configuration types
/// match without depending on them directly.
pub use deadpool_postgres;
pub use tokio_postgres;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
