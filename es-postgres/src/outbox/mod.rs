//! The outbox: messages a CRUD write side enqueues in its own transactions,
//! delivered in commit order, exactly once, to handlers that write in the
//! transaction that also moves their checkpoint.

use std::future::Future;
use std::time::{Duration, SystemTime};

use es_core::projection::{ReconnectBackoff, RetryPolicy};
use es_core::{BoxError, Position, StoreError};
use futures_util::future::Either;
use serde_json::Value;
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::error::{is_outage, store_error};
use crate::listen::Listener;
use crate::store::PgEventStore;
use crate::transaction::PgTransaction;

/// The page size of a runner unless [`PgOutboxRunner::page_size`] says
/// otherwise.
pub const DEFAULT_OUTBOX_PAGE_SIZE: usize = 500;

/// How often a running [`PgOutboxRunner`] looks for messages when no
/// notification woke it.
pub const OUTBOX_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A message of the outbox, as a handler receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
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
        let statement = tx.prepare(&self.store.sql().outbox_enqueue).await.map_err(store_error)?;
        let channel = self.store.channel();
        tx.execute(&statement, &[&topic, &key, payload, &channel]).await.map_err(store_error)?;
        Ok(())
    }

    /// Deletes the messages enqueued more than `retention` ago that every
    /// outbox consumer has delivered; returns how many. While no consumer
    /// has run, nothing is delivered and nothing deleted.
    pub async fn prune(&self, retention: Duration) -> Result<u64, StoreError> {
        let client = self.store.client().await?;
        let statement = client.prepare_cached(&self.store.sql().outbox_prune).await.map_err(store_error)?;
        client.execute(&statement, &[&retention.as_secs_f64()]).await.map_err(store_error)
    }
}

