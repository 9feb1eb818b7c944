use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 4)]
struct Deposited {
    cents: i64,
}

fn main() {}
