use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = Opened, snapshot_every = 100, snapshot_schema_version = 0)]
struct Account {
    open: bool,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}

fn main() {}
