use es_core::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 1, with = deposited_v1)]
#[upcast(from = 2, with = deposited_v2)]
struct Deposited {
    cents: i64,
}

// Version 1 events can still be read, but forgot to raise the version: there
// is no older version to upcast from.
#[derive(Event, Serialize, Deserialize)]
#[upcast(from = 1, with = deposited_v1)]
struct Withdrew {
    cents: i64,
}

fn deposited_v1(payload: Value) -> Value {
    payload
}

fn deposited_v2(payload: Value) -> Value {
    payload
}

fn main() {}
