//! [`PgOutboxRunner`]: one outbox consumer's runner, elected by its lease.

use std::future::Future;
use std::time::Duration;

use es_core::projection::{ReconnectBackoff, RetryPolicy};
use es_core::{Position, StoreError};
use tokio_postgres::types::ToSql;
use tracing::warn;

use crate::codec::convert::{bound, unsigned};
use crate::connection::Executor;
use crate::error::{Error, is_outage};
use crate::lease::identity::{OUTBOX_CHECKPOINT, RunnerKind};
use crate::lease::{self, Elected, Lease, Lifecycle};
use crate::outbox::{PgOutboxError, PgOutboxHandler, PgOutboxMessage};
use crate::projection::{PgTransaction, checkpoint};
use crate::store::PgEventStore;

/// The page size of a runner unless [`PgOutboxRunner::page_size`] says
/// otherwise.
pub const DEFAULT_OUTBOX_PAGE_SIZE: usize = 500;

/// How often a running [`PgOutboxRunner`] looks for messages when no
/// notification woke it.
pub const OUTBOX_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Delivers the outbox to an [`PgOutboxHandler`], page by page in commit
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
    lease: Lease,
    checkpoint: Position,
}

impl<H> std::fmt::Debug for PgOutboxRunner<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOutboxRunner")
            .field("store", &self.store)
            .field("consumer", &self.consumer)
            .field("checkpoint", &self.checkpoint)
            .field("holds_lease", &self.lease.session().is_some())
            .finish_non_exhaustive()
    }
}

