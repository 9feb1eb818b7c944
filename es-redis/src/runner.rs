//! [`RedisProjectionRunner`]: one projection's runner, reading any store
//! and committing in Redis.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use es_core::admin::ProjectionAdmin;
use es_core::backend::{Engine, Host, Hosted};
use es_core::projection::{CheckpointWaiter, Health, ParkedEvent, Progress, ProjectionError, RunnerOptions};
use es_core::{EventStore, Position};

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
    hosted: Hosted<Arc<S>, RedisSink<P>, RedisHost>,
}

/// How a Redis runner takes its projection's checkpoint over and records
/// its stops.
#[derive(Debug)]
struct RedisHost {
    target: RedisTarget,
}

impl<P: RedisProjection, S: EventStore + 'static> Host<Arc<S>, RedisSink<P>> for RedisHost {
    /// Takes the checkpoint over, clearing the error it last stopped on.
    async fn take_over(&mut self, engine: &mut Engine<Arc<S>, RedisSink<P>>) -> Result<bool, ProjectionError> {
        let name = engine.name();
        let taken = self.target.on(async |c| checkpoints::take_over(c, &self.target.prefix, name).await).await;
        let (position, revision) = taken.map_err(|e| engine.store_error(e))?;
        engine.resume_at(position, revision);
        Ok(true)
    }

    async fn record_stop(&self, name: &str, error: &str) -> Option<u64> {
        let keys = self.target.keys(name);
        self.target.on(async |c| checkpoints::stop(c, &keys, error).await).await.ok().flatten()
    }

    fn admin(&self) -> &dyn ProjectionAdmin {
        &self.target
    }
}

impl<P: RedisProjection, S: EventStore + 'static> std::fmt::Debug for RedisProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProjectionRunner").field("engine", self.hosted.engine()).finish_non_exhaustive()
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
        let engine = Engine::new(Arc::new(store), sink, projection, name, types, watch);
        RedisProjectionRunner { hosted: Hosted::new(engine, RedisHost { target }) }
    }

    /// Sets how the runner reads, retries, polls and treats poison events;
    /// a page of events is also what one script applies.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.hosted.engine_mut().set_options(options);
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        self.hosted.engine().projection()
    }

    /// The last checkpoint this runner committed or read.
    pub fn checkpoint(&self) -> Position {
        self.hosted.engine().checkpoint()
    }

    /// A handle that waits until this runner has committed a position; from
    /// another runner or process, use [`RedisTarget::wait_for_projection`].
    pub fn waiter(&self) -> CheckpointWaiter {
        self.hosted.engine().watch().waiter()
    }

    /// A handle to read what the runner is doing while it runs.
    pub fn health(&self) -> Health {
        self.hosted.engine().health()
    }

    /// Takes the checkpoint over as the target stores it, handles every
    /// event after it, and returns how many were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        self.hosted.catch_up().await
    }

    /// Catches up and follows new events until `stop` resolves. A lost
    /// connection is waited out with backoff; a page another runner
    /// applied first makes it take the checkpoint over again; what
    /// retrying cannot fix (a poison event under
    /// [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop), a
    /// command that failed inside a page's script) ends it.
    pub async fn run(&mut self, stop: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        self.hosted.run(stop).await
    }

    /// Empties the read model, moves the checkpoint to the start and
    /// replays every event, reporting progress after each page.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        self.hosted.rebuild(progress).await
    }

    /// The events this projection parked, oldest first.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        self.hosted.parked().await
    }

    /// Hands parked event `id` to the projection once more, in a script
    /// that also takes it out of the parked events.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        self.hosted.engine_mut().retry_parked(id).await
    }

    /// Marks parked event `id` as discarded, with the reason.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        self.hosted.discard_parked(id, reason).await
    }
}
