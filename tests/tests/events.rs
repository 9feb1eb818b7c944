//! What the derives generate, at run time: encoding, decoding through the
//! upcaster chain, typed decode errors, apply dispatch and registration.

use es_core::registry::{self, RegistryError};
use es_core::{
    Aggregate, Apply, DecodeError, EncodedEvent, Error, Event, EventStore, ExpectedVersion, InMemoryEventStore,
    Metadata, Repository,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Version 1 stored whole dollars.
#[derive(Deserialize)]
struct DepositedV1 {
    dollars: i64,
}

/// Version 2 stored cents.
#[derive(Serialize)]
struct DepositedV2 {
    cents: i64,
}

/// Version 3 renamed `cents` to `amount_cents` and added a memo.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "events.Deposited", version = 3)]
#[upcast(from = 1, via = DepositedV1, with = dollars_to_cents)]
#[upcast(from = 2, with = rename_cents)]
struct Deposited {
    amount_cents: i64,
    memo: String,
}

fn dollars_to_cents(v1: DepositedV1) -> DepositedV2 {
    DepositedV2 { cents: v1.dollars * 100 }
}

fn rename_cents(v2: Value) -> Result<Value, serde_json::Error> {
    let cents = v2["cents"].as_i64().ok_or_else(|| serde::de::Error::custom("`cents` must be an integer"))?;
    Ok(json!({ "amount_cents": cents, "memo": "" }))
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "events.Opened")]
struct Opened {
    owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "events.Closed")]
struct Closed;

#[derive(Event, Debug, Clone, PartialEq)]
enum LedgerEvent {
    Opened(Opened),
    Deposited(Deposited),
    Closed(Closed),
}

#[derive(Aggregate, Default, Serialize, Deserialize, Debug, PartialEq)]
#[aggregate(name = "events.ledger", event = LedgerEvent, snapshot_every = 10, snapshot_schema_version = 2)]
struct Ledger {
    owner: Option<String>,
    cents: i64,
    closed: bool,
}

impl Apply<Opened> for Ledger {
    fn apply(&mut self, event: &Opened) {
        self.owner = Some(event.owner.clone());
    }
}

impl Apply<Deposited> for Ledger {
    fn apply(&mut self, event: &Deposited) {
        self.cents += event.amount_cents;
    }
}

impl Apply<Closed> for Ledger {
    fn apply(&mut self, _: &Closed) {
        self.closed = true;
    }
}

fn deposited(amount_cents: i64) -> Deposited {
    Deposited { amount_cents, memo: String::new() }
}

#[test]
fn v1_and_v2_payloads_decode_to_the_upcast_value() {
    let v1 = Deposited::decode("events.Deposited", 1, &json!({ "dollars": 12 }).into()).unwrap();
    let v2 = Deposited::decode("events.Deposited", 2, &json!({ "cents": 1200 }).into()).unwrap();
    assert_eq!(v1, deposited(1200));
    assert_eq!(v2, deposited(1200));
    let v3 = Deposited::decode("events.Deposited", 3, &json!({ "amount_cents": 5, "memo": "rent" }).into()).unwrap();
    assert_eq!(v3, Deposited { amount_cents: 5, memo: "rent".into() });
}

#[test]
fn the_enum_decodes_old_versions_through_the_variant_chain() {
    let event = LedgerEvent::decode("events.Deposited", 1, &json!({ "dollars": 3 }).into()).unwrap();
    assert_eq!(event, LedgerEvent::Deposited(deposited(300)));
}

#[test]
fn encode_writes_the_current_version_and_decode_reads_it_back() {
    let events: Vec<LedgerEvent> = vec![Opened { owner: "ada".into() }.into(), deposited(250).into(), Closed.into()];
    let expected = [("events.Opened", 1), ("events.Deposited", 3), ("events.Closed", 1)];
    for (event, (name, version)) in events.iter().zip(expected) {
        let encoded = event.encode().unwrap();
        assert_eq!((encoded.name.as_str(), encoded.schema_version), (name, version));
        assert_eq!((event.event_name(), event.schema_version()), (name, version));
        assert_eq!(&LedgerEvent::decode(&encoded.name, encoded.schema_version, &encoded.payload).unwrap(), event);
    }
    assert_eq!(deposited(7).encode().unwrap().payload, json!({ "amount_cents": 7, "memo": "" }));
}

