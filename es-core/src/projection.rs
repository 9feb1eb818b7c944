//! Projections: read models built by following the global order of events.
//!
//! A projection handles decoded events with their envelopes and keeps a
//! checkpoint, the position of the last event it handled. A runner feeds it
//! from the checkpoint on: it catches up in pages, then follows new events.
//! This module holds what every runner shares (errors, retries, progress,
//! waiting for a position) and [`ProjectionRunner`], the runner for the
//! in-memory store; `es-postgres` has one that commits read-model writes
//! and checkpoint in one transaction.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::envelope::{Position, RecordedEvent};
use crate::error::{BoxError, DecodeError, StoreError};
use crate::event::Event;
use crate::store::EventStore;

/// A read model fed by the events of a store, kept in memory.
///
/// ```
/// use std::collections::HashMap;
/// use es_core::{BoxError, Projection, RecordedEvent};
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
///
/// #[derive(Default)]
/// struct Balances(HashMap<String, i64>);
///
/// impl Projection for Balances {
///     type Event = Deposited;
///     fn name(&self) -> &str { "balances" }
///     async fn handle(&mut self, event: &Deposited, envelope: &RecordedEvent) -> Result<(), BoxError> {
///         *self.0.entry(envelope.stream_id.clone()).or_default() += event.amount;
///         Ok(())
///     }
///     async fn reset(&mut self) -> Result<(), BoxError> {
///         self.0.clear();
///         Ok(())
///     }
/// }
/// ```
pub trait Projection: Send + Sync {
    /// The events this projection reads. Events of the store whose names
    /// this type does not know are skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// Updates the read model with one event.
    /// A failing handler is retried per the runner's [`RetryPolicy`], so it
    /// must leave the read model as it was when it fails.
    fn handle(
        &mut self,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Empties the read model before a rebuild.
    fn reset(&mut self) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// Reading events or the checkpoint failed.
    #[error("projection `{projection}`: {source}")]
    Store {
        /// The projection's name.
        projection: String,
        /// The store's error.
        source: StoreError,
    },
    /// An event of a type the projection reads does not decode.
    #[error(
        "projection `{projection}` stopped at event {version} of stream `{stream_id}` (position {position}): {source}"
    )]
    Decode {
        /// The projection's name.
        projection: String,
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// The event's global position.
        position: Position,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// The handler failed on an event every time it was tried.
    #[error(
        "projection `{projection}` stopped at event {version} of stream `{stream_id}` (position {position}) after {attempts} attempt(s): {source}"
    )]
    Handler {
        /// The projection's name.
        projection: String,
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// The event's global position.
        position: Position,
        /// How many times the handler ran on it.
        attempts: u32,
        /// The handler's last error.
        source: BoxError,
    },
    /// Another runner holds the projection's lock.
    #[error("projection `{projection}` is being run by another runner")]
    Busy {
        /// The projection's name.
        projection: String,
    },
    /// Resetting the read model for a rebuild failed.
    #[error("projection `{projection}` could not reset its read model: {source}")]
    Reset {
        /// The projection's name.
        projection: String,
        /// The handler's error.
        source: BoxError,
    },
}

impl ProjectionError {
    /// The error for a handler that failed on `event` after `attempts` tries.
    pub fn handler(projection: &str, event: &RecordedEvent, attempts: u32, source: BoxError) -> Self {
        ProjectionError::Handler {
            projection: projection.to_owned(),
            stream_id: event.stream_id.clone(),
            version: event.version,
            position: event.position,
            attempts,
            source,
        }
    }

    /// The error for a store failure.
    pub fn store(projection: &str, source: StoreError) -> Self {
        ProjectionError::Store { projection: projection.to_owned(), source }
    }
}

/// Decodes a recorded event for a projection reading `E`: `None` when the
/// event is of a type `E` does not know, an error when it is one of `E`'s
/// but does not decode.
pub fn decode_for<E: Event>(projection: &str, recorded: &RecordedEvent) -> Result<Option<E>, ProjectionError> {
    let event = &recorded.event;
    match E::decode(&event.name, event.version, event.payload.clone()) {
        Ok(decoded) => Ok(Some(decoded)),
        Err(DecodeError::UnknownEvent { .. }) => Ok(None),
        Err(source) => Err(ProjectionError::Decode {
            projection: projection.to_owned(),
            stream_id: recorded.stream_id.clone(),
            version: recorded.version,
            position: recorded.position,
            source,
        }),
    }
}

