use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 0)]
struct Deposited {
    cents: i64,
}

fn main() {}
