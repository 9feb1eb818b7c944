//! The application's types, registered with [`Cli`](crate::Cli) and kept
//! behind small object-safe traits: an aggregate's event decoding and fold,
//! a projection's rebuild (whose trait uses `async fn`s, which cannot be
//! called through `dyn`).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use es_core::projection::Progress;
use es_core::{Aggregate, DecodeError, EncodedEvent, Event, ProjectionError, RecordedEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner};
use serde_json::Value;

use crate::error::Error;

/// An aggregate type, without its type parameter.
pub(crate) trait AggregateKind: Send + Sync {
    /// The aggregate type name stored beside its events.
    fn name(&self) -> &'static str;

    /// Decodes `event` with the aggregate's event type, upcasting it.
    fn decode(&self, event: EncodedEvent) -> Result<(), DecodeError>;

    /// Folds `events` from the default state; the state after each one, as JSON.
    fn states(&self, events: &[RecordedEvent]) -> Result<Vec<Value>, Error>;
}

/// The [`AggregateKind`] of `A`.
pub(crate) struct Registered<A>(PhantomData<fn() -> A>);

impl<A> Registered<A> {
    pub(crate) fn new() -> Self {
        Registered(PhantomData)
    }
}

impl<A: Aggregate> AggregateKind for Registered<A> {
    fn name(&self) -> &'static str {
        A::TYPE
    }

    fn decode(&self, event: EncodedEvent) -> Result<(), DecodeError> {
        A::Event::decode(&event.name, event.schema_version, &event.payload).map(drop)
    }

    fn states(&self, events: &[RecordedEvent]) -> Result<Vec<Value>, Error> {
        let mut state = A::default();
        let mut states = Vec::with_capacity(events.len());
        for recorded in events {
            let encoded = &recorded.event;
            let event =
                A::Event::decode(&encoded.name, encoded.schema_version, &encoded.payload).map_err(|source| {
                    Error::Decode { stream_id: recorded.stream_id.clone(), version: recorded.version, source }
                })?;
            state.apply(&event);
            states.push(serde_json::to_value(&state).map_err(|source| Error::Json { what: "the state", source })?);
        }
        Ok(states)
    }
}

/// A future that borrows the progress callback; the command line runs on
/// one thread, so it need not be `Send`.
pub(crate) type Rebuilding<'a> = Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + 'a>>;

/// A future of a mounted projection's work.
pub(crate) type Retrying = Pin<Box<dyn Future<Output = Result<(), ProjectionError>>>>;

/// An application's projection, without its type parameter: what the
/// mounted command line does with it.
pub(crate) trait Mounted {
    /// The projection's name.
    fn name(&self) -> &str;

    /// Empties the read model and replays every event of `store`, calling
    /// `progress` after each page; returns how many events were read.
    fn rebuild<'a>(
        self: Box<Self>,
        store: PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Rebuilding<'a>;

    /// Hands parked event `id` to the projection once more.
    fn retry_parked(self: Box<Self>, store: PgEventStore, id: u64) -> Retrying;
}

impl<P: PgProjection + 'static> Mounted for P {
    fn name(&self) -> &str {
        PgProjection::name(self)
    }

    fn rebuild<'a>(
        self: Box<Self>,
        store: PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Rebuilding<'a> {
        Box::pin(async move { PgProjectionRunner::new(store, *self).rebuild(progress).await })
    }

    fn retry_parked(self: Box<Self>, store: PgEventStore, id: u64) -> Retrying {
        Box::pin(async move { PgProjectionRunner::new(store, *self).retry_parked(id).await })
    }
}
