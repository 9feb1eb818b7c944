// An aggregate over an event enum, with every key of `#[aggregate(...)]`.
use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct Deposited {
    cents: i64,
}

#[derive(Event, Debug, PartialEq)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = AccountEvent, snapshot_every = 100, snapshot_schema_version = 2)]
struct Account {
    open: bool,
    cents: i64,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.cents += event.cents;
    }
}

// The default name is the type's; the state may be an enum.
#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Opened)]
enum Door {
    #[default]
    Closed,
    Open,
}

impl Apply<Opened> for Door {
    fn apply(&mut self, _: &Opened) {
        *self = Door::Open;
    }
}

fn main() {
    let mut account = Account::default();
    for event in [AccountEvent::from(Opened), Deposited { cents: 250 }.into()] {
        Aggregate::apply(&mut account, &event);
    }
    assert!(account.open);
    assert_eq!(account.cents, 250);
    assert_eq!((Account::TYPE, Account::SNAPSHOT_EVERY, Account::SNAPSHOT_SCHEMA_VERSION), ("account", 100, 2));

    let mut door = Door::default();
    Aggregate::apply(&mut door, &Opened);
    assert!(matches!(door, Door::Open));
    assert_eq!((Door::TYPE, Door::SNAPSHOT_EVERY, Door::SNAPSHOT_SCHEMA_VERSION), ("Door", 0, 1));
}
