//! Projections whose read models live in PostgreSQL, written in the same
//! transaction as their checkpoint.

use std::future::Future;

use es_core::projection::{CheckpointWaiter, CheckpointWatch, Progress, RunnerOptions, decode_for};
use es_core::{BoxError, Event, EventStore, Position, ProjectionError, RecordedEvent, StoreError};
use futures_util::future::Either;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::error::store_error;
use crate::listen::Listener;
use crate::store::PgEventStore;
use crate::transaction::{PgTransaction, StatementCache};

/// A read model in PostgreSQL, fed by the store's events.
///
/// Each handler call gets the transaction that also advances the
/// projection's checkpoint: the read-model writes and the checkpoint commit
/// together or not at all, so after a crash no event is applied twice or
/// lost.
///
/// ```
/// use es_core::{BoxError, RecordedEvent};
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
pub trait PgProjection: Send + Sync {
    /// The events this projection reads; events of other types are skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// Applies one event to the read model inside `tx`. An error rolls the
    /// transaction back; the runner retries per its
    /// [`RetryPolicy`](es_core::projection::RetryPolicy), and may
    /// hand the events before the failing one again. Keep the read model in
    /// the database: state kept in `self` is not rolled back.
    fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Empties the read model inside `tx`, before a rebuild.
    fn reset(&mut self, tx: &PgTransaction<'_>) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// Runs a [`PgProjection`]: catches up from its checkpoint in pages, then
/// follows new events, woken by `NOTIFY` from appends and polling as a
/// fallback.
///
/// Only one runner per projection and schema works at a time: a session
/// advisory lock, held on the runner's own connection, elects it. Others
/// stand by and take over when it stops or its connection dies.
///
/// When a handler keeps failing on an event, the runner stops with
/// [`ProjectionError::Handler`] naming that event; the read model holds
/// every event before it and none after. Fix the cause and run again: the
/// runner resumes at that event.
#[derive(Debug)]
pub struct PgProjectionRunner<P> {
    store: PgEventStore,
    projection: P,
    checkpoint: CheckpointWatch,
    options: RunnerOptions,
}

/// A handler failure inside one transaction: which event, and why.
struct Failed {
    index: usize,
    source: BoxError,
}

impl<P: PgProjection> PgProjectionRunner<P> {
    /// A runner for `projection` over `store`.
    pub fn new(store: PgEventStore, projection: P) -> Self {
        let checkpoint = CheckpointWatch::new(projection.name(), Position::START);
        PgProjectionRunner { store, projection, checkpoint, options: RunnerOptions::default() }
    }

    /// Sets how the runner reads, retries and waits; a page of events is
    /// also what one transaction commits.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The projection, to change it before running again.
    pub fn projection_mut(&mut self) -> &mut P {
        &mut self.projection
    }

    /// The last checkpoint this runner committed or read.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint.position()
    }

    /// A handle that waits until this runner has committed a position. It
    /// sees this runner's commits only: a standby's waiter moves once the
    /// standby takes over.
    pub fn waiter(&self) -> CheckpointWaiter {
        self.checkpoint.waiter()
    }

    /// Takes the projection's lock, handles every event after the checkpoint
    /// and returns how many were read. Fails with
    /// [`ProjectionError::Busy`] when another runner holds the lock.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let mut session = self.take_over().await?;
        self.catch_up_on(session.parts(), |_| {}).await
    }

