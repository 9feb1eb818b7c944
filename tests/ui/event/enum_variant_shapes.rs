use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Event)]
enum AccountEvent {
    Opened(Opened),
    Closed,
    Deposited { cents: i64 },
    Moved(Opened, Opened),
}

fn main() {}
