use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Opened, snapshot_evry = 10, snapshot_schema_verison = 2, nestd(Opened))]
struct Account;

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {}
}

fn main() {}
