// Three derives, one mistake each, three errors: the stub impls emitted
// beside each error keep the code using the types (`.into()`, `encode`, the
// aggregate and its `Apply` impls) from adding errors of its own.
use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(verison = 2)]
struct Deposited {
    cents: i64,
}

#[derive(Event)]
enum AccountEvent {
    Deposited(Deposited),
    Closed,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = AccountEvent, snapshot_every = "10")]
struct Account {
    cents: i64,
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.cents += event.cents;
    }
}

fn main() {
    let mut account = Account::default();
    Aggregate::apply(&mut account, &Deposited { cents: 1 }.into());
    let _ = Deposited { cents: 1 }.encode();
}
