use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Deposited {
    cents: i64,
}

#[derive(Event)]
enum AccountEvent {
    Deposited(Deposited),
    Credited(Deposited),
}

fn main() {}
