//! Payloads: an event's or a state's serialized form, JSON text as stored.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::event::EncodedEvent;

/// A serialized event or state: JSON text, exactly as a store holds it.
///
/// Decoding an event stored at its current schema version deserializes
/// straight from this text into the event type; a [`Value`] tree is built
/// only when an upcaster has to run on an older payload. Two payloads are
/// equal when they hold the same JSON value, whatever the key order or
/// spacing of their text (a store may normalize both).
///
/// ```
/// use es_core::Payload;
/// use serde_json::json;
///
/// let payload = Payload::serialize(&json!({ "amount": 5 })).unwrap();
/// assert_eq!(payload.as_str(), r#"{"amount":5}"#);
/// let amount: serde_json::Value = payload.deserialize().unwrap();
/// assert_eq!(amount["amount"], 5);
/// assert_eq!(payload, Payload::from_json(r#"{ "amount": 5 }"#.to_owned()));
/// ```
#[derive(Clone)]
pub struct Payload(String);

/// JSON `null`.
impl Default for Payload {
    fn default() -> Self {
        Payload("null".to_owned())
    }
}

impl Payload {
    /// Serializes `value` as JSON.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Payload)
    }

    /// Holds `json`, JSON text read from a store, without parsing it: text
    /// that is not JSON fails when it is deserialized.
    pub fn from_json(json: String) -> Self {
        Payload(json)
    }

    /// Deserializes the payload into `T`, straight from its text.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The payload as a JSON value tree, for code that inspects or rewrites
    /// it (upcasters, tools).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.deserialize()
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload(value.to_string())
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Self {
        Payload(value.to_string())
    }
}

