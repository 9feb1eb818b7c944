use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Deposited")]
struct Deposited {
    cents: i64,
}

// A later release renamed the type but kept the stored name by mistake.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "Deposited")]
struct Credited {
    cents: i64,
}

#[derive(Event)]
enum AccountEvent {
    Deposited(Deposited),
    Credited(Credited),
}

fn main() {}