/// What a [`PgOutboxRunner`] delivers messages to.
pub trait OutboxHandler: Send {
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
        messages: &[OutboxMessage],
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What stopped an outbox runner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// Another runner of the consumer holds its lock.
    #[error("outbox consumer `{consumer}` is running elsewhere: only one runner delivers at a time")]
    Busy {
        /// The consumer.
        consumer: String,
    },
    /// The store failed.
    #[error("outbox consumer `{consumer}` could not read or commit: {source}")]
    Store {
        /// The consumer.
        consumer: String,
        /// The store's error.
        source: StoreError,
    },
    /// The handler failed on a page; nothing of it was committed.
    #[error(
        "outbox consumer `{consumer}` failed on the page starting at message {position} \
         (topic `{topic}`, key `{key}`): {source}; fix the cause and run it again to resume there"
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

/// Delivers the outbox to an [`OutboxHandler`], page by page in commit
/// order, each page and the checkpoint after it in one transaction.
///
/// Only one runner per consumer and schema delivers at a time: a session
/// advisory lock on the runner's own connection elects it.
pub struct PgOutboxRunner<H> {
    store: PgEventStore,
    handler: H,
    consumer: String,
    page_size: usize,
    retry: RetryPolicy,
    session: Option<Listener>,
    checkpoint: Position,
}

impl<H> std::fmt::Debug for PgOutboxRunner<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOutboxRunner")
            .field("store", &self.store)
            .field("consumer", &self.consumer)
            .field("checkpoint", &self.checkpoint)
            .field("holds_lock", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl<H: OutboxHandler> PgOutboxRunner<H> {
    /// A runner of `handler` over `store`'s outbox.
    pub fn new(store: PgEventStore, handler: H) -> Self {
        let consumer = format!("outbox:{}", handler.name());
        PgOutboxRunner {
            store,
            handler,
            consumer,
            page_size: DEFAULT_OUTBOX_PAGE_SIZE,
            retry: RetryPolicy::NEVER,
            session: None,
            checkpoint: Position::START,
        }
    }

    /// Sets how many messages one transaction delivers at most.
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Sets how a failing page is retried (default: not at all, the
    /// runner stops at it). Each try is a transaction of its own, and the
    /// pauses between tries hold none open.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The position of the last message delivered, as last committed or read.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// Takes the consumer's lock, delivers every message there is and
    /// returns how many; [`OutboxError::Busy`] when another runner holds
    /// the lock.
    pub async fn catch_up(&mut self) -> Result<u64, OutboxError> {
        let session = self.connect().await?;
        if !session.try_lock(self.lock_key()).await.map_err(|e| self.store_error(e))? {
            return Err(OutboxError::Busy { consumer: self.handler.name().to_owned() });
        }
        self.resume(session).await?;
        let delivered = self.deliver().await;
        if let Some(session) = self.session.take() {
            session.close().await;
        }
        delivered
    }

    /// Waits for the consumer's lock (standing by while another runner
    /// holds it), then delivers messages as they are committed until `stop`
    /// resolves; woken by the commits of [`PgOutbox::enqueue`], polling
    /// every [`OUTBOX_POLL_INTERVAL`] as a fallback.
    ///
    /// Like a projection runner, it rides out outages: when the connection
    /// is lost or the server cannot be reached, it reconnects with
    /// [`ReconnectBackoff`]'s default pauses, takes the lock again (or
    /// stands by) and resumes from the committed checkpoint, delivering
    /// nothing twice. Only what retrying cannot fix ends it.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), OutboxError> {
        let mut stop = std::pin::pin!(stop);
        let backoff = ReconnectBackoff::default();
        let mut attempts = 0;
        loop {
            let connected = self.run_connected(stop.as_mut(), &mut attempts).await;
            if let Some(session) = self.session.take() {
                session.close().await;
            }
            match connected {
                Err(OutboxError::Store { source: StoreError::Unavailable(_), .. }) => {
                    attempts += 1;
                    if tokio::time::timeout(backoff.pause(attempts), stop.as_mut()).await.is_ok() {
                        return Ok(());
                    }
                }
                other => return other,
            }
        }
    }

    /// One connection's life: stand by until the lock is free, then deliver
    /// until `stop` resolves or the connection fails. Clears `attempts`
    /// once it delivers again.
    async fn run_connected(
        &mut self,
        mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
        attempts: &mut u32,
    ) -> Result<(), OutboxError> {
        let session = self.connect().await?;
        while !session.try_lock(self.lock_key()).await.map_err(|e| self.store_error(e))? {
            if tokio::time::timeout(OUTBOX_POLL_INTERVAL, stop.as_mut()).await.is_ok() {
                return Ok(());
            }
        }
        session.listen().await.map_err(|e| self.store_error(e))?;
        self.resume(session).await?;
        *attempts = 0;
        self.follow(stop).await
    }

    async fn follow(&mut self, mut stop: std::pin::Pin<&mut impl Future<Output = ()>>) -> Result<(), OutboxError> {
        loop {
            self.deliver().await?;
            let Some(session) = &self.session else { return Ok(()) };
            if session.client().is_closed() {
                let lost = StoreError::Unavailable("the outbox runner's connection closed".into());
                return Err(self.store_error(lost));
            }
            let wake = std::pin::pin!(tokio::time::timeout(OUTBOX_POLL_INTERVAL, session.notified()));
            if let Either::Right(_) = futures_util::future::select(wake, stop.as_mut()).await {
                return Ok(());
            }
        }
    }

    /// Delivers pages until none is left; returns how many messages. A
    /// page the handler fails on is tried again per the retry policy.
    async fn deliver(&mut self) -> Result<u64, OutboxError> {
        let (mut delivered, mut failures) = (0, 0);
        loop {
            match self.deliver_page().await {
                Ok(0) => return Ok(delivered),
                Ok(count) => (delivered, failures) = (delivered + count, 0),
                Err(error @ OutboxError::Handler { .. }) => {
                    failures += 1;
                    if failures >= self.retry.attempts() {
                        return Err(error);
                    }
                    tokio::time::sleep(self.retry.backoff(failures)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Delivers one page in one transaction; returns how many messages.
    async fn deliver_page(&mut self) -> Result<u64, OutboxError> {
        let name = self.handler.name().to_owned();
        let consumer = || name.clone();
        let sql = self.store.sql();
        let Some(session) = self.session.as_mut() else { return Ok(0) };
        let (client, statements) = session.parts();
        let store_failed = |source| OutboxError::Store { consumer: consumer(), source };
        let tx = client.transaction().await.map_err(|e| store_failed(store_error(e)))?;
        let tx = PgTransaction::new(tx, statements);
        let page = read_page(&tx, &sql.outbox_read, self.checkpoint, self.page_size).await.map_err(store_failed)?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else { return Ok(0) };
        if let Err(source) = self.handler.handle(&tx, &page).await {
            if is_outage(source.as_ref()) {
                // The connection went away under the handler: not its fault.
                return Err(store_failed(StoreError::Unavailable(source)));
            }
            let (position, topic, key) = (first.position, first.topic.clone(), first.key.clone());
            return Err(OutboxError::Handler { consumer: consumer(), position, topic, key, source });
        }
        let to = last.position;
        let moved = save_checkpoint(&tx, &sql.save_checkpoint, &self.consumer, self.checkpoint, to, &self.store)
            .await
            .map_err(store_failed)?;
        if !moved {
            return Err(OutboxError::Busy { consumer: consumer() });
        }
        tx.commit().await.map_err(|e| store_failed(store_error(e)))?;
        self.checkpoint = to;
        Ok(page.len() as u64)
    }

    /// Loads the checkpoint on the session holding the lock and keeps it.
    async fn resume(&mut self, session: Listener) -> Result<(), OutboxError> {
        let row = session
            .client()
            .query_one(&self.store.sql().load_checkpoint, &[&self.consumer, &self.store.checkpoint_channel()])
            .await
            .map_err(|e| self.store_error(store_error(e)))?;
        let column = |i| row.try_get::<_, i64>(i).map_err(|e| self.store_error(store_error(e)));
        self.checkpoint = Position::new(column(0)?.unsigned_abs(), column(1)?.unsigned_abs());
        self.session = Some(session);
        Ok(())
    }

    /// A connection of the runner's own, named
    /// `es outbox <schema>.<consumer>` in `pg_stat_activity`.
    async fn connect(&self) -> Result<Listener, OutboxError> {
        let store = &self.store;
        let application_name = format!("es outbox {}.{}", store.schema(), self.handler.name());
        Listener::connect(store.config(), store.tls(), store.channel(), &application_name)
            .await
            .map_err(|e| self.store_error(e))
    }

    fn lock_key(&self) -> i64 {
        self.store.lock_key(&format!("outbox\0{}", self.handler.name()))
    }

    fn store_error(&self, source: StoreError) -> OutboxError {
        OutboxError::Store { consumer: self.handler.name().to_owned(), source }
    }
}

fn number(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A page of messages after `after`, up to the horizon.
async fn read_page(
    tx: &PgTransaction<'_>,
    sql: &str,
    after: Position,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let statement = tx.prepare_cached(sql).await.map_err(store_error)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows =
        tx.query(&statement, &[&number(after.commit), &number(after.sequence), &limit]).await.map_err(store_error)?;
    rows.iter()
        .map(|row| {
            let (commit, sequence): (i64, i64) =
                (row.try_get(0).map_err(store_error)?, row.try_get(1).map_err(store_error)?);
            Ok(OutboxMessage {
                position: Position::new(commit.unsigned_abs(), sequence.unsigned_abs()),
                topic: row.try_get(2).map_err(store_error)?,
                key: row.try_get(3).map_err(store_error)?,
                payload: row.try_get(4).map_err(store_error)?,
                enqueued_at: row.try_get(5).map_err(store_error)?,
            })
        })
        .collect()
}

/// Moves the consumer's checkpoint `from` → `to` inside `tx`; `false` when
/// another runner moved it.
async fn save_checkpoint(
    tx: &PgTransaction<'_>,
    sql: &str,
    consumer: &str,
    from: Position,
    to: Position,
    store: &PgEventStore,
) -> Result<bool, StoreError> {
    let statement = tx.prepare_cached(sql).await.map_err(store_error)?;
    let channel = store.checkpoint_channel();
    let params: [&(dyn ToSql + Sync); 6] =
        [&consumer, &number(from.commit), &number(from.sequence), &number(to.commit), &number(to.sequence), &channel];
    Ok(tx.execute(&statement, &params).await.map_err(store_error)? == 1)
}