    /// Waits for the projection's lock (standing by while another runner
    /// holds it), then catches up and follows new events until `stop`
    /// resolves. Returns an error when the connection dies or a handler
    /// fails for good; the lock is released either way.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        let mut session = self.session().await?;
        let key = self.lock_key();
        while !session.try_lock(key).await.map_err(|e| self.store_error(e))? {
            if tokio::time::timeout(self.options.poll_interval, &mut stop).await.is_ok() {
                return Ok(());
            }
        }
        session.listen().await.map_err(|e| self.store_error(e))?;
        self.load_checkpoint(session.client()).await?;
        loop {
            if session.client().is_closed() {
                // The lock went with the connection: another runner may
                // already have taken over.
                let lost = StoreError::Unavailable("the projection runner's connection closed".into());
                return Err(self.store_error(lost));
            }
            self.catch_up_on(session.parts(), |_| {}).await?;
            let wake = std::pin::pin!(tokio::time::timeout(self.options.poll_interval, session.notified()));
            if let Either::Right(_) = futures_util::future::select(wake, stop.as_mut()).await {
                return Ok(());
            }
        }
    }

    /// Empties the read model, resets the checkpoint and replays every event
    /// from the start, reporting progress after each page. Queries see the
    /// read model fill up again; to keep serving the old one meanwhile, build
    /// a new projection (another name, another table) beside it and switch
    /// queries over once it has caught up.
    pub async fn rebuild(&mut self, mut progress: impl FnMut(Progress)) -> Result<u64, ProjectionError> {
        let mut session = self.take_over().await?;
        let total = self.store.count().await.map_err(|e| self.store_error(e))?;
        let (client, statements) = session.parts();
        let tx = client.transaction().await.map_err(|e| self.store_error(store_error(e)))?;
        let tx = PgTransaction::new(tx, statements);
        if let Err(source) = self.projection.reset(&tx).await {
            return Err(ProjectionError::Reset { projection: self.projection.name().to_owned(), source });
        }
        self.save_checkpoint(&tx, Position::START).await?;
        tx.commit().await.map_err(|e| self.store_error(store_error(e)))?;
        self.checkpoint.advance(Position::START);
        self.catch_up_on((client, statements), |done| progress(Progress { done, total })).await
    }

    /// A session holding the projection's lock, with the checkpoint loaded;
    /// [`ProjectionError::Busy`] when another runner holds the lock.
    async fn take_over(&mut self) -> Result<Listener, ProjectionError> {
        let session = self.session().await?;
        if !session.try_lock(self.lock_key()).await.map_err(|e| self.store_error(e))? {
            return Err(ProjectionError::Busy { projection: self.projection.name().to_owned() });
        }
        self.load_checkpoint(session.client()).await?;
        Ok(session)
    }

    /// A connection of the runner's own, named
    /// `es projection <schema>.<projection>` in `pg_stat_activity`.
    async fn session(&self) -> Result<Listener, ProjectionError> {
        let application_name = format!("es projection {}.{}", self.store.schema(), self.projection.name());
        Listener::connect(&self.store, &application_name).await.map_err(|e| self.store_error(e))
    }

    fn lock_key(&self) -> i64 {
        self.store.lock_key(&format!("projection\0{}", self.projection.name()))
    }

    fn store_error(&self, e: StoreError) -> ProjectionError {
        ProjectionError::store(self.projection.name(), e)
    }

    async fn load_checkpoint(&mut self, client: &Client) -> Result<(), ProjectionError> {
        let name = self.projection.name();
        let row = client
            .query_one(&self.store.sql().load_checkpoint, &[&name])
            .await
            .map_err(|e| self.store_error(store_error(e)))?;
        let column = |i| row.try_get::<_, i64>(i).map_err(|e| self.store_error(store_error(e)));
        let (commit, sequence) = (column(0)?, column(1)?);
        self.checkpoint.advance(Position::new(commit.unsigned_abs(), sequence.unsigned_abs()));
        Ok(())
    }

    /// Moves the checkpoint from where this runner last saw it to
    /// `position`. Should the stored checkpoint be elsewhere, another runner
    /// has been writing (the lock cannot hold through a connection pooler
    /// that shares sessions), and the transaction must not commit.
    async fn save_checkpoint(&self, tx: &PgTransaction<'_>, position: Position) -> Result<(), ProjectionError> {
        let failed = |e| self.store_error(store_error(e));
        let statement = tx.prepare_cached(&self.store.sql().save_checkpoint).await.map_err(failed)?;
        let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (from, to) = (self.checkpoint(), position);
        let params: [&(dyn ToSql + Sync); 5] = [
            &self.projection.name(),
            &number(from.commit),
            &number(from.sequence),
            &number(to.commit),
            &number(to.sequence),
        ];
        match tx.execute(&statement, &params).await.map_err(failed)? {
            1 => Ok(()),
            _ => Err(ProjectionError::Busy { projection: self.projection.name().to_owned() }),
        }
    }

    /// Handles pages until the store has nothing newer; returns how many
    /// events were read.
    async fn catch_up_on(
        &mut self,
        (client, statements): (&mut Client, &StatementCache),
        mut on_page: impl FnMut(u64),
    ) -> Result<u64, ProjectionError> {
        let mut read = 0;
        loop {
            let page = self
                .store
                .read_all(self.checkpoint(), self.options.page_size)
                .await
                .map_err(|e| self.store_error(e))?;
            if page.is_empty() {
                return Ok(read);
            }
            self.handle_page(client, statements, &page).await?;
            read += page.len() as u64;
            on_page(read);
        }
    }

    /// Commits a page in as few transactions as possible. When a handler
    /// fails, the events before it commit first, then the failing event is
    /// retried alone with backoff until it succeeds or the policy is spent.
    async fn handle_page(
        &mut self,
        client: &mut Client,
        statements: &StatementCache,
        page: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let name = self.projection.name().to_owned();
        let mut events = Vec::with_capacity(page.len());
        let mut undecodable = None;
        for recorded in page {
            match decode_for::<P::Event>(&name, recorded) {
                Ok(event) => events.push((recorded, event)),
                Err(e) => {
                    undecodable = Some(e);
                    break;
                }
            }
        }
        let mut rest = &events[..];
        let mut failing: Option<(Position, u32)> = None;
        while !rest.is_empty() {
            let size = match failing {
                Some((at, failures)) if rest[0].0.position == at => {
                    tokio::time::sleep(self.options.retry.backoff(failures)).await;
                    1
                }
                Some((at, _)) => rest.iter().position(|(e, _)| e.position == at).unwrap_or(rest.len()),
                None => rest.len(),
            };
            match self.commit(client, statements, &rest[..size]).await? {
                Ok(()) => rest = &rest[size..],
                Err(Failed { index, source }) => {
                    let event = rest[index].0;
                    let failures = match failing {
                        Some((at, n)) if at == event.position => n + 1,
                        _ => 1,
                    };
                    if failures >= self.options.retry.attempts.max(1) {
                        return Err(ProjectionError::handler(&name, event, failures, source));
                    }
                    failing = Some((event.position, failures));
                }
            }
        }
        undecodable.map_or(Ok(()), Err)
    }

    /// Handles `events` and advances the checkpoint in one transaction.
    async fn commit(
        &mut self,
        client: &mut Client,
        statements: &StatementCache,
        events: &[(&RecordedEvent, Option<P::Event>)],
    ) -> Result<Result<(), Failed>, ProjectionError> {
        let Some(last) = events.last().map(|(e, _)| e.position) else { return Ok(Ok(())) };
        let tx = client.transaction().await.map_err(|e| self.store_error(store_error(e)))?;
        let tx = PgTransaction::new(tx, statements);
        for (index, (recorded, event)) in events.iter().enumerate() {
            let Some(event) = event else { continue };
            if let Err(source) = self.projection.handle(&tx, event, recorded).await {
                // Dropping `tx` rolls it back.
                return Ok(Err(Failed { index, source }));
            }
        }
        self.save_checkpoint(&tx, last).await?;
        tx.commit().await.map_err(|e| self.store_error(store_error(e)))?;
        self.checkpoint.advance(last);
        Ok(Ok(()))
    }
}
