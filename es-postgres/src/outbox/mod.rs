//! The outbox: messages a CRUD write side enqueues in its own transactions,
//! delivered in commit order, exactly once, to handlers that write in the
//! transaction that also moves their checkpoint.

mod runner;

use std::future::Future;
use std::time::{Duration, SystemTime};

use es_core::{BoxError, Position, StoreError};
use serde_json::Value;
use tokio_postgres::Transaction;

use crate::error::Error;
use crate::projection::PgTransaction;
use crate::store::PgEventStore;

pub use runner::{DEFAULT_OUTBOX_PAGE_SIZE, OUTBOX_POLL_INTERVAL, PgOutboxRunner};

/// A message of the outbox, as a handler receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgOutboxMessage {
    /// Its place in the outbox's commit order.
    pub position: Position,
    /// What it is about, chosen by the writer (for example `order.placed`).
    pub topic: String,
    /// What it concerns (for example an order id).
    pub key: String,
    /// Its content.
    pub payload: Value,
    /// When it was enqueued.
    pub enqueued_at: SystemTime,
}

/// The outbox of a [`PgEventStore`]'s schema: the `outbox` table, which
/// [`PgEventStore::migrate`] creates.
///
/// A write side that keeps its state in tables of its own (no events)
/// enqueues messages in the transaction of its writes: the message exists
/// if and only if the writes committed. [`PgOutboxRunner`]s deliver them
/// in commit order with the event log's guarantee: a transaction that
/// commits late is waited for, never skipped.
///
/// ```no_run
/// use es_postgres::{PgEventStore, PgOutbox};
///
/// # async fn run(store: PgEventStore) -> Result<(), Box<dyn std::error::Error>> {
/// let outbox = PgOutbox::new(store.clone());
/// let mut client = store.connection().await?;
/// let tx = client.transaction().await?;
/// tx.execute("UPDATE orders SET state = 'placed' WHERE id = $1", &[&"o-1"]).await?;
/// outbox.enqueue(&tx, "order.placed", "o-1", &serde_json::json!({ "total": 42 })).await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgOutbox {
    store: PgEventStore,
}

impl PgOutbox {
    /// The outbox in `store`'s schema.
    pub fn new(store: PgEventStore) -> Self {
        PgOutbox { store }
    }

    /// Enqueues a message inside `tx`, the caller's transaction: it is
    /// delivered once `tx` commits, and never if it rolls back. As with
    /// [`PgEventStore::append_in`], enqueue last and commit soon: readers
    /// of the outbox wait for transactions that started writing before.
    pub async fn enqueue(
        &self,
        tx: &Transaction<'_>,
        topic: &str,
        key: &str,
        payload: &Value,
    ) -> Result<(), StoreError> {
        let enqueued = async {
            let statement = tx.prepare(&self.store.schema.sql(include_str!("sql/enqueue.sql"))).await?;
            let channel = self.store.schema.events_channel();
            tx.execute(&statement, &[&topic, &key, payload, &channel]).await?;
            Ok::<_, Error>(())
        };
        Ok(enqueued.await?)
    }

    /// Deletes the messages enqueued more than `retention` ago that every
    /// outbox consumer has delivered; returns how many. While no consumer
    /// has run, nothing is delivered and nothing deleted.
    pub async fn prune(&self, retention: Duration) -> Result<u64, StoreError> {
        let pruned = async {
            let client = self.store.client().await?;
            let statement = client.prepare_cached(&self.store.schema.sql(include_str!("sql/prune.sql"))).await?;
            Ok::<_, Error>(client.execute(&statement, &[&retention.as_secs_f64()]).await?)
        };
        Ok(pruned.await?)
    }
}

/// What a [`PgOutboxRunner`] delivers messages to.
pub trait PgOutboxHandler: Send {
    /// The consumer's stable name: its checkpoint is kept as
    /// `outbox:<name>` in the checkpoints table.
    fn name(&self) -> &str;

    /// Handles a page of messages, in commit order, inside `tx`, which
    /// also moves the consumer's checkpoint past them: what the handler
    /// writes in `tx` happens exactly once per message. An error rolls
    /// `tx` back and stops the runner at the page; running it again
    /// delivers the page again.
    fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        messages: &[PgOutboxMessage],
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What stopped an outbox runner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgOutboxError {
    /// Another runner of the consumer holds its lock.
    #[error("outbox consumer `{consumer}` is running elsewhere: only one runner delivers at a time")]
    Busy {
        /// The consumer.
        consumer: String,
    },
    /// The store failed.
    #[error("outbox consumer `{consumer}` could not read or commit")]
    Store {
        /// The consumer.
        consumer: String,
        /// The store's error.
        source: StoreError,
    },
    /// The handler failed on a page; nothing of it was committed.
    #[error(
        "outbox consumer `{consumer}` failed on the page starting at message {position} \
         (topic `{topic}`, key `{key}`); fix the cause and run it again to resume there"
    )]
    Handler {
        /// The consumer.
        consumer: String,
        /// The first message of the page.
        position: Position,
        /// Its topic.
        topic: String,
        /// Its key.
        key: String,
        /// The handler's error.
        source: BoxError,
    },
}
