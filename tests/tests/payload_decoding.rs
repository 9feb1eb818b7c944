//! Decoding straight from a payload's text gives exactly what decoding
//! through a `serde_json::Value` tree gives: random payloads of the
//! current and of older schema versions, stored in either store and read
//! back, decode to what the `Value` path (the upcaster steps, then
//! `serde_json::from_value`) makes of the same stored payload.

mod common;

use std::collections::BTreeMap;

use es_core::{DecodeError, EncodedEvent, Event, EventStore, ExpectedVersion, InMemoryEventStore, Metadata, registry};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Version 1: the body was `text`, and there were no tags.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct NotedV1 {
    text: String,
    amount: i64,
}

/// Version 2: `text` became `body`, tags came.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct NotedV2 {
    body: String,
    amount: i64,
    tags: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Priority {
    Low,
    High { escalated_by: Option<String> },
}

/// Version 3, the current one: more fields of every JSON kind.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "payloads.Noted", version = 3)]
#[upcast(from = 1, with = text_to_body)]
#[upcast(from = 2, via = NotedV2, with = add_details)]
struct Noted {
    body: String,
    amount: i64,
    tags: Vec<String>,
    big: u64,
    ratio: f64,
    flag: bool,
    note: Option<String>,
    counts: BTreeMap<String, i32>,
    priority: Priority,
}

fn text_to_body(mut v1: Value) -> Value {
    let text = v1.get_mut("text").map(Value::take).unwrap_or(Value::Null);
    json!({ "body": text, "amount": v1["amount"], "tags": [] })
}

fn add_details(v2: NotedV2) -> Noted {
    Noted {
        body: v2.body,
        amount: v2.amount,
        tags: v2.tags,
        big: 0,
        ratio: 0.0,
        flag: false,
        note: None,
        counts: BTreeMap::new(),
        priority: Priority::Low,
    }
}

/// What decoding gave through a `Value` tree: the payload parsed, the
/// registered upcaster steps from its version on, then `from_value`.
fn through_value(stored: &EncodedEvent) -> Result<Noted, String> {
    let mut value = stored.payload.to_value().map_err(|e| e.to_string())?;
    let steps = registry::event(&stored.name).expect("Noted is registered").upcast_steps();
    for step in steps.iter().filter(|s| s.from() >= stored.schema_version) {
        value = step.run(value).map_err(|e| e.to_string())?;
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Text of every kind a payload holds: escapes, quotes, control
/// characters, non-ASCII, emoji; but no NUL, which stores of JSON refuse
/// (`a_payload_postgres_cannot_store_is_an_error_and_writes_nothing`).
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[^\\x00]*", "[a-z\"\\\\/\u{1}-\u{1f}]{0,12}", "[é€😀\u{2028}]{0,6}"]
}

/// Current-version text no serializer of this crate writes: a key twice
/// (the last one counts), numbers in other forms (`1.0` for an integer,
/// `1e2`, `-0`).
fn handwritten() -> impl Strategy<Value = String> {
    let number = prop_oneof![Just("1.0"), Just("1e2"), Just("-0"), Just("-0.0"), Just("0.5e1"), Just("7")];
    (text(), any::<i64>(), number.clone(), number, any::<bool>()).prop_map(|(body, amount, ratio, big, twice)| {
        let body = serde_json::to_string(&body).expect("a string serializes");
        let first = if twice { format!("\"amount\":{},", amount.wrapping_add(1)) } else { String::new() };
        format!(
            "{{{first}\"body\":{body},\"amount\":{amount},\"tags\":[],\"big\":{big},\"ratio\":{ratio},\
             \"flag\":true,\"note\":null,\"counts\":{{}},\"priority\":\"Low\"}}"
        )
    })
}

fn current() -> impl Strategy<Value = Noted> {
    let priority = prop_oneof![
        Just(Priority::Low),
        proptest::option::of(text()).prop_map(|escalated_by| Priority::High { escalated_by })
    ];
    let ratio = prop_oneof![any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()), Just(0.1)];
    (
        (text(), any::<i64>(), proptest::collection::vec(text(), 0..4), any::<u64>()),
        (ratio, any::<bool>(), proptest::option::of(text())),
        (proptest::collection::btree_map(text(), any::<i32>(), 0..4), priority),
    )
        .prop_map(|((body, amount, tags, big), (ratio, flag, note), (counts, priority))| Noted {
            body,
            amount,
            tags,
            big,
            ratio,
            flag,
            note,
            counts,
            priority,
        })
}

