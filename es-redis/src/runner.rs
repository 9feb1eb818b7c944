//! [`RedisProjectionRunner`]: one projection's runner, reading any store
//! and committing in Redis.

use std::marker::PhantomData;
use std::sync::Arc;

use es_core::EventStore;
use es_core::admin::ProjectionAdmin;
use es_core::backend::{Engine, Host, Hosted};
use es_core::projection::ProjectionError;

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

    es_core::hosted_runner_methods!("RedisTarget::wait_for_projection");

    /// The projection.
    pub fn projection(&self) -> &P {
        self.hosted.engine().projection()
    }
}
