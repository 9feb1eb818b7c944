//! Projections whose read models live in PostgreSQL, written in the same
//! transaction as their checkpoint.

use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::time::SystemTime;

use deadpool_postgres::Object;
use es_core::projection::engine::{Backend, Engine, Failed};
use es_core::projection::{
    CheckpointWaiter, Envelope, Health, ParkedEvent, Progress, ProjectionError, RunnerOptions, RunnerState,
};
use es_core::{BoxError, Categories, Event, EventStore, Page, Position, RecordedEvent, StoreError, StreamRange};
use futures_util::future::Either;
use tokio_postgres::types::ToSql;
use tracing::{Instrument as _, error, warn};

use crate::error::{is_outage, store_error};
use crate::listen::Listener;
use crate::partition::PgPartition;
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
/// use es_core::{BoxError, Categories, RecordedEvent};
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
///     fn categories(&self) -> Categories { Categories::only(["account"]) }
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
    /// The events this projection reads. Events of its categories that the
    /// program knows but this type does not are skipped; see
    /// [`es_core::projection`] for what is never skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default:
    /// all). Events of other types are filtered out in the database.
    fn categories(&self) -> Categories {
        Categories::All
    }

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

/// Runs a [`PgProjection`]: catches up from its checkpoint in pages, then
/// follows new events, woken by `NOTIFY` from appends and polling as a
/// fallback.
///
/// Only one runner per projection and schema works at a time: a session
/// advisory lock, held on the runner's own connection, elects it. Others
/// stand by and take over when it stops or its connection dies.
///
/// An event it cannot handle (the handler keeps failing or panics, the
/// event does not decode, or no event type of the program knows its name)
/// is poison: by default the runner stops with an error naming it, and
/// the read model holds every event before it and none after; fix the
/// cause and run again to resume there. With
/// [`PoisonPolicy::Park`](es_core::projection::PoisonPolicy::Park) it
/// parks the event and goes on; [`parked`](Self::parked),
/// [`retry_parked`](Self::retry_parked) and
/// [`discard_parked`](Self::discard_parked) deal with it later.
#[derive(Debug)]
pub struct PgProjectionRunner<P: PgProjection> {
    engine: Engine<PgBackend<P>>,
}

impl<P: PgProjection> PgProjectionRunner<P> {
    /// A runner for `projection` over `store`.
    pub fn new(store: PgEventStore, projection: P) -> Self {
        Self::over(store, projection, None)
    }

    /// A runner for one partition of `projection`: it reads only the
    /// streams of `partition`, under its own checkpoint and election
    /// (named as [`PgPartition::projection_name`] says), so that one
    /// runner per partition, in as many processes, share the projection.
    /// Wait for a position with [`PgEventStore::wait_for_partitions`];
    /// rebuild with [`rebuild_partitions`](Self::rebuild_partitions).
    ///
    /// The read model is shared by the partitions: each stream's rows are
    /// written by one partition only, in order, but rows that sum over
    /// streams (totals) are written by every partition at once, so write
    /// them so that concurrent transactions add up (an `UPDATE … SET n = n +
    /// $1` does; a read-modify-write in the handler does not).
    pub fn partition(store: PgEventStore, projection: P, partition: PgPartition) -> Self {
        Self::over(store, projection, Some(partition))
    }

    fn over(store: PgEventStore, projection: P, partition: Option<PgPartition>) -> Self {
        let base = projection.name();
        let name = partition.map_or_else(|| base.to_owned(), |p| p.projection_name(base));
        let categories = projection.categories();
        let watch = store.local_checkpoint_watch(&name);
        let backend =
            PgBackend { store, name: name.clone(), partition, session: None, spare: None, projection: PhantomData };
        PgProjectionRunner { engine: Engine::new(backend, projection, name, categories, watch) }
    }

