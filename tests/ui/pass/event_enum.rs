// An event enum encodes as its variant, decodes by name and converts from
// each event struct.
use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "MoneyDeposited", version = 2)]
#[upcast(from = 1, with = deposited_v1)]
struct Deposited {
    cents: i64,
}

fn deposited_v1(payload: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "cents": payload["dollars"].as_i64().unwrap_or_default() * 100 })
}

#[derive(Event, Debug, PartialEq)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

fn main() {
    let event: AccountEvent = Deposited { cents: 5 }.into();
    assert_eq!((event.event_name(), event.schema_version()), ("MoneyDeposited", 2));
    let encoded = event.encode().unwrap();
    assert_eq!(AccountEvent::decode(&encoded.name, encoded.schema_version, &encoded.payload).unwrap(), event);
    let old = AccountEvent::decode("MoneyDeposited", 1, &serde_json::json!({ "dollars": 3 }).into()).unwrap();
    assert_eq!(old, AccountEvent::Deposited(Deposited { cents: 300 }));
    assert_eq!(AccountEvent::from(Opened).event_name(), "Opened");
}
