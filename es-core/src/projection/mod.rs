//! Projections: read models built by following the global order of events.
//!
//! A projection handles decoded events with their envelopes and keeps a
//! checkpoint, the position of the last event it handled. A runner feeds it
//! from the checkpoint on: it catches up in pages, then follows new events.
//! Every runner is the same engine over a backend:
//! [`InMemoryProjectionRunner`] keeps the checkpoint in process memory,
//! `es-postgres`'s runner commits read-model writes and checkpoint in one
//! transaction.
//!
//! # Nothing is skipped silently
//!
//! A projection reads the [`AggregateTypes`] (aggregate types) it declares;
//! events of other aggregate types are filtered out by the store. Within its
//! aggregate types, an event is skipped only when the program knows it (some
//! event type is registered under its name) and the projection's event type
//! does not. An event whose name no code knows, one that does not decode,
//! and one the handler keeps failing on are *poison*: the runner stops at
//! it or parks it, as its [`PoisonPolicy`] says. A handler that panics has
//! failed on its event, like one that returns an error.

use std::future::Future;

use crate::envelope::RecordedEvent;
use crate::error::BoxError;
use crate::event::Event;
use crate::store::AggregateTypes;

#[cfg_attr(not(feature = "backend"), allow(dead_code))]
pub(crate) mod checkpoint;
// Without the `backend` feature only the in-memory runner uses the engine,
// and some of what other runners need goes unused.
#[cfg_attr(not(feature = "backend"), allow(dead_code))]
pub(crate) mod engine;
mod error;
mod health;
mod held;
#[cfg(feature = "backend")]
pub(crate) mod hosted;
mod memory;
mod options;
mod parked;

pub use checkpoint::CheckpointWaiter;
pub(crate) use checkpoint::CheckpointWatch;
pub use error::{ProjectionError, WaitError};
pub use health::{Health, ReconnectBackoff, RunnerHealth, RunnerState};
pub use memory::InMemoryProjectionRunner;
pub use options::{ParkLimits, PoisonPolicy, Progress, RetryPolicy, RunnerOptions};
pub use parked::ParkedEvent;

/// A decoded event handed to a projection, with its envelope.
#[derive(Debug)]
pub struct Envelope<'a, E> {
    /// The event.
    pub event: &'a E,
    /// Where and when it was recorded, and why.
    pub recorded: &'a RecordedEvent,
}

/// A read model fed by the events of a store, kept in memory.
///
/// ```
/// use std::collections::HashMap;
/// use es_core::{BoxError, AggregateTypes, Projection, RecordedEvent};
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
///     fn aggregate_types(&self) -> AggregateTypes { AggregateTypes::only(["account"]) }
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
    /// The events this projection reads. Events of its aggregate types that the
    /// program knows but this type does not are skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default: all).
    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::All
    }

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
