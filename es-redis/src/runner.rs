//! [`RedisProjectionRunner`]: one projection's runner, reading any store
//! and committing in Redis.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use es_core::backend::Engine;
use es_core::projection::{
    CheckpointWaiter, Health, ParkedEvent, Progress, ProjectionError, RunnerOptions, RunnerState,
};
use es_core::{ErrorReport, EventStore, Position, StoreError};
use futures_util::future::Either;
use tracing::{error, warn};

use crate::checkpoints;
use crate::projection::RedisProjection;
use crate::sink::RedisSink;
use crate::target::RedisTarget;

/// Runs a [`RedisProjection`]: reads the events of `store` (any
/// [`EventStore`]) from the projection's checkpoint in pages, hands them
/// to the projection to queue its writes, and runs each page's writes with
/// the checkpoint's compare-and-set in one script; then follows new events,
/// polling.
///
/// Runners here are not elected: two running at once each apply a page
/// only if the checkpoint is where they saw it, so every page is applied
/// once, and the one that lost a page takes the checkpoint over again.
pub struct RedisProjectionRunner<P: RedisProjection, S: EventStore + 'static> {
    engine: Engine<Arc<S>, RedisSink<P>>,
    target: RedisTarget,
    /// Whether this runner took the checkpoint over since it last stopped.
    resumed: bool,
}

impl<P: RedisProjection, S: EventStore + 'static> std::fmt::Debug for RedisProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProjectionRunner").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl<P: RedisProjection, S: EventStore + 'static> RedisProjectionRunner<P, S> {
    /// A runner that reads `store` and keeps `projection`'s read model,
    /// checkpoint and parked events in `target`.
    pub fn new(store: S, target: RedisTarget, projection: P) -> Self {
        let name = projection.name().to_owned();
        let types = projection.aggregate_types();
        let keys = target.keys(&name);
        let sink = RedisSink { target: target.clone(), name: name.clone(), keys, projection: PhantomData };
        let watch = es_core::backend::CheckpointWatch::new(&name);
        RedisProjectionRunner {
            engine: Engine::new(Arc::new(store), sink, projection, name, types, watch),
            target,
            resumed: false,
        }
    }

    /// Sets how the runner reads, retries, polls and treats poison events;
    /// a page of events is also what one script applies.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.engine.set_options(options);
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        self.engine.projection()
    }

    /// The last checkpoint this runner committed or read.
    pub fn checkpoint(&self) -> Position {
        self.engine.checkpoint()
    }

    /// A handle that waits until this runner has committed a position; from
    /// another runner or process, use [`RedisTarget::wait_for_projection`].
    pub fn waiter(&self) -> CheckpointWaiter {
        self.engine.watch().waiter()
    }

    /// A handle to read what the runner is doing while it runs.
    pub fn health(&self) -> Health {
        self.engine.health()
    }

    /// Takes the checkpoint over as the target stores it, handles every
    /// event after it, and returns how many were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        self.resumed = false;
        let caught_up = match self.resume().await {
            Ok(()) => self.engine.catch_up(|_| {}).await,
            Err(error) => Err(error),
        };
        self.settle(caught_up).await
    }

    /// Catches up and follows new events until `stop` resolves. A lost
    /// connection is waited out with backoff; what retrying cannot fix (a
    /// poison event under
    /// [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop), a
    /// command that failed inside a page's script) ends it.
    pub async fn run(&mut self, stop: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        let mut outage: Option<(SystemTime, u32)> = None;
        loop {
            let worked = match self.resume().await {
                Ok(()) => self.engine.catch_up(|_| {}).await.map(drop),
                Err(error) => Err(error),
            };
            let pause = match self.settle(worked).await {
                Ok(()) => {
                    outage = None;
                    self.engine.set_state(RunnerState::Running);
                    self.engine.options().poll_interval
                }
                // Another runner moved the checkpoint: take it over again.
                Err(ProjectionError::Busy { .. }) => continue,
                Err(error @ ProjectionError::Store { source: StoreError::Unavailable(_), .. }) => {
                    let (since, attempts) = outage.map_or((SystemTime::now(), 1), |(since, n)| (since, n + 1));
                    outage = Some((since, attempts));
                    warn!(projection = self.engine.name(), attempts, error = %ErrorReport::new(&error), "the projection runner waits for Redis");
                    self.engine.set_failed(RunnerState::Reconnecting { since, attempts }, &error);
                    self.engine.options().reconnect.pause(attempts)
                }
                Err(error) => {
                    error!(projection = self.engine.name(), error = %ErrorReport::new(&error), "the projection runner stops");
                    self.engine.set_failed(RunnerState::Stopped, &error);
                    return Err(error);
                }
            };
            if let Either::Right(_) =
                futures_util::future::select(std::pin::pin!(tokio::time::sleep(pause)), stop.as_mut()).await
            {
                self.engine.set_state(RunnerState::Idle);
                return Ok(());
            }
        }
    }

    /// Empties the read model, moves the checkpoint to the start and
    /// replays every event, reporting progress after each page.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        self.resumed = false;
        let rebuilt = match self.resume().await {
            Ok(()) => self.engine.rebuild(progress).await,
            Err(error) => Err(error),
        };
        self.settle(rebuilt).await
    }

    /// The events this projection parked, oldest first.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        self.target.parked_events(self.engine.name()).await.map_err(|e| self.engine.store_error(e))
    }

    /// Hands parked event `id` to the projection once more, in a script
    /// that also takes it out of the parked events.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        self.engine.retry_parked(id).await
    }

    /// Marks parked event `id` as discarded, with the reason.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        use es_core::admin::{AdminError, ProjectionAdmin};
        match self.target.discard_parked(self.engine.name(), id, reason).await {
            Ok(()) => Ok(()),
            Err(AdminError::NotParked { projection, id }) => Err(ProjectionError::NotParked { projection, id }),
            Err(AdminError::Store(e)) => Err(self.engine.store_error(e)),
            Err(other) => Err(self.engine.store_error(StoreError::Backend(Box::new(other)))),
        }
    }

    /// Takes the checkpoint over (clearing the error it last stopped on),
    /// unless this runner already did since it last stopped.
    async fn resume(&mut self) -> Result<(), ProjectionError> {
        if self.resumed {
            return Ok(());
        }
        let name = self.engine.name().to_owned();
        let taken = self.target.on(async |c| checkpoints::take_over(c, &self.target.prefix, &name).await).await;
        let (position, revision) = taken.map_err(|e| self.engine.store_error(e))?;
        self.engine.resume_at(position, revision);
        self.resumed = true;
        Ok(())
    }

    /// After a run: an event that stopped the projection is recorded where
    /// other processes see it, and the next run takes the checkpoint over
    /// again.
    async fn settle<T>(&mut self, outcome: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        let Err(error) = &outcome else { return outcome };
        self.resumed = false;
        if matches!(error, ProjectionError::Handler { .. } | ProjectionError::Decode { .. }) {
            let (keys, text) = (self.target.keys(self.engine.name()), ErrorReport::new(error).to_string());
            let revision = self.target.on(async |c| checkpoints::stop(c, &keys, &text).await).await.ok().flatten();
            self.engine.publish_stop(error, revision);
        }
        outcome
    }
}
