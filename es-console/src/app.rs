//! The application's types, registered with [`Console`](crate::Console) and
//! kept behind small object-safe traits: an aggregate's decoding and fold,
//! a projection's retry (whose runner uses `async fn`s, which cannot be
//! called through `dyn`).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use es_core::{Aggregate, DecodeError, EncodedEvent, Event, ProjectionError, Snapshot};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner};
use serde_json::Value;

use crate::error::Error;

/// An aggregate type, without its type parameter.
pub(crate) trait AggregateKind: Send + Sync {
    /// The aggregate type name stored beside its events.
    fn name(&self) -> &'static str;

    /// The Rust path of the aggregate type.
    fn type_name(&self) -> &'static str;

    /// The Rust path of its event type.
    fn event_type_name(&self) -> &'static str;

    /// Decodes `event` with the aggregate's event type, upcasting it, and
    /// encodes it again: the payload the application sees.
    fn decode(&self, event: EncodedEvent) -> Result<Value, DecodeError>;

    /// Folds `events` (in version order) onto `snapshot`'s state, or the
    /// default state when there is none or it is of another schema: the
    /// state before the first event, then after each, as JSON.
    fn fold(
        &self,
        snapshot: Option<Snapshot>,
        stream_id: &str,
        events: &[(u64, EncodedEvent)],
    ) -> Result<Vec<Value>, Error>;
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

    fn type_name(&self) -> &'static str {
        std::any::type_name::<A>()
    }

    fn event_type_name(&self) -> &'static str {
        std::any::type_name::<A::Event>()
    }

    fn decode(&self, event: EncodedEvent) -> Result<Value, DecodeError> {
        let decoded = A::Event::decode(&event.name, event.schema_version, &event.payload)?;
        let encoded = decoded.encode().and_then(|e| e.payload.to_value());
        Ok(encoded.unwrap_or_else(|e| Value::String(format!("(does not encode: {e})"))))
    }

    fn fold(
        &self,
        snapshot: Option<Snapshot>,
        stream_id: &str,
        events: &[(u64, EncodedEvent)],
    ) -> Result<Vec<Value>, Error> {
        let snapshot = snapshot.filter(|s| s.schema_version == A::SNAPSHOT_SCHEMA_VERSION);
        let mut state = snapshot.and_then(|s| s.state.deserialize::<A>().ok()).unwrap_or_default();
        let mut states = Vec::with_capacity(events.len() + 1);
        states.push(to_json(&state)?);
        for (version, encoded) in events {
            let event = A::Event::decode(&encoded.name, encoded.schema_version, &encoded.payload)
                .map_err(|source| Error::Decode { stream_id: stream_id.to_owned(), version: *version, source })?;
            state.apply(&event);
            states.push(to_json(&state)?);
        }
        Ok(states)
    }
}

fn to_json<A: serde::Serialize>(state: &A) -> Result<Value, Error> {
    serde_json::to_value(state).map_err(|source| Error::State { source })
}

/// A future of a mounted projection's work.
pub(crate) type Retrying = Pin<Box<dyn Future<Output = Result<(), ProjectionError>> + Send>>;

/// An application's projection, without its type parameter: what the
/// console does with it.
pub(crate) trait Mounted: Send + Sync {
    /// The projection's name.
    fn name(&self) -> &str;

    /// Hands parked event `id` to a fresh instance of the projection.
    fn retry_parked(&self, store: PgEventStore, id: u64) -> Retrying;
}

/// A projection made afresh for each retry by `make`.
pub(crate) struct Factory<F> {
    name: String,
    make: F,
}

impl<P: PgProjection, F: Fn() -> P + Send + Sync> Factory<F> {
    pub(crate) fn new(make: F) -> Self {
        let name = make().name().to_owned();
        Factory { name, make }
    }
}

impl<P: PgProjection, F: Fn() -> P + Send + Sync> Mounted for Factory<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn retry_parked(&self, store: PgEventStore, id: u64) -> Retrying {
        let projection = (self.make)();
        Box::pin(async move { PgProjectionRunner::new(store, projection).retry_parked(id).await })
    }
}
