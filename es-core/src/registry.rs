//! Every event type and aggregate linked into the program, registered by the
//! derives at link time.
//!
//! Event names are what a store keeps, so two event types sharing one name
//! would decode each other's payloads. Within one event enum the derive
//! refuses that at compile time; across crates only the linked program
//! knows, so call [`validate`] once at start-up:
//!
//! ```standalone_crate
//! use es_core::{Event, registry};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(name = "registry-doc.Pinged", version = 2)]
//! #[upcast(from = 1, with = ping_v1)]
//! struct Pinged { at: u64 }
//!
//! fn ping_v1(payload: serde_json::Value) -> serde_json::Value {
//!     serde_json::json!({ "at": payload["time"] })
//! }
//!
//! registry::validate()?;
//! let pinged = registry::event("registry-doc.Pinged").unwrap();
//! assert_eq!((pinged.schema_version(), pinged.upcasts_from()), (2, &[1][..]));
//! assert!(pinged.type_name().ends_with("::Pinged"));
//!
//! // The chain one step at a time, as a console shows it.
//! let step = &pinged.upcast_steps()[0];
//! assert_eq!((step.from(), step.name()), (1, "ping_v1"));
//! assert_eq!(step.run(serde_json::json!({ "time": 7 })).unwrap(), serde_json::json!({ "at": 7 }));
//! # Ok::<(), registry::RegistryError>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::DecodeError;

/// One event type, as `#[derive(Event)]` registers it.
pub struct EventRegistration {
    name: &'static str,
    version: u32,
    upcasts_from: &'static [u32],
    type_name: &'static str,
    serde: &'static str,
    fields: &'static [FieldShape],
    upcast_steps: &'static [UpcastStep],
}

/// One field of an event's payload type, as the derive reads it from the
/// source: the type as written (`Option<String>`, not resolved through
/// aliases) and its `#[serde(...)]` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldShape {
    /// The field's name; `0`, `1`, ... in a tuple struct.
    pub name: &'static str,
    /// Its type as written.
    pub ty: &'static str,
    /// The contents of its `#[serde(...)]` attributes, `""` when none.
    pub serde: &'static str,
}

impl EventRegistration {
    /// Used by `#[derive(Event)]`.
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        version: u32,
        upcasts_from: &'static [u32],
        type_name: &'static str,
        serde: &'static str,
        fields: &'static [FieldShape],
    ) -> Self {
        EventRegistration { name, version, upcasts_from, type_name, serde, fields, upcast_steps: &[] }
    }

    /// Used by `#[derive(Event)]`: the steps of the upcaster chain.
    #[doc(hidden)]
    pub const fn __upcast_steps(mut self, steps: &'static [UpcastStep]) -> Self {
        self.upcast_steps = steps;
        self
    }

    /// The stored name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The current schema version.
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// The versions its upcasters start from, ascending (`[1, 2]` for an
    /// event at version 3).
    pub fn upcasts_from(&self) -> &'static [u32] {
        self.upcasts_from
    }

    /// The Rust type, with its module path (`bank::events::Deposited`).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The contents of the type's own `#[serde(...)]` attributes
    /// (`rename_all = "camelCase"`), `""` when none.
    pub fn serde(&self) -> &'static str {
        self.serde
    }

    /// The fields of the current version's payload type, in declaration
    /// order.
    pub fn fields(&self) -> &'static [FieldShape] {
        self.fields
    }

    /// The upcaster chain one step at a time, ascending: running each step
    /// from a payload's stored version on gives the payload the event
    /// deserializes, as decoding does in one go.
    pub fn upcast_steps(&self) -> &'static [UpcastStep] {
        self.upcast_steps
    }

    /// The names of the aggregates whose event type includes this event.
    pub fn aggregates(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = aggregates().filter(|a| a.event_names.contains(&self.name)).map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl fmt::Debug for EventRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRegistration")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("upcasts_from", &self.upcasts_from)
            .field("type_name", &self.type_name)
            .field("serde", &self.serde)
            .field("fields", &self.fields)
            .field("upcast_steps", &self.upcast_steps)
            .finish()
    }
}

/// One step of an event's upcaster chain: the payload of schema version
/// [`from`](Self::from) turned into the next version's.
pub struct UpcastStep {
    from: u32,
    name: &'static str,
    run: fn(Value) -> Result<Value, DecodeError>,
}

impl UpcastStep {
    /// Used by `#[derive(Event)]`.
    #[doc(hidden)]
    pub const fn __new(from: u32, name: &'static str, run: fn(Value) -> Result<Value, DecodeError>) -> Self {
        UpcastStep { from, name, run }
    }

    /// The schema version the step reads.
    pub fn from(&self) -> u32 {
        self.from
    }

