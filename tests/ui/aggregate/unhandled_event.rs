use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Opened;

#[derive(Event, Serialize, Deserialize)]
struct Deposited {
    cents: i64,
}

#[derive(Event)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = AccountEvent)]
struct Account {
    open: bool,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}

fn main() {}
