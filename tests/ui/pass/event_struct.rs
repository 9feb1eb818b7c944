// Names and versions default to the type name and 1; both can be set.
use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct Opened {
    owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "account.closed")]
#[event(version = 1)]
struct Closed;

fn main() {
    let opened = Opened { owner: "ada".into() };
    assert_eq!((opened.event_name(), opened.schema_version()), ("Opened", 1));
    assert_eq!(Closed.event_name(), "account.closed");
    let encoded = Closed.encode().unwrap();
    assert_eq!(Closed::decode(&encoded.name, encoded.schema_version, &encoded.payload).unwrap(), Closed);
}
