use es_core::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3)]
#[upcast(from = 1)]
#[upcast(with = deposited_v2)]
struct Deposited {
    cents: i64,
}

fn deposited_v2(payload: Value) -> Value {
    payload
}

fn main() {}
