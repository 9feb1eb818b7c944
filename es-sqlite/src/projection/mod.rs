//! Projections whose read models live in a SQLite file, written in the same
//! transaction as their checkpoint: the trait, the target file, the
//! engine's sink, the runner and the statements of checkpoints and parked
//! events.

mod runner;
mod sink;
mod statements;
mod target;

use std::ops::Deref;

use es_core::projection::Envelope;
use es_core::{AggregateTypes, BoxError, Event, RecordedEvent};
use rusqlite::Connection;

pub use runner::SqliteProjectionRunner;
pub use target::{SqliteTarget, WAIT_POLL_INTERVAL};

/// The transaction that also advances a projection's checkpoint: what a
/// handler writes here commits with the checkpoint or not at all. It
/// dereferences to the [`rusqlite::Connection`] the transaction is open on;
/// do not commit or roll back on it, the runner does.
#[derive(Debug)]
pub struct SqliteTransaction<'a>(pub(crate) &'a Connection);

impl Deref for SqliteTransaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.0
    }
}

/// A read model in a SQLite file, fed by a store's events (any store: this
/// file's own, another file, PostgreSQL).
///
/// Each handler call gets the transaction that also advances the
/// projection's checkpoint, so after a crash no event is applied twice or
/// lost. Handlers run on Tokio's blocking pool, as SQLite calls do; they
/// are plain functions, and the events they get are clones of the decoded
/// ones.
///
/// ```
/// use es_core::{BoxError, RecordedEvent};
/// use es_sqlite::{SqliteProjection, SqliteTransaction};
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
///
/// struct Balances;
///
/// impl SqliteProjection for Balances {
///     type Event = Deposited;
///     fn name(&self) -> &str { "balances" }
///     fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
///         tx.execute_batch("CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)")?;
///         Ok(())
///     }
///     fn handle(&mut self, tx: &SqliteTransaction<'_>, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
///         tx.prepare_cached(
///             "INSERT INTO balances (id, balance) VALUES (?1, ?2)
///              ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance",
///         )?
///         .execute((&env.stream_id, e.amount))?;
///         Ok(())
///     }
///     fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
///         tx.execute("DELETE FROM balances", [])?;
///         Ok(())
///     }
/// }
/// ```
pub trait SqliteProjection: Send + 'static {
    /// The events this projection reads; they are cloned to the blocking
    /// pool.
    type Event: Event + Clone + Send + Sync + 'static;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default:
    /// all).
    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::All
    }

    /// Creates the read model's tables, inside `tx`, each time a runner
    /// takes the projection over, before its first page, and again after
    /// [`reset`](Self::reset) in a rebuild's transaction (so a reset may
    /// drop the tables); make it idempotent (`CREATE TABLE IF NOT
    /// EXISTS`). The file's write lock makes setups of processes starting
    /// together run one at a time. The default creates nothing.
    fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        let _ = tx;
        Ok(())
    }

    /// Applies one event to the read model inside `tx`. An error rolls the
    /// transaction back; the runner retries per its
    /// [`RetryPolicy`](es_core::projection::RetryPolicy).
    fn handle(
        &mut self,
        tx: &SqliteTransaction<'_>,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError>;

    /// Applies a page of events, in order, inside `tx`. The default calls
    /// [`handle`](Self::handle) for each.
    fn handle_batch(
        &mut self,
        tx: &SqliteTransaction<'_>,
        events: &[Envelope<'_, Self::Event>],
    ) -> Result<(), BoxError> {
        events.iter().try_for_each(|e| self.handle(tx, e.event, e.recorded))
    }

    /// Empties the read model inside `tx`, before a rebuild.
    fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError>;
}
