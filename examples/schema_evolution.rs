//! Reading events that older releases wrote, with code at version 3.
//!
//! The story of one event, `Deposited`:
//!
//! - release 1 stored whole dollars: `{"dollars": 12}`;
//! - release 2 stored cents: `{"cents": 1200}`;
//! - release 3 (this code) renamed it `amount_cents` and added a `memo`.
//!
//! Stored events are never rewritten. Instead each change declares one
//! upcaster step, and reading an old event runs the steps from its stored
//! version up to the current one, then deserializes:
//!
//! - `#[upcast(from = 1, via = DepositedV1, with = ...)]` is a *typed* step:
//!   the v1 payload is deserialized into the struct release 1 had, and a
//!   plain Rust function turns it into the v2 shape. Best for real changes
//!   (units, splitting fields).
//! - `#[upcast(from = 2, with = ...)]` is a *JSON* step on
//!   `serde_json::Value`. Best for renames and defaults.
//!
//! ```text
//! cargo run -p es-examples --example schema_evolution
//! ```

use std::error::Error;

use es_core::{
    Aggregate, Apply, DecodeError, EncodedEvent, Event, EventStore, ExpectedVersion, InMemoryEventStore, Metadata,
    Repository, StreamRange, registry,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The payload of `Deposited` as release 1 wrote it.
#[derive(Deserialize)]
struct DepositedV1 {
    dollars: i64,
}

/// The payload of `Deposited` as release 2 wrote it.
#[derive(Serialize)]
struct DepositedV2 {
    cents: i64,
}

/// Money was paid in. Version 3: cents, under a clearer name, with a memo.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Deposited", version = 3)]
#[upcast(from = 1, via = DepositedV1, with = dollars_to_cents)]
#[upcast(from = 2, with = rename_cents_add_memo)]
struct Deposited {
    amount_cents: i64,
    memo: String,
}

/// Typed step 1 → 2: dollars became cents.
fn dollars_to_cents(v1: DepositedV1) -> DepositedV2 {
    DepositedV2 { cents: v1.dollars * 100 }
}

/// JSON step 2 → 3: `cents` became `amount_cents`, and old deposits get an
/// empty memo. It refuses a payload without cents instead of inventing one.
fn rename_cents_add_memo(mut v2: Value) -> Result<Value, serde_json::Error> {
    let cents = v2.get_mut("cents").map(Value::take).filter(Value::is_i64);
    let cents = cents.ok_or_else(|| serde::de::Error::custom("`cents` is missing or not an integer"))?;
    Ok(json!({ "amount_cents": cents, "memo": "" }))
}

/// The account was opened; unchanged since release 1.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Opened {
    owner: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
#[aggregate(name = "account", event = AccountEvent)]
struct Account {
    owner: String,
    balance_cents: i64,
    deposits: u32,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, event: &Opened) {
        self.owner = event.owner.clone();
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.balance_cents += event.amount_cents;
        self.deposits += 1;
    }
}

/// An event exactly as a store holds it.
fn stored(name: &str, schema_version: u32, payload: Value) -> EncodedEvent {
    EncodedEvent { name: name.to_owned(), schema_version, payload: payload.into() }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // At start-up: no two event types of the program share a stored name.
    registry::validate()?;
    for event in registry::events() {
        println!(
            "registered event `{}` at version {} (upcasters from {:?}) as {}",
            event.name(),
            event.schema_version(),
            event.upcasts_from(),
            event.type_name()
        );
    }

    // What releases 1 and 2 appended, before this code existed.
    let store = InMemoryEventStore::new();
    let history = vec![
        stored("Opened", 1, json!({ "owner": "ada" })),
        stored("Deposited", 1, json!({ "dollars": 12 })),
        stored("Deposited", 2, json!({ "cents": 350 })),
    ];
    store.append(Account::TYPE, "acc-1", ExpectedVersion::NoStream, history, &Metadata::default()).await?;

    println!("\nstored in stream acc-1:");
    for recorded in store.read_stream("acc-1", StreamRange::all()).await? {
        let e = &recorded.event;
        println!("  #{} {} v{}: {}", recorded.version, e.name, e.schema_version, e.payload);
        let decoded = AccountEvent::decode(&e.name, e.schema_version, &e.payload)?;
        println!("      read by release 3 as {decoded:?}");
    }

    // Release 3 loads the aggregate through the chain, and appends at v3.
    let accounts = Repository::<Account, _>::new(store);
    let loaded = accounts.load("acc-1").await?;
    println!("\nloaded at version {}: {:?}", loaded.version, loaded.state);
    assert_eq!(loaded.state.balance_cents, 1200 + 350);

    let deposit = Deposited { amount_cents: 25, memo: "coffee refund".into() };
    let committed =
        accounts.execute("acc-1", |_| Ok::<_, std::convert::Infallible>(vec![deposit.clone().into()])).await?;
    let newest = accounts.store().read_stream("acc-1", StreamRange::after(3)).await?;
    println!(
        "release 3 appended {} v{}: {}",
        newest[0].event.name, newest[0].event.schema_version, newest[0].event.payload
    );
    println!("balance now {} cents after {} deposits", committed.state.balance_cents, committed.state.deposits);

    // What cannot be read is a typed error, never a panic.
    println!("\nwhat release 3 refuses:");
    let refused = [
        stored("Deposited", 4, json!({ "amount_cents": 1, "memo": "", "currency": "EUR" })),
        stored("Deposited", 2, json!({ "cents": "twelve" })),
        stored("Withdrew", 1, json!({ "cents": 5 })),
    ];
    for event in refused {
        let err = AccountEvent::decode(&event.name, event.schema_version, &event.payload)
            .expect_err("release 3 cannot read this event");
        let kind = match &err {
            DecodeError::UnknownVersion { .. } => "unknown version",
            DecodeError::Upcast { .. } => "upcast failed",
            DecodeError::UnknownEvent { .. } => "unknown event",
            _ => "other",
        };
        println!(
            "  {} v{} {} -> {kind}: {}",
            event.name,
            event.schema_version,
            event.payload,
            es_core::ErrorReport::new(&err)
        );
    }
    Ok(())
}
