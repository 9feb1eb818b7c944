//! The Redis sink of the projection engine: a unit of work queues the
//! page's writes, and committing runs them in one script with the
//! checkpoint's compare-and-set; a unit dropped uncommitted wrote nothing.

use std::marker::PhantomData;
use std::sync::Mutex;

use es_core::backend::{Failed, Sink, caused_by};
use es_core::projection::{Envelope, ParkedEvent};
use es_core::{BoxError, Position, RecordedEvent, StoreError};

use crate::checkpoints;
use crate::error::is_outage;
use crate::keys::Keys;
use crate::projection::{RedisProjection, RedisWrites};
use crate::target::RedisTarget;

/// The sink of one runner.
pub(crate) struct RedisSink<P> {
    pub(crate) target: RedisTarget,
    pub(crate) name: String,
    pub(crate) keys: Keys,
    pub(crate) projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for RedisSink<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink").field("target", &self.target).field("name", &self.name).finish_non_exhaustive()
    }
}

/// The writes of a page, queued until it commits.
pub(crate) struct RedisUnit<'u> {
    /// Queued by the handlers: the engine hands units over shared.
    writes: Mutex<RedisWrites>,
    target: &'u RedisTarget,
    keys: &'u Keys,
}

impl RedisUnit<'_> {
    fn writes(&mut self) -> &mut RedisWrites {
        self.writes.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<P: RedisProjection> Sink for RedisSink<P> {
    const ATOMIC: bool = true;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = RedisUnit<'u>;

    async fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedEvent>, StoreError> {
        self.target.on(async |c| checkpoints::parked(c, &self.keys, &self.name, after, limit).await).await
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        Ok(RedisUnit { writes: Mutex::default(), target: &self.target, keys: &self.keys })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        let mut writes = unit.writes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        projection.handle_batch(&mut writes, events).map_err(|source| Failed { index: None, source })
    }

    async fn reset<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset(unit.writes())
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        let keys = unit.keys;
        checkpoints::forget(keys, unit.writes());
        Ok(())
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        checkpoints::park(unit.writes(), event, error, attempts);
        Ok(())
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        let (target, keys) = (unit.target, unit.keys);
        let writes = unit.writes();
        target.on(async |c| checkpoints::unpark(c, keys, id, writes).await).await
    }

    fn is_outage(error: &BoxError) -> bool {
        caused_by(error.as_ref(), is_outage)
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        let noted = self.target.on(async |c| checkpoints::update(c, &self.keys, id, |p| p.failed_again(&error)).await);
        noted.await.map(drop)
    }

    async fn commit(
        mut unit: Self::Unit<'_>,
        checkpoint: Option<(Position, Position)>,
    ) -> Result<Option<u64>, StoreError> {
        let (target, keys) = (unit.target, unit.keys);
        let writes = std::mem::take(unit.writes());
        target.on(async |c| checkpoints::commit(c, keys, checkpoint, &writes).await).await
    }
}
