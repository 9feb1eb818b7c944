//! [`AggregateKind`]: an aggregate type behind a trait object, for tools.

use std::marker::PhantomData;

use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::error::DecodeError;
use crate::event::{EncodedEvent, Event};
use crate::store::Snapshot;

/// Why a stream could not be folded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FoldError {
    /// A stored event does not decode into the aggregate's event type.
    #[error("cannot decode event {version} of stream `{stream_id}`")]
    Decode {
        /// The stream.
        stream_id: String,
        /// The event's version.
        version: u64,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// The aggregate's state does not serialize to JSON.
    #[error("the state of stream `{stream_id}` does not serialize to JSON")]
    State {
        /// The stream.
        stream_id: String,
        /// The serializer's complaint.
        source: serde_json::Error,
    },
}

/// An aggregate type the application registered with a tool, without its
/// type parameter: what the command line and the console do with it.
///
/// ```
/// use es_core::admin::aggregate_kind;
/// # use es_core::{Aggregate, Apply, Event};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
/// # #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
/// # #[aggregate(name = "account", event = Deposited)]
/// # struct Account { balance: i64 }
/// # impl Apply<Deposited> for Account { fn apply(&mut self, e: &Deposited) { self.balance += e.amount } }
///
/// let account = aggregate_kind::<Account>();
/// let deposited = Deposited { amount: 5 }.encode()?;
/// let states = account.fold(None, "acc-1", &[(1, &deposited)])?;
/// assert_eq!(states, [serde_json::json!({ "balance": 0 }), serde_json::json!({ "balance": 5 })]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AggregateKind: Send + Sync {
    /// The aggregate's name, stored beside its events.
    fn name(&self) -> &'static str;

    /// The Rust path of the aggregate type.
    fn type_name(&self) -> &'static str;

    /// The Rust path of its event type.
    fn event_type_name(&self) -> &'static str;

    /// Whether `event` decodes with the aggregate's event type (upcast).
    fn check(&self, event: &EncodedEvent) -> Result<(), DecodeError>;

    /// `event` decoded with the aggregate's event type (upcast) and encoded
    /// again: the payload the application sees.
    fn decoded(&self, event: &EncodedEvent) -> Result<Value, DecodeError>;

    /// Folds `events` (in version order) onto `snapshot`'s state, or onto
    /// the default state when there is none or it is of another schema
    /// version: the state before the first event, then after each, as JSON.
    fn fold(
        &self,
        snapshot: Option<&Snapshot>,
        stream_id: &str,
        events: &[(u64, &EncodedEvent)],
    ) -> Result<Vec<Value>, FoldError>;
}

/// The [`AggregateKind`] of `A`.
pub fn aggregate_kind<A: Aggregate>() -> Box<dyn AggregateKind> {
    Box::new(Registered::<A>(PhantomData))
}

struct Registered<A>(PhantomData<fn() -> A>);

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

    fn check(&self, event: &EncodedEvent) -> Result<(), DecodeError> {
        A::Event::decode(&event.name, event.schema_version, &event.payload).map(drop)
    }

    fn decoded(&self, event: &EncodedEvent) -> Result<Value, DecodeError> {
        let decoded = A::Event::decode(&event.name, event.schema_version, &event.payload)?;
        let encoded = decoded.encode().and_then(|e| e.payload.to_value());
        Ok(encoded.unwrap_or_else(|e| Value::String(format!("(does not encode: {e})"))))
    }

    fn fold(
        &self,
        snapshot: Option<&Snapshot>,
        stream_id: &str,
        events: &[(u64, &EncodedEvent)],
    ) -> Result<Vec<Value>, FoldError> {
        let usable = snapshot.filter(|s| s.schema_version == A::SNAPSHOT_SCHEMA_VERSION);
        let mut state = usable.and_then(|s| s.state.deserialize::<A>().ok()).unwrap_or_default();
        let json = |state: &A| {
            serde_json::to_value(state).map_err(|source| FoldError::State { stream_id: stream_id.to_owned(), source })
        };
        let mut states = Vec::with_capacity(events.len() + 1);
        states.push(json(&state)?);
        for (version, encoded) in events {
            let event = A::Event::decode(&encoded.name, encoded.schema_version, &encoded.payload)
                .map_err(|source| FoldError::Decode { stream_id: stream_id.to_owned(), version: *version, source })?;
            state.apply(&event);
            states.push(json(&state)?);
        }
        Ok(states)
    }
}
