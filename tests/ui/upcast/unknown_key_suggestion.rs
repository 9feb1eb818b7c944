use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(form = 1, wiht = deposited_v1)]
struct Deposited {
    cents: i64,
}

fn deposited_v1(payload: serde_json::Value) -> serde_json::Value {
    payload
}

fn main() {}
