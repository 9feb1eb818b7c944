use es_core::{Aggregate, Apply, Event, StateFingerprint};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct Moved {
    city: String,
}

#[derive(StateFingerprint, Serialize, Deserialize, Default)]
struct Street(String);

#[derive(StateFingerprint, Serialize, Deserialize, Default)]
#[fingerprint(nested(Street))]
struct Address {
    street: Street,
    city: String,
}

#[derive(StateFingerprint, Serialize, Deserialize, Default)]
#[serde(tag = "kind")]
enum Tier {
    #[default]
    Basic,
    Gold { since: u64 },
}

#[derive(StateFingerprint)]
struct Tagged<T> {
    value: T,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(event = Moved, snapshot_every = 5, nested(Address, Tier))]
struct Customer {
    address: Address,
    tier: Tier,
}

impl Apply<Moved> for Customer {
    fn apply(&mut self, e: &Moved) {
        self.address.city = e.city.clone();
    }
}

fn main() {
    assert_ne!(Address::FINGERPRINT, Street::FINGERPRINT);
    assert_eq!(Tagged::<u8>::FINGERPRINT, Tagged::<String>::FINGERPRINT);
    assert_ne!(Customer::SNAPSHOT_FINGERPRINT, 0);
    let _ = Tagged { value: 1 }.value;
}
