use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Moved;

#[derive(Serialize, Deserialize, Default)]
struct Address {
    city: String,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Moved, nested(Address))]
struct Customer {
    address: Address,
}

impl Apply<Moved> for Customer {
    fn apply(&mut self, _: &Moved) {}
}

fn main() {}