/// A stored event of any schema version: well formed, or not matching its
/// version's shape.
fn stored() -> impl Strategy<Value = EncodedEvent> {
    let event = |version: u32, payload: Value| EncodedEvent {
        name: "payloads.Noted".into(),
        schema_version: version,
        payload: payload.into(),
    };
    prop_oneof![
        4 => current().prop_map(move |n| event(3, serde_json::to_value(n).expect("Noted serializes"))),
        2 => (text(), any::<i64>()).prop_map(move |(text, amount)| {
            event(1, serde_json::to_value(NotedV1 { text, amount }).expect("v1 serializes"))
        }),
        2 => (text(), any::<i64>(), proptest::collection::vec(text(), 0..3)).prop_map(move |(body, amount, tags)| {
            event(2, serde_json::to_value(NotedV2 { body, amount, tags }).expect("v2 serializes"))
        }),
        2 => handwritten().prop_map(|text| EncodedEvent {
            name: "payloads.Noted".into(),
            schema_version: 3,
            payload: es_core::Payload::from_json(text),
        }),
        1 => (1..=3_u32, text(), any::<f64>().prop_filter("finite", |f| f.is_finite())).prop_map(
            move |(version, body, n)| event(version, json!({ "body": body, "amount": n, "extra": [null, {}] }))
        ),
    ]
}

/// Appends `events` to a fresh stream of `store`, reads them back, and
/// checks that each decodes from its text to what the `Value` path gives,
/// success or failure.
async fn round_trip<S: EventStore>(store: &S, events: Vec<EncodedEvent>) -> Result<(), TestCaseError> {
    let stream = format!("noted-{:016x}", fastrand::u64(..));
    let appended =
        store.append("noted", &stream, ExpectedVersion::NoStream, events.clone(), &Metadata::default()).await;
    appended.unwrap();
    let read = store.read_stream_events("noted", &stream, es_core::StreamRange::all()).await.unwrap();
    prop_assert_eq!(read.len(), events.len());
    for ((_, stored), written) in read.iter().zip(&events) {
        let direct = Noted::decode(&stored.name, stored.schema_version, &stored.payload);
        let reference = through_value(stored);
        match (&direct, &reference) {
            (Ok(direct), Ok(reference)) => prop_assert_eq!(direct, reference),
            (Err(DecodeError::Payload { .. } | DecodeError::Upcast { .. }), Err(_)) => {}
            _ => prop_assert!(false, "{written:?}: from text {direct:?}, through a Value {reference:?}"),
        }
        // A valid event written at the current version comes back unchanged
        // (a key written twice counts once, with its last value).
        if let Some(original) = written.payload.deserialize::<Noted>().ok().filter(|_| written.schema_version == 3) {
            prop_assert_eq!(direct.as_ref().ok(), Some(&original));
        }
    }
    Ok(())
}

/// Runs [`round_trip`] on `store` for `cases` random lists of events,
/// shrinking a failure to a smallest one.
async fn check<S: EventStore>(store: &S, cases: u32) {
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases));
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&proptest::collection::vec(stored(), 1..8), |events| handle.block_on(round_trip(store, events)))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_payloads_decode_as_through_a_value() {
    check(&InMemoryEventStore::new(), 256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_payloads_decode_as_through_a_value() {
    check(&common::fresh_store().await, 128).await;
}