    /// Rebuilds a projection split into `count` partitions: takes every
    /// partition (failing with [`ProjectionError::Busy`] while a runner
    /// holds one), empties the read model once, moves every partition's
    /// checkpoint to the start, and replays all partitions at once, one
    /// connection each; `make` builds each partition's projection. Progress
    /// counts the events of all partitions.
    pub async fn rebuild_partitions(
        store: &PgEventStore,
        count: NonZeroU32,
        mut make: impl FnMut() -> P,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<u64, ProjectionError> {
        let mut runners: Vec<Self> =
            PgPartition::all(count).map(|p| Self::partition(store.clone(), make(), p)).collect();
        let rebuilt = Self::rebuild_taken(&mut runners, progress).await;
        // Released at once, taken or not, so that runners can start.
        for runner in &mut runners {
            if let Some(session) = runner.engine.backend_mut().session.take() {
                session.close().await;
            }
        }
        rebuilt
    }

    /// Takes every partition of `runners`, rewinds them (the read model
    /// with the first) and replays them at once.
    async fn rebuild_taken(
        runners: &mut [Self],
        progress: impl FnMut(Progress) + Send,
    ) -> Result<u64, ProjectionError> {
        for runner in runners.iter_mut() {
            runner.take_over().await?;
        }
        let mut total = 0;
        for (index, runner) in runners.iter_mut().enumerate() {
            total += runner.engine.count().await?;
            runner.engine.rewind(index == 0).await?;
        }
        // Each partition reports its own count; progress is their sum.
        let shared = std::sync::Mutex::new((vec![0; runners.len()], progress));
        let started = std::time::Instant::now();
        let replays = runners.iter_mut().enumerate().map(|(index, runner)| {
            let shared = &shared;
            runner.engine.catch_up(move |done| {
                let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                let (counts, progress) = &mut *guard;
                counts[index] = done;
                let sum = counts.iter().sum();
                progress(Progress::since(started, sum, total));
            })
        });
        Ok(futures_util::future::try_join_all(replays).await?.into_iter().sum())
    }

    /// Sets how the runner reads, retries, waits and treats poison events;
    /// a page of events is also what one transaction commits.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.engine.set_options(options);
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        self.engine.projection()
    }

    /// The projection, to change it before running again.
    pub fn projection_mut(&mut self) -> &mut P {
        self.engine.projection_mut()
    }

    /// The last checkpoint this runner committed or read.
    pub fn checkpoint(&self) -> Position {
        self.engine.checkpoint()
    }

    /// A handle that waits until the projection has committed a position,
    /// whichever runner commits it: this one, a standby of the same process
    /// once it takes over, or a runner of another process (see
    /// [`PgEventStore::checkpoint_waiter`]).
    pub fn waiter(&self) -> CheckpointWaiter {
        self.engine.watch().waiter()
    }

