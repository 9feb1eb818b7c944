use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(nmae = "Deposited", from = 1)]
struct Deposited {
    cents: i64,
}

fn main() {}
