use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Incremented;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "counter", event = Incremented)]
struct Counter {
    value: u64,
}

fn main() {}