/// How often and how patiently a runner retries a failing handler before
/// it stops the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per event, the first included; 0 counts as 1.
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each one.
    pub initial_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, initial_backoff: Duration::from_millis(50), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// No retries: stop at the first failure.
    pub const NEVER: RetryPolicy =
        RetryPolicy { attempts: 1, initial_backoff: Duration::ZERO, max_backoff: Duration::ZERO };

    /// The pause after the `failures`-th failure (1 for the first).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// How far a rebuild has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events read so far (handled or skipped).
    pub done: u64,
    /// Events in the store when the rebuild started.
    pub total: u64,
}

/// The waited-for position was not reached in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("projection `{projection}` did not reach position {wanted} within {timeout:?} (it is at {reached})")]
pub struct WaitTimeout {
    /// The projection's name.
    pub projection: String,
    /// The position waited for.
    pub wanted: Position,
    /// The checkpoint when the wait ended.
    pub reached: Position,
    /// How long the wait lasted.
    pub timeout: Duration,
}

/// Publishes a projection's checkpoint so that queries can wait until it
/// reflects a command (read your own writes).
#[derive(Debug)]
pub struct CheckpointWatch {
    projection: String,
    sender: watch::Sender<Position>,
}

impl CheckpointWatch {
    /// A watch for `projection` at `position`.
    pub fn new(projection: &str, position: Position) -> Self {
        CheckpointWatch { projection: projection.to_owned(), sender: watch::Sender::new(position) }
    }

    /// Publishes a new checkpoint.
    pub fn advance(&self, position: Position) {
        self.sender.send_replace(position);
    }

    /// The latest published checkpoint.
    pub fn position(&self) -> Position {
        *self.sender.borrow()
    }

    /// A handle that queries use to wait for positions.
    pub fn waiter(&self) -> CheckpointWaiter {
        CheckpointWaiter { projection: self.projection.clone(), receiver: self.sender.subscribe() }
    }
}

/// Waits until a projection has handled the events up to a position.
#[derive(Debug, Clone)]
pub struct CheckpointWaiter {
    projection: String,
    receiver: watch::Receiver<Position>,
}

impl CheckpointWaiter {
    /// The projection's checkpoint now.
    pub fn position(&self) -> Position {
        *self.receiver.borrow()
    }

    /// Resolves once the projection's checkpoint is at or after `position`,
    /// or fails with [`WaitTimeout`] after `timeout`. Pass the position a
    /// command returned to read your own writes.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<(), WaitTimeout> {
        let mut receiver = self.receiver.clone();
        let reached = tokio::time::timeout(timeout, receiver.wait_for(|p| *p >= position)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            // The runner is gone; its last checkpoint is final.
            Ok(Err(_)) if self.position() >= position => Ok(()),
            Ok(Err(_)) | Err(_) => Err(WaitTimeout {
                projection: self.projection.clone(),
                wanted: position,
                reached: self.position(),
                timeout,
            }),
        }
    }
}

/// How a projection runner reads, retries and waits; every runner takes
/// these.
///
/// ```
/// use std::time::Duration;
/// use es_core::projection::{RetryPolicy, RunnerOptions};
///
/// let options = RunnerOptions::default().page_size(500).poll_interval(Duration::from_millis(50));
/// assert_eq!((options.page_size, options.retry), (500, RetryPolicy::default()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerOptions {
    /// How a failing handler is retried.
    pub retry: RetryPolicy,
    /// How many events are read (and, in PostgreSQL, committed) at once.
    pub page_size: usize,
    /// How often a caught-up runner looks for new events when nothing wakes
    /// it, and how often a standby tries to take over.
    pub poll_interval: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions { retry: RetryPolicy::default(), page_size: 1000, poll_interval: Duration::from_millis(500) }
    }
}

impl RunnerOptions {
    /// Sets how a failing handler is retried.
    pub fn retry(self, retry: RetryPolicy) -> Self {
        RunnerOptions { retry, ..self }
    }