impl<H: PgOutboxHandler> PgOutboxRunner<H> {
    /// A runner of `handler` over `store`'s outbox.
    pub fn new(store: PgEventStore, handler: H) -> Self {
        let consumer = format!("{OUTBOX_CHECKPOINT}{}", handler.name());
        let lease = Lease::new(&store, RunnerKind::Outbox, handler.name());
        PgOutboxRunner {
            store,
            handler,
            consumer,
            page_size: DEFAULT_OUTBOX_PAGE_SIZE,
            retry: RetryPolicy::NEVER,
            lease,
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
    /// returns how many; [`PgOutboxError::Busy`] when another runner holds
    /// the lock.
    pub async fn catch_up(&mut self) -> Result<u64, PgOutboxError> {
        if !self.lease.try_take().await.map_err(|e| self.store_error(e))? {
            return Err(PgOutboxError::Busy { consumer: self.handler.name().to_owned() });
        }
        let delivered = match self.resume_checkpoint().await {
            Ok(()) => self.deliver().await,
            Err(error) => Err(error),
        };
        self.lease.release().await;
        delivered
    }

    /// Waits for the consumer's lock (standing by while another runner
    /// holds it), then delivers messages as they are committed until `stop`
    /// resolves; woken by the commits of [`PgOutbox::enqueue`](crate::PgOutbox::enqueue),
    /// polling every [`OUTBOX_POLL_INTERVAL`] as a fallback.
    ///
    /// Like a projection runner, it rides out outages: when the connection
    /// is lost or the server cannot be reached, it reconnects with
    /// [`ReconnectBackoff`]'s default pauses, takes the lock again (or
    /// stands by) and resumes from the committed checkpoint, delivering
    /// nothing twice. Only what retrying cannot fix ends it.
    pub async fn run(&mut self, stop: impl Future<Output = ()> + Send) -> Result<(), PgOutboxError> {
        lease::run(self, stop).await
    }

    /// Delivers pages until none is left; returns how many messages. A
    /// page the handler fails on is tried again per the retry policy.
    async fn deliver(&mut self) -> Result<u64, PgOutboxError> {
        let (mut delivered, mut failures) = (0, 0);
        loop {
            match self.deliver_page().await {
                Ok(0) => return Ok(delivered),
                Ok(count) => (delivered, failures) = (delivered + count, 0),
                Err(error @ PgOutboxError::Handler { .. }) => {
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
    async fn deliver_page(&mut self) -> Result<u64, PgOutboxError> {
        let consumer = self.handler.name().to_owned();
        let store_failed = |source: Error| PgOutboxError::Store { consumer: consumer.clone(), source: source.into() };
        let schema = &self.store.schema;
        let Some(session) = self.lease.session_mut() else { return Ok(0) };
        let (client, statements) = session.parts();
        let tx = client.transaction().await.map_err(|e| store_failed(e.into()))?;
        let tx = PgTransaction::new(tx, statements);
        let page = read_page(&tx, schema, self.checkpoint, self.page_size).await.map_err(store_failed)?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else { return Ok(0) };
        if let Err(source) = self.handler.handle(&tx, &page).await {
            if is_outage(source.as_ref()) {
                // The connection went away under the handler: not its fault.
                return Err(store_failed(Error::Unavailable(source)));
            }
            let (position, topic, key) = (first.position, first.topic.clone(), first.key.clone());
            return Err(PgOutboxError::Handler { consumer, position, topic, key, source });
        }
        let to = last.position;
        let moved = checkpoint::save(&tx, schema, &self.consumer, self.checkpoint, to).await.map_err(store_failed)?;
        if moved.is_none() {
            return Err(PgOutboxError::Busy { consumer });
        }
        tx.commit().await.map_err(|e| store_failed(e.into()))?;
        self.checkpoint = to;
        Ok(page.len() as u64)
    }

    /// Loads the checkpoint on the connection holding the lease.
    async fn resume_checkpoint(&mut self) -> Result<(), PgOutboxError> {
        let Some(session) = self.lease.session() else {
            return Err(self.store_error(Error::Unavailable("the runner lost its lease before resuming".into())));
        };
        let loaded = checkpoint::load(session, &self.store.schema, &self.consumer).await;
        self.checkpoint = loaded.map_err(|e| self.store_error(e))?.position;
        Ok(())
    }

    fn store_error(&self, source: Error) -> PgOutboxError {
        PgOutboxError::Store { consumer: self.handler.name().to_owned(), source: source.into() }
    }
}

impl<H: PgOutboxHandler> Elected for PgOutboxRunner<H> {
    type Error = PgOutboxError;

    fn lease(&mut self) -> &mut Lease {
        &mut self.lease
    }

    fn poll_interval(&self) -> Duration {
        OUTBOX_POLL_INTERVAL
    }

    fn backoff(&self) -> ReconnectBackoff {
        ReconnectBackoff::default()
    }

    async fn resume(&mut self) -> Result<(), PgOutboxError> {
        self.resume_checkpoint().await
    }

    async fn work(&mut self) -> Result<(), PgOutboxError> {
        self.deliver().await.map(drop)
    }

    fn lease_error(&self, error: Error) -> PgOutboxError {
        self.store_error(error)
    }

    fn is_outage(error: &PgOutboxError) -> bool {
        matches!(error, PgOutboxError::Store { source: StoreError::Unavailable(_), .. })
    }

    async fn released(&mut self, _outcome: &Result<(), PgOutboxError>) {}

    fn report(&mut self, lifecycle: Lifecycle<'_, PgOutboxError>) {
        if let Lifecycle::Reconnecting { attempts, error, .. } = lifecycle {
            warn!(
                consumer = self.handler.name(),
                attempts,
                error = %es_core::ErrorReport::new(error),
                "the outbox runner lost the database (and its lock, if it held it); reconnecting"
            );
        }
    }
}

/// A page of messages after `after`, up to the horizon.
async fn read_page<E: Executor>(
    on: &E,
    schema: &crate::schema::Schema,
    after: Position,
    limit: usize,
) -> Result<Vec<PgOutboxMessage>, Error> {
    let params: [&(dyn ToSql + Sync); 3] = [&bound(after.commit), &bound(after.sequence), &bound(limit as u64)];
    let rows = on.fetch_all(&schema.sql(include_str!("sql/read.sql")), &params).await?;
    rows.iter()
        .map(|row| {
            let column = |i, column| unsigned(row.try_get(i)?, column, "<outbox>", 0);
            Ok(PgOutboxMessage {
                position: Position::new(column(0, "tx")?, column(1, "position")?),
                topic: row.try_get(2)?,
                key: row.try_get(3)?,
                payload: row.try_get(4)?,
                enqueued_at: row.try_get(5)?,
            })
        })
        .collect()
}
