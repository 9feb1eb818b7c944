use es_core::Event;
use serde::{Deserialize, Serialize};

// Every mistake of the item is reported in one build.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "", version = 4, colour = "blue")]
#[upcast(from = 1, with = deposited_v1)]
#[upcast(from = 1, with = deposited_v1)]
#[upcast(from = 4, with = deposited_v1)]
struct Deposited {
    cents: i64,
}

fn deposited_v1(payload: serde_json::Value) -> serde_json::Value {
    payload
}

fn main() {}
