//! Derive macros of [`es-core`](https://docs.rs/es-core): events, aggregates
//! and upcaster chains. Use them through `es_core`, which re-exports them;
//! the generated code names only `::es_core::…`.
//!
//! Each derive runs in three steps, each in its own module: `ast` and `attr`
//! read the item and its attributes, `valid` checks what they mean (every
//! mistake of an item is reported at once, each at its own span), and
//! `expand` writes the impls. When a check fails, `fallback` emits stub
//! impls beside the errors so that one mistake does not cascade.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod shape;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `es_core::Event` for an event struct or for the enum that
/// groups an aggregate's events.
///
/// # On a struct
///
/// The struct must also derive `serde::Serialize` and `serde::Deserialize`.
///
/// - `#[event(name = "...")]`: the stable name the event is stored under
///   (default: the type's name). Renaming the type later keeps stored
///   events readable only if this name stays.
/// - `#[event(version = N)]`: the current schema version (default 1).
/// - `#[upcast(from = N, with = path)]`: one step from the payload of
///   version `N` to version `N + 1`, on JSON: `path` is a
///   `fn(serde_json::Value) -> serde_json::Value`, or
///   `-> Result<serde_json::Value, serde_json::Error>` to refuse a payload.
///   Best for renames and defaults.
/// - `#[upcast(from = N, via = OldShape, with = path)]`: a typed step. The
///   stored payload is deserialized into `OldShape` and `path` is a
///   `fn(OldShape) -> NextShape` where `NextShape: Serialize` is the shape
///   of version `N + 1` (often `Self`). Best for real changes.
///
/// An event at version `V` needs exactly one step from each version
/// `1..V`; a gap, a duplicate or a step from a version `>= V` is a compile
/// error. Decoding a stored `(name, schema version, payload)` rejects
/// version 0 and versions above `V`. A payload at version `V` is
/// deserialized straight from its stored text; an older one is parsed into
/// a `serde_json::Value`, runs the steps from its version up, then is
/// deserialized.
///
/// ```
/// use es_core::Event;
/// use serde::{Deserialize, Serialize};
/// use serde_json::{Value, json};
///
/// /// Version 1 stored whole dollars as `amount`.
/// #[derive(Deserialize)]
/// struct DepositedV1 { amount: i64 }
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// #[event(name = "Deposited", version = 3)]
/// #[upcast(from = 1, via = DepositedV1, with = dollars_to_cents)]
/// #[upcast(from = 2, with = add_memo)]
/// struct Deposited { cents: i64, memo: String }
///
/// #[derive(Serialize)]
/// struct DepositedV2 { cents: i64 }
///
/// fn dollars_to_cents(v1: DepositedV1) -> DepositedV2 {
///     DepositedV2 { cents: v1.amount * 100 }
/// }
///
/// fn add_memo(mut payload: Value) -> Value {
///     payload["memo"] = json!("");
///     payload
/// }
///
/// let decoded = Deposited::decode("Deposited", 1, &json!({ "amount": 5 }).into()).unwrap();
/// assert_eq!(decoded, Deposited { cents: 500, memo: String::new() });
/// ```
///
/// # On an enum
///
/// Every variant wraps one event struct: `enum AccountEvent { Opened(Opened),
/// Deposited(Deposited) }`. The enum encodes as its variant does, decodes by
/// name, converts `From` each event struct, and refuses at compile time two
/// variants whose events share a name.
///
/// # Apply dispatch
///
/// The derive also implements `es_core::ApplyTo<A>` for every `A` that
/// implements `es_core::Apply` for each of its events; `#[derive(Aggregate)]`
/// relies on it, so an event the aggregate does not handle is a compile
/// error naming the impl to write.
#[proc_macro_derive(Event, attributes(event, upcast))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::event::derive(&input).into()
}

