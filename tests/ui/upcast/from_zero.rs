use es_core::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 0, with = deposited_v0)]
#[upcast(from = 1, with = deposited_v0)]
struct Deposited {
    cents: i64,
}

fn deposited_v0(payload: Value) -> Value {
    payload
}

fn main() {}
