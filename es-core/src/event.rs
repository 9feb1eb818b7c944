//! Events: named, versioned, immutable facts, and how they are encoded.

use crate::error::DecodeError;
use crate::payload::Payload;

/// An event as it is written to a store: its stable name, the version of its
/// schema and its JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    /// The stable name the event is stored under, such as `"Deposited"`.
    pub name: String,
    /// The schema version the payload was written with (1 for the first).
    /// A stream's events have versions too; this is not one of them.
    pub schema_version: u32,
    /// The serialized event.
    pub payload: Payload,
}

/// A past-tense fact about a domain: a single event type, or an enum that
/// groups the event types of one aggregate.
///
/// Implement it with `#[derive(Event)]`; decoding then runs the upcaster
/// chain from the stored version to the current one before deserializing.
///
/// # Names, versions and upcasters
///
/// An event struct is stored under a stable name (`#[event(name = "...")]`,
/// default the type's name) and a schema version (`#[event(version = N)]`,
/// default 1). Each change of the payload raises the version and declares
/// one step from the previous one, either on JSON
/// (`#[upcast(from = N, with = f)]`, `f: fn(Value) -> Value`, or
/// `-> Result<Value, serde_json::Error>` to refuse a payload) or typed
/// (`#[upcast(from = N, via = OldShape, with = f)]`,
/// `f: fn(OldShape) -> NextShape`). A gap or a duplicate in the chain is a
/// compile error. Decoding fails with a [`DecodeError`] that names the
/// event: an unknown name, version 0 or a version above the current one,
/// a step that refused the payload, or a payload that does not match.
/// Every derived event type is listed in [`registry`](crate::registry),
/// whose `validate` refuses two types stored under one name.
///
/// ```
/// use es_core::Event;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// #[event(name = "Deposited")]
/// struct Deposited {
///     amount: i64,
/// }
///
/// let encoded = Deposited { amount: 5 }.encode().unwrap();
/// assert_eq!((encoded.name.as_str(), encoded.schema_version), ("Deposited", 1));
/// let decoded = Deposited::decode(&encoded.name, encoded.schema_version, &encoded.payload).unwrap();
/// assert_eq!(decoded, Deposited { amount: 5 });
/// ```
///
/// # Decoding cost
///
/// A payload stored at the current schema version is deserialized straight
/// from its JSON text ([`Payload::deserialize`]); only an older one is
/// parsed into a `serde_json::Value` for its upcasters to run on.
///
/// # Writing the impl by hand
///
/// The derive is the way to go, but nothing requires it. A hand-written
/// impl is not listed in the [`registry`](crate::registry), so projections
/// of other event types see its events as unknown rather than skip them.
///
/// ```
/// use es_core::{DecodeError, EncodedEvent, Event, Payload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Renamed { to: String }
///
/// impl Event for Renamed {
///     fn event_name(&self) -> &'static str { "Renamed" }
///     fn schema_version(&self) -> u32 { 1 }
///     fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
///         Ok(EncodedEvent { name: "Renamed".into(), schema_version: 1, payload: Payload::serialize(self)? })
///     }
///     fn decode(name: &str, schema_version: u32, payload: &Payload) -> Result<Self, DecodeError> {
///         match (name, schema_version) {
///             ("Renamed", 1) => payload.deserialize().map_err(|cause| DecodeError::Payload {
///                 name: name.to_owned(),
///                 version: schema_version,
///                 cause,
///             }),
///             ("Renamed", _) => Err(DecodeError::UnknownVersion { name: name.to_owned(), version: schema_version, current: 1 }),
///             _ => Err(DecodeError::UnknownEvent { name: name.to_owned() }),
///         }
///     }
/// }
///
/// let encoded = Renamed { to: "b".into() }.encode().unwrap();
/// assert_eq!(Renamed::decode("Renamed", 1, &encoded.payload).unwrap(), Renamed { to: "b".into() });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "not an event",
    note = "add `#[derive(es_core::Event)]` to `{Self}` (and `serde::Serialize`, `serde::Deserialize` for a struct)"
)]
pub trait Event: Sized + Send + Sync + 'static {
    /// The stable name of this event.
    fn event_name(&self) -> &'static str;

    /// The current schema version of this event.
    fn schema_version(&self) -> u32;

    /// Serializes the event at its current schema version.
    fn encode(&self) -> Result<EncodedEvent, serde_json::Error>;

    /// Rebuilds an event from what a store holds, upcasting older schema
    /// versions.
    fn decode(name: &str, schema_version: u32, payload: &Payload) -> Result<Self, DecodeError>;
}

/// An aggregate's handler for one event type.
///
/// `#[derive(Aggregate)]` dispatches each event of the aggregate's event enum
/// to the matching `Apply` impl, so forgetting one is a compile error.
///
/// ```
/// use es_core::Apply;
///
/// struct Deposited { amount: i64 }
/// #[derive(Default)]
/// struct Account { balance: i64 }
///
/// impl Apply<Deposited> for Account {
///     fn apply(&mut self, event: &Deposited) {
///         self.balance += event.amount;
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` does not handle event `{E}`",
    label = "`{E}` is not applied to `{Self}`",
    note = "write `impl es_core::Apply<{E}> for {Self} {{ fn apply(&mut self, event: &{E}) {{ .. }} }}`"
)]
pub trait Apply<E> {
    /// Evolves the state by one event. Applying never fails: the event
    /// already happened.
    fn apply(&mut self, event: &E);
}

/// Dispatches an event (or each variant of an event enum) to an aggregate's
/// [`Apply`] impls. Generated by `#[derive(Event)]`; users do not implement it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be applied to aggregate `{A}`",
    label = "not an event of `{A}`",
    note = "the event type of an aggregate derives `es_core::Event`, and the aggregate implements `es_core::Apply` for each of its events"
)]
pub trait ApplyTo<A> {
    /// Applies `self` to `aggregate`.
    fn apply_to(&self, aggregate: &mut A);
}
