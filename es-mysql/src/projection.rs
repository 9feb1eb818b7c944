//! [`MySqlProjection`], a read model in MariaDB or MySQL, and the
//! [`MySqlTransaction`] its handlers write in.

use std::future::Future;
use std::ops::{Deref, DerefMut};

use es_core::projection::Envelope;
use es_core::{AggregateTypes, BoxError, Event, RecordedEvent};
use mysql_async::Conn;

/// The transaction that also advances a projection's checkpoint: what a
/// handler writes here commits with the checkpoint or not at all. It
/// dereferences to the [`mysql_async::Conn`] the transaction is open on,
/// for [`Queryable`](mysql_async::prelude::Queryable)'s statements.
///
/// Do not commit or roll back on it, and use no statement that commits
/// implicitly (DDL: `CREATE`, `ALTER`, `DROP`, `TRUNCATE`, `RENAME`):
/// on MariaDB the runner notices and fails the page.
#[derive(Debug)]
pub struct MySqlTransaction<'a>(pub(crate) &'a mut Conn);

impl Deref for MySqlTransaction<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.0
    }
}

impl DerefMut for MySqlTransaction<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.0
    }
}

/// A read model in a MariaDB or MySQL database, fed by any store's events.
///
/// Each page of events is handled in the transaction that also moves the
/// projection's checkpoint, in the same database: after a crash no event
/// is applied twice or lost.
///
/// ```
/// use es_core::{BoxError, RecordedEvent};
/// use es_mysql::{MySqlProjection, MySqlTransaction};
/// use es_mysql::mysql_async::{Conn, prelude::Queryable};
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
///
/// struct Balances;
///
/// impl MySqlProjection for Balances {
///     type Event = Deposited;
///     fn name(&self) -> &str { "balances" }
///     async fn setup(&mut self, c: &mut Conn) -> Result<(), BoxError> {
///         c.query_drop("CREATE TABLE IF NOT EXISTS balances (id VARCHAR(190) PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB").await?;
///         Ok(())
///     }
///     async fn handle(&mut self, tx: &mut MySqlTransaction<'_>, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
///         tx.exec_drop(
///             "INSERT INTO balances (id, balance) VALUES (?, ?) ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance)",
///             (&env.stream_id, e.amount),
///         ).await?;
///         Ok(())
///     }
///     async fn reset(&mut self, tx: &mut MySqlTransaction<'_>) -> Result<(), BoxError> {
///         tx.query_drop("DELETE FROM balances").await?; // not TRUNCATE: it would commit
///         Ok(())
///     }
/// }
/// ```
pub trait MySqlProjection: Send + Sync + 'static {
    /// The events this projection reads. Events of its aggregate types that the
    /// program knows but this type does not are skipped; see
    /// [`es_core::projection`] for what is never skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept
    /// (190 characters at most).
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default:
    /// all).
    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::All
    }

    /// Creates the read model's tables, each time a runner takes the
    /// projection over, before its first page. It runs outside any
    /// transaction, since DDL commits implicitly: make it idempotent
    /// (`CREATE TABLE IF NOT EXISTS`). Afterwards the runner refuses to
    /// start while a table of the database has an engine without
    /// transactions (MyISAM, Aria, MEMORY). The default creates nothing.
    fn setup(&mut self, connection: &mut Conn) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = connection;
        async { Ok(()) }
    }

    /// Applies one event to the read model inside `tx`. An error rolls the
    /// transaction back; the runner retries per its
    /// [`RetryPolicy`](es_core::projection::RetryPolicy), and may hand the
    /// events before the failing one again. Keep the read model in the
    /// database: state kept in `self` is not rolled back.
    fn handle(
        &mut self,
        tx: &mut MySqlTransaction<'_>,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Applies several events, in order, inside `tx`: a page of the global
    /// order, up to the runner's page size. The default calls
    /// [`handle`](Self::handle) for each; a multi-row statement per page
    /// rebuilds many times faster.
    fn handle_batch(
        &mut self,
        tx: &mut MySqlTransaction<'_>,
        events: &[Envelope<'_, Self::Event>],
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            for envelope in events {
                self.handle(tx, envelope.event, envelope.recorded).await?;
            }
            Ok(())
        }
    }

    /// Empties the read model inside `tx`, before a rebuild: with `DELETE`,
    /// which rolls back with the rest, not `TRUNCATE`, which commits.
    fn reset(&mut self, tx: &mut MySqlTransaction<'_>) -> impl Future<Output = Result<(), BoxError>> + Send;
}
