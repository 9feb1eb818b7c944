//! Projections whose read models live in PostgreSQL, written in the same
//! transaction as their checkpoint: the trait, its runner, the engine's
//! backend, checkpoints, parked events, partitions, and the waits of every
//! process.

pub(crate) mod checkpoint;
pub(crate) mod parked;
mod partition;
mod runner;
mod sink;
mod source;
mod target;
mod transaction;
pub(crate) mod waits;

use std::future::Future;

use es_core::projection::Envelope;
use es_core::{AggregateTypes, BoxError, Event, RecordedEvent};

pub use partition::PgPartition;
pub use runner::PgProjectionRunner;
pub use target::PgTarget;
pub use transaction::PgTransaction;

/// A read model in PostgreSQL, fed by the store's events.
///
/// Each handler call gets the transaction that also advances the
/// projection's checkpoint: the read-model writes and the checkpoint commit
/// together or not at all, so after a crash no event is applied twice or
/// lost.
///
/// ```
/// use es_core::{BoxError, AggregateTypes, RecordedEvent};
/// use es_postgres::{PgProjection, PgTransaction};
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
///
/// struct Balances;
///
/// impl PgProjection for Balances {
///     type Event = Deposited;
///     fn name(&self) -> &str { "balances" }
///     fn aggregate_types(&self) -> AggregateTypes { AggregateTypes::only(["account"]) }
///     async fn handle(&mut self, tx: &PgTransaction<'_>, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
///         let upsert = tx.prepare_cached(
///             "INSERT INTO balances (id, balance) VALUES ($1, $2)
///              ON CONFLICT (id) DO UPDATE SET balance = balances.balance + $2",
///         ).await?;
///         tx.execute(&upsert, &[&env.stream_id, &e.amount]).await?;
///         Ok(())
///     }
///     async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
///         tx.batch_execute("TRUNCATE balances").await?;
///         Ok(())
///     }
/// }
/// ```
///
/// To write a page of events with one statement (a rebuild's speed comes
/// from it), implement [`handle_batch`](Self::handle_batch) as well.
pub trait PgProjection: Send + Sync + 'static {
    /// The events this projection reads. Events of its aggregate types that the
    /// program knows but this type does not are skipped; see
    /// [`es_core::projection`] for what is never skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default:
    /// all). Events of other types are filtered out in the database.
    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::All
    }

    /// Creates what the read model needs, inside `tx`: its schema, tables
    /// and indexes, with statements that do nothing when they exist
    /// (`CREATE TABLE IF NOT EXISTS`). A runner calls it after it takes the
    /// projection over and before its first page, and a rebuild calls it
    /// again after [`reset`](Self::reset) in the same transaction (so a
    /// reset may drop the tables). Setups of all projections of a database
    /// run one at a time, whichever process runs them: any number of
    /// processes can start together. An error stops the runner with
    /// [`ProjectionError::Setup`](es_core::projection::ProjectionError::Setup).
    /// The default does nothing.
    fn setup(&mut self, tx: &PgTransaction<'_>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Applies one event to the read model inside `tx`. An error rolls the
    /// transaction back; the runner retries per its
    /// [`RetryPolicy`](es_core::projection::RetryPolicy), and may
    /// hand the events before the failing one again. A statement the server
    /// refused (a `tokio_postgres::Error` returned with `?`) is recorded,
    /// in the stop reason and the parked event, with the server's message,
    /// detail, hint and SQLSTATE. Keep the read model in
    /// the database: state kept in `self` is not rolled back.
    fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Applies several events, in order, inside `tx`: a page of the global
    /// order, up to the runner's page size. The default calls
    /// [`handle`](Self::handle) for each; a read model written with one
    /// multi-row statement per page rebuilds many times faster. When it
    /// fails, the runner hands the events over one at a time to find the
    /// failing one.
    fn handle_batch(
        &mut self,
        tx: &PgTransaction<'_>,
        events: &[Envelope<'_, Self::Event>],
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            for envelope in events {
                self.handle(tx, envelope.event, envelope.recorded).await?;
            }
            Ok(())
        }
    }

    /// Empties the read model inside `tx`, before a rebuild.
    fn reset(&mut self, tx: &PgTransaction<'_>) -> impl Future<Output = Result<(), BoxError>> + Send;
}
