use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = Opened)]
struct Account<T> {
    owner: T,
}

fn main() {}