    /// The upcaster as written in `#[upcast(.., with = ...)]`, with the old
    /// shape for a typed step (`DepositedV1 -> dollars_to_cents`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the step on a payload of version [`from`](Self::from).
    pub fn run(&self, payload: Value) -> Result<Value, DecodeError> {
        (self.run)(payload)
    }
}

impl fmt::Debug for UpcastStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpcastStep").field("from", &self.from).field("name", &self.name).finish()
    }
}

/// One aggregate type, as `#[derive(Aggregate)]` registers it.
pub struct AggregateRegistration {
    name: &'static str,
    type_name: &'static str,
    event_names: &'static [&'static str],
}

impl AggregateRegistration {
    /// Used by `#[derive(Aggregate)]`.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, type_name: &'static str, event_names: &'static [&'static str]) -> Self {
        AggregateRegistration { name, type_name, event_names }
    }

    /// The aggregate type name stored beside its events.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust type, with its module path.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The names of its events.
    pub fn event_names(&self) -> &'static [&'static str] {
        self.event_names
    }
}

impl fmt::Debug for AggregateRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateRegistration")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("event_names", &self.event_names)
            .finish()
    }
}

inventory::collect!(EventRegistration);
inventory::collect!(AggregateRegistration);

/// Every registered event type, by name then type.
pub fn events() -> impl Iterator<Item = &'static EventRegistration> {
    let mut all: Vec<_> = inventory::iter::<EventRegistration>.into_iter().collect();
    all.sort_unstable_by_key(|e| (e.name, e.type_name));
    all.into_iter()
}

/// Every registered aggregate type, by name then type.
pub fn aggregates() -> impl Iterator<Item = &'static AggregateRegistration> {
    let mut all: Vec<_> = inventory::iter::<AggregateRegistration>.into_iter().collect();
    all.sort_unstable_by_key(|a| (a.name, a.type_name));
    all.into_iter()
}

/// The event type registered under `name`, if exactly one is.
pub fn event(name: &str) -> Option<&'static EventRegistration> {
    let mut found = events().filter(|e| e.name == name);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Whether some event type of the program is stored under `name`.
pub fn is_registered(name: &str) -> bool {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| inventory::iter::<EventRegistration>.into_iter().map(|e| e.name).collect()).contains(name)
}

/// Why the registered types cannot live in one program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two event types are stored under one name.
    #[error(
        "event name `{name}` is used by two event types, `{first}` and `{second}`: \
         give one of them another `#[event(name = \"...\")]`"
    )]
    DuplicateEventName {
        /// The shared name.
        name: &'static str,
        /// One type using it.
        first: &'static str,
        /// The other type using it.
        second: &'static str,
    },
    /// Two aggregate types are stored under one type name.
    #[error(
        "aggregate type name `{name}` is used by two aggregates, `{first}` and `{second}`: \
         give one of them another `#[aggregate(name = \"...\")]`"
    )]
    DuplicateAggregateName {
        /// The shared name.
        name: &'static str,
        /// One type using it.
        first: &'static str,
        /// The other type using it.
        second: &'static str,
    },
}

/// Checks that no two event types, and no two aggregates, share a stored
/// name. Call it once at start-up; the first clash (in name order) is
/// returned.
pub fn validate() -> Result<(), RegistryError> {
    if let Some((name, first, second)) = first_clash(events().map(|e| (e.name, e.type_name))) {
        return Err(RegistryError::DuplicateEventName { name, first, second });
    }
    if let Some((name, first, second)) = first_clash(aggregates().map(|a| (a.name, a.type_name))) {
        return Err(RegistryError::DuplicateAggregateName { name, first, second });
    }
    Ok(())
}

/// The first name (in order) held by two different types.
fn first_clash(
    entries: impl Iterator<Item = (&'static str, &'static str)>,
) -> Option<(&'static str, &'static str, &'static str)> {
    let mut seen: BTreeMap<&'static str, &'static str> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (name, type_name) in entries {
        match seen.get(name) {
            Some(&first) if first != type_name => clashes.push((name, first, type_name)),
            Some(_) => {}
            None => {
                seen.insert(name, type_name);
            }
        }
    }
    clashes.into_iter().min()
}

#[cfg(test)]
mod tests {
    use super::first_clash;

    #[test]
    fn a_clash_names_both_types() {
        let entries = [("Opened", "a::Opened"), ("Closed", "a::Closed"), ("Opened", "b::Opened")];
        assert_eq!(first_clash(entries.into_iter()), Some(("Opened", "a::Opened", "b::Opened")));
    }

    #[test]
    fn one_type_registered_twice_is_no_clash() {
        let entries = [("Opened", "a::Opened"), ("Opened", "a::Opened")];
        assert_eq!(first_clash(entries.into_iter()), None);
    }
}
