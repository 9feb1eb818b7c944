//! [`PgProjectionRunner`]: one projection's runner, elected by its lease.

use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::time::Duration;

use es_core::backend::Engine;
use es_core::projection::{
    CheckpointWaiter, Health, ParkedEvent, Progress, ProjectionError, ReconnectBackoff, RunnerOptions, RunnerState,
};
use es_core::{Position, StoreError};
use tracing::{error, warn};

use crate::error::Error;
use crate::lease::identity::RunnerKind;
use crate::lease::{self, Elected, Lease, Lifecycle};
use crate::projection::sink::PgSink;
use crate::projection::source::PgSource;
use crate::projection::{PgPartition, PgProjection, PgTarget, checkpoint};
use crate::store::PgEventStore;

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
    engine: Engine<PgSource, PgSink<P>>,
}

impl<P: PgProjection> PgProjectionRunner<P> {
    /// A runner for `projection` over `store`.
    pub fn new(store: PgEventStore, projection: P) -> Self {
        Self::over(store.clone(), store, projection, None)
    }

    /// A runner that reads `store`'s events and keeps `projection`'s read
    /// model, checkpoint and parked events in `target`, another database:
    /// its handler gets the target's transaction, which commits the
    /// checkpoint too. Wait for positions with
    /// [`PgTarget::wait_for_projection`].
    ///
    /// A long transaction in the target does not hold the store's readers
    /// back when the target is another database: the store's readers only
    /// wait for transactions of the store's own database.
    pub fn with_target(store: PgEventStore, target: PgTarget, projection: P) -> Self {
        Self::over(store, target.db().clone(), projection, None)
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
        Self::over(store.clone(), store, projection, Some(partition))
    }

    /// A runner reading `store`'s events (in `partition`, if split) and
    /// committing in `db`.
    fn over(store: PgEventStore, db: PgEventStore, projection: P, partition: Option<PgPartition>) -> Self {
        let base = projection.name();
        let name = partition.map_or_else(|| base.to_owned(), |p| p.projection_name(base));
        let types = projection.aggregate_types();
        let watch = db.feed.watch(&name);
        let lease = Lease::new(&db, RunnerKind::Projection, &name);
        let sink = PgSink { db, name: name.clone(), lease, spare: None, projection: PhantomData };
        let source = PgSource { store, partition };
        PgProjectionRunner { engine: Engine::new(source, sink, projection, name, types, watch) }
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
            runner.engine.sink_mut().lease.release().await;
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

    /// Runs without the election: the runner never waits for the
    /// projection's lock, so several may run at once. Each page still
    /// commits once (the checkpoint's compare-and-set in the page's
    /// transaction refuses a page another runner committed, which this one
    /// then reports as [`ProjectionError::Busy`] and reads again), but work
    /// is wasted: for tests of that fence, and for deployments that elect
    /// their runners elsewhere.
    pub fn without_election(mut self) -> Self {
        self.engine.sink_mut().lease.without_election();
        self
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
        let caught_up = match self.take_over().await {
            Ok(()) => self.engine.catch_up(|_| {}).await,
            Err(error) => Err(error),
        };
        self.release(caught_up).await
    }

    /// Waits for the projection's lock (standing by while another runner
    /// holds it), then catches up and follows new events until `stop`
    /// resolves.
    ///
    /// An outage does not end it: when the connection is lost or the server
    /// cannot be reached (a restart, a failover), it reconnects with
    /// [`ReconnectBackoff`], takes the lock again (or stands by if another
    /// runner took over), reloads the checkpoint and resumes, never
    /// applying an event twice or skipping one; [`health`](Self::health)
    /// says it is reconnecting, since when and why. It returns an error
    /// only for what retrying cannot fix: a poison event under
    /// [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop), a
    /// schema that is not migrated, refused credentials, a checkpoint moved
    /// by another writer. The lock is released either way.
    pub async fn run(&mut self, stop: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        // Waiters on this runner follow the committed checkpoint while it
        // stands by.
        self.engine.sink().db.follow_checkpoints();
        lease::run(self, stop).await
    }

    /// A handle to read what the runner is doing (running, standing by,
    /// reconnecting since when, the last error) while it runs.
    pub fn health(&self) -> Health {
        self.engine.health()
    }

    /// Empties the read model, resets the checkpoint and replays every event
    /// from the start, reporting progress (events/s, time left) after each
    /// page. Parked events of the projection are forgotten: the rebuild
    /// handles them again. Queries see the read model fill up again; to
    /// keep serving the old one meanwhile, build a new projection (another
    /// name, another table) beside it and switch queries over once it has
    /// caught up.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        let rebuilt = match self.take_over().await {
            Ok(()) => self.engine.rebuild(progress).await,
            Err(error) => Err(error),
        };
        self.release(rebuilt).await
    }

    /// The events this projection parked, oldest first, discarded ones
    /// included (marked).
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        let sink = self.engine.sink();
        sink.db.parked_events(&sink.name).await.map_err(|e| self.engine.store_error(e))
    }

    /// Hands parked event `id` to the projection once more, in a
    /// transaction that also takes it out of the parked events: on success
    /// it has been handled exactly once. On failure it stays parked, with
    /// the new error. It runs beside the active runner, without its lock.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        let retried = self.engine.retry_parked(id).await;
        self.engine.sink_mut().spare = None;
        retried
    }

    /// Marks parked event `id` as discarded, with the reason: it stays
    /// listed as the record of that decision.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let sink = self.engine.sink();
        sink.db.discard_parked(&sink.name, id, reason).await
    }

    /// Takes the projection's lock and loads the checkpoint;
    /// [`ProjectionError::Busy`] when another runner holds the lock.
    async fn take_over(&mut self) -> Result<(), ProjectionError> {
        let taken = self.engine.sink_mut().lease.try_take().await;
        if !taken.map_err(|e| self.error(e))? {
            return Err(ProjectionError::Busy { projection: self.engine.name().to_owned() });
        }
        self.resume_checkpoint().await
    }

    /// Sets the read model up, then loads the checkpoint on the connection
    /// holding the lease, clearing the error the projection last stopped
    /// on.
    async fn resume_checkpoint(&mut self) -> Result<(), ProjectionError> {
        self.engine.set_up().await?;
        let sink = self.engine.sink();
        let Some(session) = sink.lease.session() else {
            return Err(self.error(Error::Unavailable("the runner lost its lease before resuming".into())));
        };
        let loaded = checkpoint::load(session, &sink.db.schema, &sink.name).await;
        let loaded = loaded.map_err(|e| self.error(e))?;
        self.engine.resume_at(loaded.position, loaded.revision);
        Ok(())
    }

    /// Releases the lease, and records a stop like [`Elected::released`].
    async fn release<T>(&mut self, outcome: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        self.engine.sink_mut().lease.release().await;
        if let Err(error) = &outcome {
            self.record_stop(error).await;
        }
        outcome
    }

    /// An event that stopped the projection is recorded for waiters and
    /// operators in every process; best effort, as the error is returned
    /// to the caller either way, and told to this process's waiters when it
    /// cannot be stored.
    async fn record_stop(&self, error: &ProjectionError) {
        if !error.stops() {
            return;
        }
        let sink = self.engine.sink();
        let text = es_core::ErrorReport::new(error).to_string();
        let recorded = async {
            let client = sink.db.client().await?;
            checkpoint::stop(&client, &sink.db.schema, &sink.name, &text).await
        };
        self.engine.publish_stop(error, recorded.await.ok());
    }

    fn error(&self, error: Error) -> ProjectionError {
        self.engine.store_error(error.into())
    }
}