    /// Sets how many events are read at once (at least 1).
    pub fn page_size(self, page_size: usize) -> Self {
        RunnerOptions { page_size: page_size.max(1), ..self }
    }

    /// Sets the poll interval.
    pub fn poll_interval(self, poll_interval: Duration) -> Self {
        RunnerOptions { poll_interval, ..self }
    }
}

/// Runs a [`Projection`] over any [`EventStore`], keeping the checkpoint in
/// memory beside the read model (both are rebuilt together when the process
/// restarts). For tests, examples and in-memory read models.
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
/// use es_core::{EventStore, ExpectedVersion, InMemoryEventStore, Metadata, ProjectionRunner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryEventStore::new();
/// let event = Deposited { amount: 7 }.encode()?;
/// store.append("account", "a", ExpectedVersion::Any, vec![event], &Metadata::default()).await?;
///
/// let mut runner = ProjectionRunner::new(store, Balances::default());
/// runner.catch_up().await?;
/// assert_eq!(runner.projection().0["a"], 7);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ProjectionRunner<P, S> {
    store: S,
    projection: P,
    checkpoint: CheckpointWatch,
    options: RunnerOptions,
}

impl<P: Projection, S: EventStore> ProjectionRunner<P, S> {
    /// A runner starting from the beginning of the store.
    pub fn new(store: S, projection: P) -> Self {
        let checkpoint = CheckpointWatch::new(projection.name(), Position::START);
        ProjectionRunner { store, projection, checkpoint, options: RunnerOptions::default() }
    }

    /// Sets how the runner reads, retries and waits.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// The read model.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The read model, to change it, for instance to fix what made a
    /// handler fail before running again.
    pub fn projection_mut(&mut self) -> &mut P {
        &mut self.projection
    }

    /// The position of the last event handled.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint.position()
    }

    /// A handle to wait until the projection reaches a position.
    pub fn waiter(&self) -> CheckpointWaiter {
        self.checkpoint.waiter()
    }

    /// Handles every event after the checkpoint, page by page, and returns
    /// how many events were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        self.catch_up_reporting(|_| {}).await
    }

    async fn catch_up_reporting(&mut self, mut on_page: impl FnMut(u64)) -> Result<u64, ProjectionError> {
        let mut read = 0;
        loop {
            let page = self
                .store
                .read_all(self.checkpoint(), self.options.page_size)
                .await
                .map_err(|e| ProjectionError::store(self.projection.name(), e))?;
            let Some(last) = page.last().map(|e| e.position) else { return Ok(read) };
            for recorded in &page {
                self.handle(recorded).await?;
                self.checkpoint.advance(recorded.position);
            }
            read += page.len() as u64;
            on_page(read);
            debug_assert_eq!(self.checkpoint(), last);
        }
    }

    async fn handle(&mut self, recorded: &RecordedEvent) -> Result<(), ProjectionError> {
        let Some(event) = decode_for::<P::Event>(self.projection.name(), recorded)? else {
            return Ok(());
        };
        let mut failures = 0;
        loop {
            match self.projection.handle(&event, recorded).await {
                Ok(()) => return Ok(()),
                Err(source) => {
                    failures += 1;
                    if failures >= self.options.retry.attempts.max(1) {
                        return Err(ProjectionError::handler(self.projection.name(), recorded, failures, source));
                    }
                    tokio::time::sleep(self.options.retry.backoff(failures)).await;
                }
            }
        }
    }

    /// Catches up, then follows new events until `stop` resolves.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        loop {
            self.catch_up().await?;
            if tokio::time::timeout(self.options.poll_interval, &mut stop).await.is_ok() {
                return Ok(());
            }
        }
    }

    /// Empties the read model and replays every event from the start,
    /// reporting progress after each page.
    pub async fn rebuild(&mut self, mut progress: impl FnMut(Progress)) -> Result<u64, ProjectionError> {
        let name = self.projection.name().to_owned();
        let total = self.store.count().await.map_err(|e| ProjectionError::store(&name, e))?;
        self.projection.reset().await.map_err(|source| ProjectionError::Reset { projection: name, source })?;
        self.checkpoint.advance(Position::START);
        self.catch_up_reporting(|done| progress(Progress { done, total })).await
    }
}
