use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Serialize, Deserialize)]
struct Deposited {
    cents: i64,
}

#[derive(Event)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

fn main() {}