/// Equal JSON values: the same text, or text that parses to equal values.
impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
            || match (self.to_value(), other.to_value()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

/// Serializes the JSON value the payload holds (its text parsed), so that a
/// payload inside a serialized document stays JSON, not a string.
impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

/// Shows the JSON text as it is.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The JSON text.
impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses `payload` unless it is JSON that every store holds as it is:
/// text that parses as JSON, with no NUL character and no unpaired
/// surrogate in its strings (PostgreSQL's `jsonb` refuses both, so every
/// store does, and a payload accepted by one store is accepted by all).
/// `what` names the payload in the error.
pub fn check_payload(payload: &Payload, what: &str) -> Result<(), StoreError> {
    let invalid = |problem: String| Err(StoreError::InvalidInput { reason: format!("{what} {problem}") });
    if let Err(error) = payload.deserialize::<serde::de::IgnoredAny>() {
        return invalid(format!("is not JSON: {error}"));
    }
    match unstorable_escape(payload.as_str()) {
        Some(Unstorable::Nul) => {
            invalid("holds \\u0000 in a string, which stores of JSON such as PostgreSQL refuse".to_owned())
        }
        Some(Unstorable::Surrogate(code)) => invalid(format!(
            "holds the unpaired surrogate \\u{code:04x} in a string, which stores of JSON such as PostgreSQL refuse"
        )),
        None => Ok(()),
    }
}

/// The largest event payload a store takes by default, in bytes: 960 KiB,
/// which every store holds and which the JetStream publisher can send
/// within NATS's default message size of 1 MiB, leaving 64 KiB for the
/// headers it adds (stream, version, position, correlation). Stores let it
/// be changed (`max_event_size` on their builders).
pub const DEFAULT_MAX_EVENT_SIZE: usize = 1024 * 1024 - 64 * 1024;

/// Refuses `event` of stream `stream_id` unless its payload is JSON every
/// store holds ([`check_payload`]) of at most `limit` bytes; warns of one
/// over half the limit.
pub fn check_event(event: &EncodedEvent, stream_id: &str, limit: usize) -> Result<(), StoreError> {
    let size = event.payload.as_str().len();
    if size > limit {
        let (stream_id, event) = (stream_id.to_owned(), event.name.clone());
        return Err(StoreError::EventTooLarge { stream_id, event, size, limit });
    }
    if size > limit / 2 {
        tracing::warn!(stream = stream_id, event = %event.name, size, limit, "an event is over half the store's size limit");
    }
    check_payload(&event.payload, "an event's payload")
}

/// An escape in JSON text that no store can hold.
#[derive(Debug, PartialEq, Eq)]
enum Unstorable {
    Nul,
    Surrogate(u32),
}

/// The first escape of JSON `text` (already known to parse) that writes a
/// NUL or a surrogate not paired as UTF-16 pairs them. Outside its strings
/// JSON has no backslash, and each escape inside one is `\x` or `\uXXXX`,
/// so the escapes can be walked in order.
fn unstorable_escape(text: &str) -> Option<Unstorable> {
    let bytes = text.as_bytes();
    let hex =
        |at: usize| std::str::from_utf8(bytes.get(at..at + 4)?).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
    let (mut at, mut pending_high) = (0, None);
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            if let Some(high) = pending_high.take() {
                return Some(Unstorable::Surrogate(high));
            }
            at += 1;
            continue;
        }
        let code = (bytes.get(at + 1) == Some(&b'u')).then(|| hex(at + 2)).flatten();
        at += if code.is_some() { 6 } else { 2 };
        match (code, pending_high.take()) {
            (Some(0), _) => return Some(Unstorable::Nul),
            (Some(low @ 0xdc00..=0xdfff), None) => return Some(Unstorable::Surrogate(low)),
            (Some(0xdc00..=0xdfff), Some(_)) => {}
            (_, Some(high)) => return Some(Unstorable::Surrogate(high)),
            (Some(high @ 0xd800..=0xdbff), None) => pending_high = Some(high),
            _ => {}
        }
    }
    pending_high.map(Unstorable::Surrogate)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_is_an_escape_that_is_not_an_escaped_backslash() {
        assert_eq!(unstorable_escape(r#"{"a":"x\u0000"}"#), Some(Unstorable::Nul));
        assert_eq!(unstorable_escape(r#"{"a":"\\\u0000"}"#), Some(Unstorable::Nul), "an escaped backslash, then a NUL");
        assert_eq!(unstorable_escape(r#"{"a":"\\u0000"}"#), None, "an escaped backslash, then the text u0000");
        assert_eq!(unstorable_escape(r#"{"a":"u0000"}"#), None);
    }

    #[test]
    fn surrogates_must_come_in_pairs() {
        assert_eq!(unstorable_escape(r#"["\ud83d\ude00"]"#), None, "a pair writes one character");
        assert_eq!(unstorable_escape(r#"["\ud83d"]"#), Some(Unstorable::Surrogate(0xd83d)));
        assert_eq!(unstorable_escape(r#"["\ud83dx"]"#), Some(Unstorable::Surrogate(0xd83d)));
        assert_eq!(unstorable_escape(r#"["\ud83d\n"]"#), Some(Unstorable::Surrogate(0xd83d)));
        assert_eq!(unstorable_escape(r#"["\ude00"]"#), Some(Unstorable::Surrogate(0xde00)));
        assert_eq!(unstorable_escape(r#"["\ud83d\ud83d"]"#), Some(Unstorable::Surrogate(0xd83d)));
        assert!(check_payload(&Payload::from_json(r#"{"a":"\udfff"}"#.to_owned()), "a payload").is_err());
    }

    #[test]
    fn payloads_are_equal_when_their_values_are() {
        let compact = Payload::serialize(&json!({ "a": 1, "b": [true, null] })).unwrap();
        let normalized = Payload::from_json(r#"{"b": [true, null], "a": 1}"#.to_owned());
        assert_eq!(compact, normalized);
        assert_eq!(compact, json!({ "b": [true, null], "a": 1 }));
        assert_ne!(compact, Payload::from(json!({ "a": 2, "b": [true, null] })));
        assert_ne!(Payload::from_json("not json".to_owned()), Payload::from_json("not json either".to_owned()));
    }

    #[test]
    fn the_default_is_null() {
        assert_eq!(Payload::default().to_value().unwrap(), Value::Null);
    }

    #[test]
    fn text_that_is_not_json_fails_when_deserialized() {
        let broken = Payload::from_json("{\"a\":".to_owned());
        assert!(broken.to_value().is_err());
        assert!(broken.deserialize::<u32>().is_err());
    }
}
