//! The other crate defining an event stored as `dup.Pinged` (see
//! `es-tests-dup-a`).

use es_core::Event;
use serde::{Deserialize, Serialize};

/// A different fact that, by mistake, took the same stored name.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "dup.Pinged", version = 2)]
#[upcast(from = 1, with = at_v1)]
pub struct Pinged {
    /// When it happened, in seconds.
    pub at: u64,
}

fn at_v1(payload: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "at": payload["time"] })
}
