use es_core::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 1, with = deposited_v1)]
struct Deposited {
    cents: i64,
}

fn deposited_v1(payload: Value) -> String {
    payload.to_string()
}

fn main() {}
