use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = Deposited, version = "2")]
struct Deposited {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = -1)]
struct Withdrew {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 4294967296)]
struct Closed;

fn main() {}
