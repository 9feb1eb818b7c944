//! The runner whose checkpoint lives in process memory, beside an
//! in-memory read model.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::envelope::{Position, RecordedEvent};
use crate::error::{BoxError, StoreError};
use crate::projection::engine::{Engine, Failed, Sink, call};
use crate::projection::{
    CheckpointWaiter, CheckpointWatch, Envelope, Health, ParkedEvent, Progress, Projection, ProjectionError,
    RunnerOptions, RunnerState,
};
use crate::store::EventStore;

/// Runs a [`Projection`] over any [`EventStore`], keeping the checkpoint
/// and the parked events in process memory, beside the read model: all
/// three start over together when the process restarts. For tests,
/// examples and in-memory read models.
///
/// ```
/// # use std::collections::HashMap;
/// # use es_core::{BoxError, Projection, RecordedEvent, Event};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
/// # #[derive(Default)]
/// # struct Balances(HashMap<String, i64>);
/// # impl Projection for Balances {
/// #     type Event = Deposited;
/// #     fn name(&self) -> &str { "balances" }
/// #     async fn handle(&mut self, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
/// #         *self.0.entry(env.stream_id.clone()).or_default() += e.amount; Ok(())
/// #     }
/// #     async fn reset(&mut self) -> Result<(), BoxError> { self.0.clear(); Ok(()) }
/// # }
/// use es_core::{EventStore, ExpectedVersion, InMemoryEventStore, InMemoryProjectionRunner, Metadata};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryEventStore::new();
/// let event = Deposited { amount: 7 }.encode()?;
/// store.append("account", "a", ExpectedVersion::Any, vec![event], &Metadata::default()).await?;
///
/// let mut runner = InMemoryProjectionRunner::new(store, Balances::default());
/// runner.catch_up().await?;
/// assert_eq!(runner.projection().0["a"], 7);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct InMemoryProjectionRunner<P: Projection + 'static, S: EventStore + 'static> {
    engine: Engine<Arc<S>, MemorySink<P>>,
}

impl<P: Projection + 'static, S: EventStore + 'static> InMemoryProjectionRunner<P, S> {
    /// A runner starting from the beginning of the store.
    pub fn new(store: S, projection: P) -> Self {
        let name = projection.name().to_owned();
        let categories = projection.aggregate_types();
        let watch = CheckpointWatch::new(&name);
        let sink = MemorySink { name: name.clone(), parked: Mutex::default(), projection: PhantomData };
        InMemoryProjectionRunner { engine: Engine::new(Arc::new(store), sink, projection, name, categories, watch) }
    }

    /// Sets how the runner reads, retries, waits and treats poison events.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.engine.set_options(options);
        self
    }

    /// The read model.
    pub fn projection(&self) -> &P {
        self.engine.projection()
    }

    /// The read model, to change it, for instance to fix what made a
    /// handler fail before running again.
    pub fn projection_mut(&mut self) -> &mut P {
        self.engine.projection_mut()
    }

    /// The position of the last event handled (or skipped, or parked).
    pub fn checkpoint(&self) -> Position {
        self.engine.checkpoint()
    }

    /// A handle to wait until the projection reaches a position.
    pub fn waiter(&self) -> CheckpointWaiter {
        self.engine.watch().waiter()
    }

    /// Handles every event after the checkpoint, page by page, and returns
    /// how many events of the projection's aggregate types were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let caught_up = self.engine.catch_up(|_| {}).await;
        if let Err(error) = &caught_up {
            self.engine.publish_stop(error, None);
        }
        caught_up
    }

    /// Catches up, then follows new events until `stop` resolves.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        self.engine.set_state(RunnerState::Running);
        loop {
            if let Err(error) = self.catch_up().await {
                self.engine.set_failed(RunnerState::Stopped, &error);
                return Err(error);
            }
            if tokio::time::timeout(self.engine.options().poll_interval, &mut stop).await.is_ok() {
                self.engine.set_state(RunnerState::Idle);
                return Ok(());
            }
        }
    }

    /// A handle to read what the runner is doing while it runs.
    pub fn health(&self) -> Health {
        self.engine.health()
    }

    /// Empties the read model and replays every event from the start,
    /// reporting progress after each page.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        self.engine.rebuild(progress).await
    }

    /// The events this runner parked, oldest first.
    pub fn parked(&self) -> Vec<ParkedEvent> {
        self.engine.sink().lock().events.clone()
    }

    /// Hands parked event `id` to the projection once more; on success it
    /// leaves the parked events.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        self.engine.retry_parked(id).await
    }

    /// Marks parked event `id` as discarded, with the reason: it stays
    /// listed as a record of the decision.
    pub fn discard_parked(&mut self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let mut parked = self.engine.sink().lock();
        let event = parked.events.iter_mut().find(|e| e.id == id);
        let event =
            event.ok_or_else(|| ProjectionError::NotParked { projection: self.engine.name().to_owned(), id })?;
        event.discarded = Some((SystemTime::now(), reason.to_owned()));
        Ok(())
    }
}

