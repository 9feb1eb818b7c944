use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened {
    #[event(name = "owner")]
    owner: String,
}

#[derive(Event)]
#[event(version = 2)]
enum AccountEvent {
    #[event(name = "AccountOpened")]
    Opened(Opened),
}

fn main() {}