#[test]
fn an_unknown_name_is_a_typed_error() {
    let err = LedgerEvent::decode("events.Renamed", 1, &json!({}).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::UnknownEvent { name } if name == "events.Renamed"), "{err:?}");
    let err = Deposited::decode("events.Opened", 1, &json!({ "owner": "ada" }).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::UnknownEvent { name } if name == "events.Opened"), "{err:?}");
}

#[test]
fn version_zero_and_versions_from_the_future_are_typed_errors() {
    for version in [0, 4, u32::MAX] {
        let err = LedgerEvent::decode("events.Deposited", version, &json!({ "amount_cents": 1 }).into()).unwrap_err();
        match err {
            DecodeError::UnknownVersion { name, version: v, current } => {
                assert_eq!((name.as_str(), v, current), ("events.Deposited", version, 3));
            }
            other => panic!("expected UnknownVersion for version {version}, got {other:?}"),
        }
    }
}

#[test]
fn a_failing_step_names_the_version_it_started_from() {
    // The typed step cannot read the v1 shape.
    let err = Deposited::decode("events.Deposited", 1, &json!({ "dollars": "twelve" }).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::Upcast { name, from: 1, .. } if name == "events.Deposited"), "{err:?}");
    // The JSON step refuses the v2 payload.
    let err = Deposited::decode("events.Deposited", 2, &json!({ "cents": "1200" }).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::Upcast { from: 2, .. }), "{err:?}");
    let report = es_core::ErrorReport::new(&err).to_string();
    assert!(report.contains("`cents` must be an integer"), "{report}");
}

#[test]
fn a_payload_that_does_not_match_the_type_is_a_payload_error() {
    let err = Deposited::decode("events.Deposited", 3, &json!({ "amount_cents": "x" }).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::Payload { version: 3, .. }), "{err:?}");
    // A missing field names the event and its stored version.
    let err = Opened::decode("events.Opened", 1, &json!({}).into()).unwrap_err();
    assert!(matches!(&err, DecodeError::Payload { name, version: 1, .. } if name == "events.Opened"), "{err:?}");
}

#[test]
fn the_derived_dispatch_applies_each_variant_to_its_impl() {
    let mut ledger = Ledger::default();
    for event in [LedgerEvent::from(Opened { owner: "ada".into() }), deposited(40).into(), deposited(2).into()] {
        Aggregate::apply(&mut ledger, &event);
    }
    assert_eq!(ledger, Ledger { owner: Some("ada".into()), cents: 42, closed: false });
    Aggregate::apply(&mut ledger, &Closed.into());
    assert!(ledger.closed);
    assert_eq!((Ledger::TYPE, Ledger::SNAPSHOT_EVERY, Ledger::SNAPSHOT_SCHEMA_VERSION), ("events.ledger", 10, 2));
}

async fn store_with(stream: &str, events: Vec<EncodedEvent>) -> InMemoryEventStore {
    let store = InMemoryEventStore::new();
    store.append("events.ledger", stream, ExpectedVersion::NoStream, events, &Metadata::default()).await.unwrap();
    store
}

fn raw(name: &str, schema_version: u32, payload: Value) -> EncodedEvent {
    EncodedEvent { name: name.into(), schema_version, payload: payload.into() }
}

#[tokio::test]
async fn a_stream_written_by_older_releases_loads_through_the_chain() {
    let store = store_with(
        "ledger-1",
        vec![
            raw("events.Opened", 1, json!({ "owner": "ada" })),
            raw("events.Deposited", 1, json!({ "dollars": 2 })),
            raw("events.Deposited", 2, json!({ "cents": 50 })),
            raw("events.Deposited", 3, json!({ "amount_cents": 7, "memo": "" })),
        ],
    )
    .await;
    let loaded = Repository::<Ledger, _>::new(store).load("ledger-1").await.unwrap();
    assert_eq!((loaded.version, loaded.state.cents), (4, 257));
}