/// Implements `es_core::Aggregate` from `#[aggregate(...)]`:
///
/// - `name = "..."`: the aggregate type name stored with its events
///   (default: the type's name);
/// - `event = Type` (required): its event type, a struct or enum deriving
///   `Event`;
/// - `snapshot_every = N`: take a snapshot every `N` events (default 0,
///   never);
/// - `snapshot_schema_version = N`: the schema version of the serialized state
///   (default 1). The snapshot fingerprint (below) already catches changes
///   of the state's definition; raise this for a change it cannot see, such
///   as what `apply` computes into an unchanged field.
/// - `nested(Type, ...)`: types used inside the state whose own
///   definitions join the fingerprint; each implements
///   `es_core::StateFingerprint` (`#[derive(StateFingerprint)]`).
///
/// # Snapshot fingerprint
///
/// The derive hashes the state type's definition into
/// `Aggregate::SNAPSHOT_FINGERPRINT`: its field (and variant) names, each
/// field's type as written and every `#[serde(...)]` attribute of the type,
/// its variants and its fields. A snapshot stored with another fingerprint
/// is ignored and replaced by one replayed from the events, so changing the
/// state's shape needs no manual bump. Doc comments and other attributes do
/// not count. A type named in a field is seen by its name only: a change
/// inside `Address` is seen when `Address` derives `StateFingerprint` and
/// is listed in `nested(Address)`; a change inside a type from another
/// crate, or of what `apply` computes, needs `snapshot_schema_version`.
///
/// `apply` dispatches each event to the aggregate's `es_core::Apply` impl
/// for it; a missing impl is a compile error at `event = ...`.
///
/// ```
/// use es_core::{Aggregate, Apply, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// struct Opened;
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// struct Deposited { cents: i64 }
///
/// #[derive(Event, Debug, PartialEq)]
/// enum AccountEvent { Opened(Opened), Deposited(Deposited) }
///
/// #[derive(Aggregate, Default, Serialize, Deserialize)]
/// #[aggregate(name = "account", event = AccountEvent, snapshot_every = 100)]
/// struct Account { open: bool, cents: i64 }
///
/// impl Apply<Opened> for Account {
///     fn apply(&mut self, _: &Opened) { self.open = true }
/// }
/// impl Apply<Deposited> for Account {
///     fn apply(&mut self, e: &Deposited) { self.cents += e.cents }
/// }
///
/// let mut account = Account::default();
/// Aggregate::apply(&mut account, &Opened.into());
/// Aggregate::apply(&mut account, &Deposited { cents: 250 }.into());
/// assert_eq!((account.open, account.cents, Account::SNAPSHOT_EVERY), (true, 250, 100));
/// ```
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::aggregate::derive(&input).into()
}

/// Implements `es_core::StateFingerprint` for a type used inside an
/// aggregate's state, so that a change of its definition changes the
/// snapshot fingerprint of every aggregate listing it in
/// `#[aggregate(nested(...))]`.
///
/// The fingerprint hashes the same things as the aggregate's: field and
/// variant names, field types as written, `#[serde(...)]` attributes.
/// `#[fingerprint(nested(Type, ...))]` adds the fingerprints of types
/// nested deeper.
///
/// ```
/// use es_core::{Aggregate, Event, StateFingerprint};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(StateFingerprint, Serialize, Deserialize, Default)]
/// struct Address { street: String, city: String }
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct Moved { city: String }
///
/// #[derive(Aggregate, Serialize, Deserialize, Default)]
/// #[aggregate(event = Moved, snapshot_every = 10, nested(Address))]
/// struct Customer { address: Address }
///
/// impl es_core::Apply<Moved> for Customer {
///     fn apply(&mut self, e: &Moved) { self.address.city = e.city.clone() }
/// }
///
/// assert_ne!(Customer::SNAPSHOT_FINGERPRINT, 0);
/// assert_ne!(Address::FINGERPRINT, Customer::SNAPSHOT_FINGERPRINT);
/// ```
#[proc_macro_derive(StateFingerprint, attributes(fingerprint))]
pub fn derive_state_fingerprint(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::fingerprint::derive(&input).into()
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
