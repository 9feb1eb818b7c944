use es_core::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3)]
#[upcast(from = "1", with = "deposited_v1")]
#[upcast(from = 2, with = deposited_v2, via = "DepositedV2", colour = blue)]
struct Deposited {
    cents: i64,
}

fn deposited_v2(payload: Value) -> Value {
    payload
}

fn main() {}
