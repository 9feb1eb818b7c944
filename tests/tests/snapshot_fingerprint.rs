//! Snapshot fingerprints across two releases of one aggregate: the state's
//! field changes type (whole dollars → cents) while the old snapshot would
//! still decode into the new type, with the wrong meaning. The fingerprint
//! makes the second release ignore it, replay, and write a new one.

use es_core::{Aggregate, Apply, Event, EventStore, InMemoryEventStore, Repository, StateFingerprint};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "fingerprint.Deposited")]
pub struct Deposited {
    pub cents: i64,
}

/// The first release: the balance in whole dollars.
mod release_1 {
    use super::*;

    #[derive(Aggregate, Default, Serialize, Deserialize, Debug, PartialEq)]
    #[aggregate(name = "fingerprint.account", event = Deposited, snapshot_every = 2)]
    pub struct Account {
        pub balance: i32,
    }

    impl Apply<Deposited> for Account {
        fn apply(&mut self, e: &Deposited) {
            self.balance += (e.cents / 100) as i32;
        }
    }
}

/// The second release: the balance in cents, a wider type.
mod release_2 {
    use super::*;

    #[derive(Aggregate, Default, Serialize, Deserialize, Debug, PartialEq)]
    #[aggregate(name = "fingerprint.account", event = Deposited, snapshot_every = 2)]
    pub struct Account {
        pub balance: i64,
    }

    impl Apply<Deposited> for Account {
        fn apply(&mut self, e: &Deposited) {
            self.balance += e.cents;
        }
    }
}

#[tokio::test]
async fn a_snapshot_of_another_state_definition_is_ignored_and_replaced() {
    assert_ne!(release_1::Account::SNAPSHOT_FINGERPRINT, release_2::Account::SNAPSHOT_FINGERPRINT);
    let store = InMemoryEventStore::new();
    let old = Repository::<release_1::Account, _>::new(&store);
    for cents in [300, 500] {
        old.execute("a", |_| Ok::<_, std::convert::Infallible>(vec![Deposited { cents }])).await.unwrap();
    }
    let written = stored_snapshot(&store, "a").await;
    assert_eq!((written.version, written.fingerprint), (2, release_1::Account::SNAPSHOT_FINGERPRINT));
    assert_eq!(written.state, serde_json::json!({ "balance": 8 }), "dollars, which also decode as cents");

    let new = Repository::<release_2::Account, _>::new(&store);
    let loaded = new.load("a").await.unwrap();
    assert_eq!(loaded.snapshot_at, None, "the old snapshot was not used");
    let replayed = replay(&store).await;
    assert_eq!(loaded.state, replayed);
    assert_eq!(loaded.state.balance, 800);

    let replaced = stored_snapshot(&store, "a").await;
    assert_eq!(replaced.fingerprint, release_2::Account::SNAPSHOT_FINGERPRINT);
    assert_eq!(replaced.state, serde_json::json!({ "balance": 800 }));
    assert_eq!(new.load("a").await.unwrap().snapshot_at, Some(2), "the new snapshot is used");
}

/// A nested type listed in `nested(...)` carries its definition into the
/// aggregate's fingerprint: the wallets below are written alike, only
/// `Money` differs.
#[test]
fn nested_types_join_the_fingerprint() {
    macro_rules! release {
        ($release:ident, $money:item) => {
            mod $release {
                use super::*;

                #[derive(StateFingerprint, Serialize, Deserialize, Default)]
                $money

                #[derive(Aggregate, Default, Serialize, Deserialize)]
                #[aggregate(name = "fingerprint.wallet", event = Deposited, nested(Money))]
                pub struct Wallet {
                    money: Money,
                }

                impl Apply<Deposited> for Wallet {
                    fn apply(&mut self, e: &Deposited) {
                        self.money.amount += e.cents as i32;
                    }
                }
            }
        };
    }
    release!(
        before,
        pub struct Money {
            amount: i32,
        }
    );
    release!(
        after,
        pub struct Money {
            #[serde(rename = "cents")]
            amount: i32,
        }
    );
    assert_ne!(before::Money::FINGERPRINT, after::Money::FINGERPRINT);
    assert_ne!(before::Wallet::SNAPSHOT_FINGERPRINT, after::Wallet::SNAPSHOT_FINGERPRINT);
}

async fn replay(store: &InMemoryEventStore) -> release_2::Account {
    let mut state = release_2::Account::default();
    for (_, e) in store.read_stream_events(release_2::Account::TYPE, "a", es_core::StreamRange::all()).await.unwrap() {
        Aggregate::apply(&mut state, &Deposited::decode(&e.name, e.schema_version, &e.payload).unwrap());
    }
    state
}

async fn stored_snapshot(store: &InMemoryEventStore, id: &str) -> es_core::Snapshot {
    store.load_snapshot(id).await.unwrap().expect("a snapshot is stored")
}