#[tokio::test]
async fn an_unknown_event_in_a_stream_names_the_stream_version_and_event() {
    let store = store_with(
        "ledger-2",
        vec![raw("events.Opened", 1, json!({ "owner": "ada" })), raw("events.Frozen", 1, json!({}))],
    )
    .await;
    let err = Repository::<Ledger, _>::new(store).load("ledger-2").await.unwrap_err();
    match &err {
        Error::Decode { stream_id, version, cause: DecodeError::UnknownEvent { name } } => {
            assert_eq!((stream_id.as_str(), *version, name.as_str()), ("ledger-2", 2, "events.Frozen"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let message = es_core::ErrorReport::new(&err).to_string();
    assert!(message.contains("ledger-2") && message.contains("events.Frozen"), "{message}");
}

#[tokio::test]
async fn an_unknown_version_in_a_stream_names_the_stream_version_and_event() {
    let store = store_with("ledger-3", vec![raw("events.Deposited", 9, json!({ "amount_cents": 1 }))]).await;
    let err = Repository::<Ledger, _>::new(store).load("ledger-3").await.unwrap_err();
    match &err {
        Error::Decode {
            stream_id,
            version: 1,
            cause: DecodeError::UnknownVersion { name, version: 9, current: 3 },
        } => {
            assert_eq!((stream_id.as_str(), name.as_str()), ("ledger-3", "events.Deposited"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn every_derived_event_and_aggregate_is_registered() {
    let deposited = registry::event("events.Deposited").expect("Deposited is registered");
    assert_eq!((deposited.schema_version(), deposited.upcasts_from()), (3, &[1, 2][..]));
    assert_eq!(deposited.type_name(), "events::Deposited");
    assert_eq!(deposited.aggregates(), ["events.ledger"]);
    let fields: Vec<_> = deposited.fields().iter().map(|f| (f.name, f.ty)).collect();
    assert_eq!(fields, [("amount_cents", "i64"), ("memo", "String")]);
    let closed = registry::event("events.Closed").expect("Closed is registered");
    assert_eq!((closed.schema_version(), closed.upcasts_from()), (1, &[][..]));

    let ledger = registry::aggregates().find(|a| a.name() == "events.ledger").expect("Ledger is registered");
    assert_eq!(ledger.type_name(), "events::Ledger");
    assert_eq!(ledger.event_names(), ["events.Opened", "events.Deposited", "events.Closed"]);
}

#[test]
fn the_registered_upcast_steps_run_one_at_a_time() {
    let deposited = registry::event("events.Deposited").expect("Deposited is registered");
    let steps = deposited.upcast_steps();
    let named: Vec<_> = steps.iter().map(|s| (s.from(), s.name())).collect();
    assert_eq!(named, [(1, "DepositedV1 -> dollars_to_cents"), (2, "rename_cents")]);
    let v2 = steps[0].run(json!({ "dollars": 3 })).unwrap();
    assert_eq!(v2, json!({ "cents": 300 }));
    let v3 = steps[1].run(v2).unwrap();
    assert_eq!(serde_json::from_value::<Deposited>(v3).unwrap(), deposited_v1_decoded(3));
    assert!(matches!(steps[1].run(json!({ "cents": "x" })), Err(DecodeError::Upcast { from: 2, .. })));
    assert!(registry::event("events.Closed").unwrap().upcast_steps().is_empty());
}

/// What decoding `{"dollars": n}` at version 1 gives, in one go.
fn deposited_v1_decoded(dollars: i64) -> Deposited {
    Deposited::decode("events.Deposited", 1, &json!({ "dollars": dollars }).into()).unwrap()
}

#[test]
fn distinct_names_validate() {
    assert_eq!(registry::validate(), Ok::<(), RegistryError>(()));
}

/// The events of this suite match `events.lock` (see `es_core::shape`).
#[test]
fn event_schemas_match_the_lock() {
    es_core::shape::check_lock("events.lock").unwrap();
}