impl<P: PgProjection> Elected for PgProjectionRunner<P> {
    type Error = ProjectionError;

    fn lease(&mut self) -> &mut Lease {
        &mut self.engine.sink_mut().lease
    }

    fn poll_interval(&self) -> Duration {
        self.engine.options().poll_interval
    }

    fn backoff(&self) -> ReconnectBackoff {
        self.engine.options().reconnect
    }

    async fn resume(&mut self) -> Result<(), ProjectionError> {
        self.resume_checkpoint().await
    }

    async fn work(&mut self) -> Result<(), ProjectionError> {
        self.engine.catch_up(|_| {}).await.map(drop)
    }

    fn lease_error(&self, error: Error) -> ProjectionError {
        self.error(error)
    }

    fn is_outage(error: &ProjectionError) -> bool {
        matches!(error, ProjectionError::Store { source: StoreError::Unavailable(_), .. })
    }

    async fn released(&mut self, outcome: &Result<(), ProjectionError>) {
        if let Err(error) = outcome {
            self.record_stop(error).await;
        }
    }

    fn report(&mut self, lifecycle: Lifecycle<'_, ProjectionError>) {
        let name = self.engine.name().to_owned();
        match lifecycle {
            Lifecycle::StandingBy => self.engine.set_state(RunnerState::StandingBy),
            Lifecycle::Running => self.engine.set_state(RunnerState::Running),
            Lifecycle::Idle => self.engine.set_state(RunnerState::Idle),
            Lifecycle::Reconnecting { since, attempts, error } => {
                warn!(
                    projection = name,
                    attempts,
                    error = %es_core::ErrorReport::new(error),
                    "the projection runner lost the database (and the projection's lock, if it held it); reconnecting"
                );
                self.engine.set_failed(RunnerState::Reconnecting { since, attempts }, error);
            }
            Lifecycle::Stopped(error) => {
                error!(projection = name, error = %es_core::ErrorReport::new(error), "the projection runner stops");
                self.engine.set_failed(RunnerState::Stopped, error);
            }
        }
    }
}
