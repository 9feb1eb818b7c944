use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Deposited")]
#[event(name = "MoneyDeposited", version = 1, version = 1)]
struct Deposited {
    cents: i64,
}

fn main() {}