    /// Takes the projection's lock, handles every event after the checkpoint
    /// and returns how many were read. Fails with
    /// [`ProjectionError::Busy`] when another runner holds the lock.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        self.take_over().await?;
        let caught_up = self.engine.catch_up(|_| {}).await;
        self.release(caught_up).await
    }

    /// Waits for the projection's lock (standing by while another runner
    /// holds it), then catches up and follows new events until `stop`
    /// resolves.
    ///
    /// An outage does not end it: when the connection is lost or the server
    /// cannot be reached (a restart, a failover), it reconnects with
    /// [`ReconnectBackoff`](es_core::projection::ReconnectBackoff), takes
    /// the lock again (or stands by if another runner took over), reloads
    /// the checkpoint and resumes, never applying an event twice or skipping
    /// one; [`health`](Self::health) says it is reconnecting, since when and
    /// why. It returns an error only for what retrying cannot fix: a poison
    /// event under [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop),
    /// a schema that is not migrated, refused credentials, a checkpoint
    /// moved by another writer. The lock is released either way.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        // Waiters on this runner follow the committed checkpoint while it
        // stands by.
        self.engine.backend().store.follow_checkpoints();
        let mut outage: Option<(SystemTime, u32)> = None;
        loop {
            let connected = self.run_connected(stop.as_mut(), &mut outage).await;
            match self.release(connected).await {
                Ok(()) => {
                    self.engine.set_state(RunnerState::Idle);
                    return Ok(());
                }
                Err(error @ ProjectionError::Store { source: StoreError::Unavailable(_), .. }) => {
                    let (since, attempts) = outage.map_or((SystemTime::now(), 1), |(since, n)| (since, n + 1));
                    outage = Some((since, attempts));
                    warn!(
                        projection = self.engine.name(),
                        attempts,
                        error = %error,
                        "the projection runner lost the database (and the projection's lock, if it held it); reconnecting"
                    );
                    self.engine.set_failed(RunnerState::Reconnecting { since, attempts }, &error);
                    let pause = self.engine.options().reconnect.pause(attempts);
                    if tokio::time::timeout(pause, stop.as_mut()).await.is_ok() {
                        self.engine.set_state(RunnerState::Idle);
                        return Ok(());
                    }
                }
                Err(error) => {
                    error!(projection = self.engine.name(), error = %error, "the projection runner stops");
                    self.engine.set_failed(RunnerState::Stopped, &error);
                    return Err(error);
                }
            }
        }
    }

    /// One connection's life: stand by until the lock is free, then catch
    /// up and follow until `stop` resolves or the connection fails. Clears
    /// `outage` once the projection runs again.
    async fn run_connected(
        &mut self,
        mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
        outage: &mut Option<(SystemTime, u32)>,
    ) -> Result<(), ProjectionError> {
        let session = self.session().await?;
        self.engine.set_state(RunnerState::StandingBy);
        let key = self.lock_key();
        while !session.try_lock(key).await.map_err(|e| self.engine.store_error(e))? {
            if tokio::time::timeout(self.engine.options().poll_interval, stop.as_mut()).await.is_ok() {
                return Ok(());
            }
        }
        session.listen().await.map_err(|e| self.engine.store_error(e))?;
        self.resume(session).await?;
        *outage = None;
        self.engine.set_state(RunnerState::Running);
        self.follow(stop).await
    }

    /// A handle to read what the runner is doing (running, standing by,
    /// reconnecting since when, the last error) while it runs.
    pub fn health(&self) -> Health {
        self.engine.health()
    }

    /// Catches up and waits for new events until `stop` resolves.
    async fn follow(&mut self, mut stop: std::pin::Pin<&mut impl Future<Output = ()>>) -> Result<(), ProjectionError> {
        loop {
            self.engine.catch_up(|_| {}).await?;
            let Some(session) = &self.engine.backend().session else { return Ok(()) };
            if session.client().is_closed() {
                // The lock went with the connection: another runner may
                // already have taken over.
                let lost = StoreError::Unavailable("the projection runner's connection closed".into());
                return Err(self.engine.store_error(lost));
            }
            let wake = std::pin::pin!(tokio::time::timeout(self.engine.options().poll_interval, session.notified()));
            if let Either::Right(_) = futures_util::future::select(wake, stop.as_mut()).await {
                return Ok(());
            }
        }
    }

    /// Empties the read model, resets the checkpoint and replays every event
    /// from the start, reporting progress (events/s, time left) after each
    /// page. Parked events of the projection are forgotten: the rebuild
    /// handles them again. Queries see the read model fill up again; to
    /// keep serving the old one meanwhile, build a new projection (another
    /// name, another table) beside it and switch queries over once it has
    /// caught up.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        self.take_over().await?;
        let rebuilt = self.engine.rebuild(progress).await;
        self.release(rebuilt).await
    }

    /// The events this projection parked, oldest first, discarded ones
    /// included (marked).
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        let backend = self.engine.backend();
        backend.store.parked_events(&backend.name).await.map_err(|e| self.engine.store_error(e))
    }

    /// Hands parked event `id` to the projection once more, in a
    /// transaction that also takes it out of the parked events: on success
    /// it has been handled exactly once. On failure it stays parked, with
    /// the new error. It runs beside the active runner, without its lock.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        let retried = self.engine.retry_parked(id).await;
        self.engine.backend_mut().spare = None;
        retried
    }

    /// Marks parked event `id` as discarded, with the reason: it stays
    /// listed as the record of that decision.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let backend = self.engine.backend();
        backend.store.discard_parked(&backend.name, id, reason).await
    }

    /// Takes the projection's lock and loads the checkpoint;
    /// [`ProjectionError::Busy`] when another runner holds the lock.
    async fn take_over(&mut self) -> Result<(), ProjectionError> {
        let session = self.session().await?;
        if !session.try_lock(self.lock_key()).await.map_err(|e| self.engine.store_error(e))? {
            return Err(ProjectionError::Busy { projection: self.engine.name().to_owned() });
        }
        self.resume(session).await
    }

    /// Loads the checkpoint on the session holding the lock (clearing the
    /// error the projection last stopped on) and keeps the session.
    async fn resume(&mut self, session: Listener) -> Result<(), ProjectionError> {
        let backend = self.engine.backend();
        let channel = backend.store.checkpoint_channel();
        let row = session
            .client()
            .query_one(&backend.store.sql().load_checkpoint, &[&backend.name, &channel])
            .await
            .map_err(|e| self.engine.store_error(store_error(e)))?;
        let column = |i| row.try_get::<_, i64>(i).map_err(|e| self.engine.store_error(store_error(e)));
        let (commit, sequence, revision) = (column(0)?, column(1)?, column(2)?);
        let position = Position::new(commit.unsigned_abs(), sequence.unsigned_abs());
        self.engine.resume_at(position, revision.unsigned_abs());
        self.engine.backend_mut().session = Some(session);
        Ok(())
    }

    /// Releases the lock; an event that stopped the projection is recorded
    /// for waiters and operators in every process.
    async fn release<T>(&mut self, outcome: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        if let Some(session) = self.engine.backend_mut().session.take() {
            session.close().await;
        }
        if let Err(error @ (ProjectionError::Handler { .. } | ProjectionError::Decode { .. })) = &outcome {
            let backend = self.engine.backend();
            // Best effort: the error is returned to the caller either way,
            // and told to this process's waiters when it cannot be stored.
            let revision = backend.store.record_stop(&backend.name, &error.to_string()).await.ok();
            self.engine.publish_stop(error, revision);
        }
        outcome
    }

    /// A connection of the runner's own, named
    /// `es projection <schema>.<projection>` in `pg_stat_activity`.
    async fn session(&self) -> Result<Listener, ProjectionError> {
        let store = &self.engine.backend().store;
        let application_name = format!("es projection {}.{}", store.schema(), self.engine.name());
        Listener::connect(store.config(), store.tls(), store.channel(), &application_name)
            .await
            .map_err(|e| self.engine.store_error(e))
    }

    fn lock_key(&self) -> i64 {
        self.engine.backend().store.lock_key(&format!("projection\0{}", self.engine.name()))
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The PostgreSQL backend of the projection engine: checkpoint and parked
/// events in the store's schema, units of work as transactions.
struct PgBackend<P> {
    store: PgEventStore,
    name: String,
    /// The streams it reads, when the projection is split.
    partition: Option<PgPartition>,
    /// The connection holding the projection's lock, while it is held.
    session: Option<Listener>,
    /// A pooled connection for work that needs no lock (retrying a parked
    /// event).
    spare: Option<(Object, StatementCache)>,
    projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for PgBackend<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("store", &self.store)
            .field("name", &self.name)
            .field("holds_lock", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

/// A transaction of the runner, with what committing it needs.
struct PgUnit<'u> {
    tx: PgTransaction<'u>,
    store: &'u PgEventStore,
    name: &'u str,
}

fn number(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<P: PgProjection> Backend for PgBackend<P> {
    const ATOMIC: bool = true;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = PgUnit<'u>;

    fn read(
        &self,
        after: Position,
        limit: usize,
        categories: Categories,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + 'static {
        // A task of its own: decoding a page's rows then runs beside the
        // handler (on another worker thread) instead of taking turns with
        // it in the engine's task, where a page arriving at once held up
        // the handler's own I/O (a publisher's acknowledgments) until it
        // was decoded.
        let (store, partition) = (self.store.clone(), self.partition);
        let read = async move { store.read_filtered(after, limit, &categories, partition).await };
        let read = tokio::spawn(read.in_current_span());
        // A read no longer awaited stops, and gives its connection back.
        let stop = AbortOnDrop(read.abort_handle());
        async move {
            let _stop = stop;
            match read.await {
                Ok(page) => page,
                Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
                Err(cancelled) => Err(StoreError::Unavailable(cancelled.into())),
            }
        }
    }

    async fn count(&self, categories: &Categories) -> Result<u64, StoreError> {
        self.store.count_filtered(categories, self.partition).await
    }

    async fn read_event(&self, stream_id: &str, version: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let range = StreamRange::after(version.saturating_sub(1)).up_to_version(version);
        Ok(self.store.read_stream(stream_id, range).await?.into_iter().next())
    }

    async fn parked(&self, id: u64) -> Result<Option<ParkedEvent>, StoreError> {
        Ok(self.store.query_parked(&self.name, Some(id)).await?.into_iter().next())
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        let (client, statements) = match &mut self.session {
            Some(session) => session.parts(),
            None => {
                let spare = match self.spare.take() {
                    Some(spare) => spare,
                    None => (self.store.client().await?, StatementCache::default()),
                };
                let (object, statements) = self.spare.insert(spare);
                (&mut ***object, &*statements)
            }
        };
        let tx = client.transaction().await.map_err(store_error)?;
        Ok(PgUnit { tx: PgTransaction::new(tx, statements), store: &self.store, name: &self.name })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        projection.handle_batch(&unit.tx, events).await.map_err(|source| Failed { index: None, source })
    }

    async fn reset<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset(&unit.tx).await
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        let forget = unit.tx.prepare_cached(&unit.store.sql().forget_parked).await.map_err(store_error)?;
        unit.tx.execute(&forget, &[&unit.name]).await.map_err(store_error)?;
        Ok(())
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let statement = unit.tx.prepare_cached(&unit.store.sql().park).await.map_err(store_error)?;
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let params: [&(dyn ToSql + Sync); 8] = [
            &unit.name,
            &number(event.position.commit),
            &number(event.position.sequence),
            &event.stream_id,
            &number(event.version),
            &event.event.name,
            &error,
            &attempts,
        ];
        unit.tx.execute(&statement, &params).await.map_err(store_error)?;
        Ok(())
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        let statement = unit.tx.prepare_cached(&unit.store.sql().unpark).await.map_err(store_error)?;
        let taken = unit.tx.execute(&statement, &[&unit.name, &number(id)]).await.map_err(store_error)?;
        Ok(taken == 1)
    }

    fn is_outage(error: &BoxError) -> bool {
        is_outage(error.as_ref())
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        let client = self.store.client().await?;
        let statement = client.prepare_cached(&self.store.sql().retry_failed).await.map_err(store_error)?;
        client.execute(&statement, &[&self.name, &number(id), &error]).await.map_err(store_error)?;
        Ok(())
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let mut revision = 0;
        if let Some((from, to)) = checkpoint {
            let statement = unit.tx.prepare_cached(&unit.store.sql().save_checkpoint).await.map_err(store_error)?;
            let channel = unit.store.checkpoint_channel();
            let params: [&(dyn ToSql + Sync); 6] = [
                &unit.name,
                &number(from.commit),
                &number(from.sequence),
                &number(to.commit),
                &number(to.sequence),
                &channel,
            ];
            // Dropping the transaction uncommitted rolls it back.
            let Some(row) = unit.tx.query_opt(&statement, &params).await.map_err(store_error)? else {
                return Ok(None);
            };
            revision = row.try_get::<_, i64>(0).map_err(store_error)?.unsigned_abs();
        }
        unit.tx.commit().await.map_err(store_error)?;
        Ok(Some(revision))
    }
}
