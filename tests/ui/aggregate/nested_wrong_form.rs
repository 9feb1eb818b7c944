use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Moved;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Moved, nested = Address)]
struct Customer;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Moved, nested())]
struct Supplier;

impl Apply<Moved> for Customer {
    fn apply(&mut self, _: &Moved) {}
}

impl Apply<Moved> for Supplier {
    fn apply(&mut self, _: &Moved) {}
}

fn main() {}
