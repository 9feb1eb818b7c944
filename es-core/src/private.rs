//! What generated code needs and users must not touch: third-party crates
//! reached through `::es_core::__private` so users depend on `es-core` alone,
//! and the hidden traits the derives implement.

pub use inventory;
pub use serde;
pub use serde_json;

use serde_json::Value;

pub use crate::fingerprint::combine as combine_fingerprints;

use crate::error::DecodeError;
use crate::event::{EncodedEvent, Event};
use crate::payload::Payload;

/// The compile-time identity of one event type (a struct deriving `Event`,
/// never an event enum). Event enums read it from their variants to decode
/// by name and to refuse two variants sharing a name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event struct",
    label = "not an event struct",
    note = "each variant of an event enum wraps one struct that derives `es_core::Event`, such as `Deposited(Deposited)`"
)]
pub trait SingleEvent: Event {
    /// The stored name.
    const NAME: &'static str;
    /// The current schema version.
    const VERSION: u32;
}

/// The names of the events an event type stands for: one for a struct, one
/// per variant for an enum. Aggregates register them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not derive `es_core::Event`",
    note = "the `event = ...` of `#[aggregate(...)]` must be a type with `#[derive(es_core::Event)]`"
)]
pub trait EventNames {
    /// The stored names, in declaration order.
    const NAMES: &'static [&'static str];
}

/// Whether two strings are equal, usable in constants.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The first pair of indices `(i, j)`, `i < j`, of two equal names, in the
/// order of `j` then `i`.
pub const fn first_shared_name(names: &[&str]) -> Option<(usize, usize)> {
    let mut j = 1;
    while j < names.len() {
        let mut i = 0;
        while i < j {
            if str_eq(names[i], names[j]) {
                return Some((i, j));
            }
            i += 1;
        }
        j += 1;
    }
    None
}

/// What a JSON upcaster may return: the new payload, or an error that
/// refuses the old one.
#[diagnostic::on_unimplemented(
    message = "a JSON upcaster must return `serde_json::Value` or `Result<serde_json::Value, serde_json::Error>`, not `{Self}`",
    note = "for a typed step, deserialize the old shape with `#[upcast(from = .., via = OldShape, with = ..)]`"
)]
pub trait UpcastOutput {
    /// The upcast payload, or why the old one was refused.
    fn into_upcast_result(self) -> Result<Value, serde_json::Error>;
}

impl UpcastOutput for Value {
    #[inline]
    fn into_upcast_result(self) -> Result<Value, serde_json::Error> {
        Ok(self)
    }
}

impl UpcastOutput for Result<Value, serde_json::Error> {
    #[inline]
    fn into_upcast_result(self) -> Result<Value, serde_json::Error> {
        self
    }
}

/// An event type with no values: the stand-in event of an aggregate whose
/// `#[aggregate(...)]` could not be read, so that one mistake reports one
/// error.
#[derive(Debug)]
pub enum NoEvent {}

impl Event for NoEvent {
    fn event_name(&self) -> &'static str {
        match *self {}
    }

    fn schema_version(&self) -> u32 {
        match *self {}
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        match *self {}
    }

    fn decode(name: &str, _schema_version: u32, _payload: &Payload) -> Result<Self, DecodeError> {
        Err(DecodeError::UnknownEvent { name: name.to_owned() })
    }
}

impl<A> crate::event::ApplyTo<A> for NoEvent {
    fn apply_to(&self, _aggregate: &mut A) {
        match *self {}
    }
}

impl EventNames for NoEvent {
    const NAMES: &'static [&'static str] = &[];
}

#[cfg(test)]
mod tests {
    use super::{first_shared_name, str_eq};

    #[test]
    fn the_first_shared_name_is_found_by_its_later_index() {
        assert_eq!(first_shared_name(&["A", "B", "C"]), None);
        assert_eq!(first_shared_name(&["A", "B", "B", "A"]), Some((1, 2)));
        assert_eq!(first_shared_name(&[]), None);
    }

    #[test]
    fn str_eq_compares_bytes() {
        assert!(str_eq("Deposited", "Deposited"));
        assert!(!str_eq("Deposited", "Deposite"));
        assert!(!str_eq("Deposited", "Withdrew!"));
        assert!(str_eq("", ""));
    }
}