/// The parked events of one runner, and its checkpoint's revision.
#[derive(Debug, Default)]
struct Parked {
    events: Vec<ParkedEvent>,
    last_id: u64,
    revision: u64,
}

/// The sink of a runner whose checkpoint lives in memory: its parked events
/// and its checkpoint's revision, beside the read model the projection
/// holds.
#[derive(Debug)]
struct MemorySink<P> {
    name: String,
    parked: Mutex<Parked>,
    projection: PhantomData<fn() -> P>,
}

impl<P> MemorySink<P> {
    fn lock(&self) -> MutexGuard<'_, Parked> {
        // Every change to `Parked` is a single push, retain or assignment:
        // a panic elsewhere cannot leave it half-written.
        self.parked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a unit of work changes in the parked events when it commits.
#[derive(Debug)]
struct MemoryUnit<'u> {
    parked: &'u Mutex<Parked>,
    name: &'u str,
    clear: bool,
    park: Vec<(RecordedEvent, String, u32)>,
    unpark: Option<u64>,
}

impl<P: Projection + 'static> Sink for MemorySink<P> {
    const ATOMIC: bool = false;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = MemoryUnit<'u>;

    async fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedEvent>, StoreError> {
        Ok(self.lock().events.iter().filter(|e| e.id > after).take(limit).cloned().collect())
    }

    async fn begin(&mut self) -> Result<MemoryUnit<'_>, StoreError> {
        Ok(MemoryUnit { parked: &self.parked, name: &self.name, clear: false, park: Vec::new(), unpark: None })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        _unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        for (index, envelope) in events.iter().enumerate() {
            let handled = async {
                let handled = projection.handle(envelope.event, envelope.recorded).await;
                handled.map_err(|source| Failed { index: Some(index), source })
            };
            call(Some(index), handled).await?;
        }
        Ok(())
    }

    async fn reset<'a>(projection: &'a mut P, _unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset().await
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        unit.clear = true;
        Ok(())
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        unit.park.push((event.clone(), error, attempts));
        Ok(())
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        let parked = unit.parked.lock().unwrap_or_else(|p| p.into_inner()).events.iter().any(|e| e.id == id);
        unit.unpark = parked.then_some(id);
        Ok(parked)
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        if let Some(event) = self.lock().events.iter_mut().find(|e| e.id == id) {
            event.error = error;
            event.attempts += 1;
        }
        Ok(())
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let mut parked = unit.parked.lock().unwrap_or_else(|p| p.into_inner());
        if checkpoint.is_some() {
            parked.revision += 1;
        }
        if unit.clear {
            parked.events.clear();
        }
        if let Some(id) = unit.unpark {
            parked.events.retain(|e| e.id != id);
        }
        for (event, error, attempts) in unit.park {
            parked.last_id += 1;
            let id = parked.last_id;
            parked.events.push(ParkedEvent {
                id,
                projection: unit.name.to_owned(),
                position: event.position,
                stream_id: event.stream_id,
                version: event.version,
                event_name: event.event.name,
                error,
                attempts,
                parked_at: SystemTime::now(),
                discarded: None,
            });
        }
        Ok(Some(parked.revision))
    }
}
