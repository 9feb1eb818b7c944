//! Each way of failing to use the server is its own typed error whose
//! message names the cause and the fix, against the real server.

mod common;

use std::error::Error as StdError;

use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, StoreError};
use es_postgres::{PgError, PgEventStore};
use serde_json::json;

/// Every message down the `source()` chain, outermost first.
fn chain(e: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        texts.push(cause.to_string());
        next = cause.source();
    }
    texts
}

/// The error's whole text, after checking that no message of the chain
/// repeats one above it and that none is the driver's bare "db error".
#[track_caller]
fn text(e: &(dyn StdError + 'static)) -> String {
    let texts = chain(e);
    for (i, later) in texts.iter().enumerate() {
        assert_ne!(later, "db error", "a bare driver message in {texts:?}");
        for earlier in &texts[..i] {
            assert!(!earlier.contains(later.as_str()), "{later:?} repeats in the chain {texts:?}");
        }
    }
    texts.join(" <- ")
}

#[track_caller]
fn assert_mentions(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

async fn connect_error(url: &str) -> PgError {
    PgEventStore::connect(url).await.expect_err("the connection must fail")
}

/// The local server's URL with `change` applied to its config.
fn store_with(change: impl FnOnce(&mut es_postgres::tokio_postgres::Config)) -> PgEventStore {
    let mut config = common::config();
    change(&mut config);
    PgEventStore::builder(config).build().unwrap()
}

fn opened() -> Vec<EncodedEvent> {
    vec![EncodedEvent { name: "Opened".into(), schema_version: 1, payload: json!({}).into() }]
}

#[tokio::test]
async fn a_port_that_is_not_a_number_names_the_option() {
    let error = connect_error("postgres://postgres@localhost:notaport/postgres").await;
    assert!(matches!(&error, PgError::InvalidConfig { option: Some(o), .. } if o == "port"), "{error:?}");
    assert_mentions(&text(&error), &["invalid connection string", "option `port`", "correct it"]);
}

#[tokio::test]
async fn a_url_of_another_database_is_refused_by_its_scheme() {
    let error = connect_error("mysql://root@localhost:3306/shop").await;
    assert!(matches!(error, PgError::InvalidConfig { .. }), "{error:?}");
    assert_mentions(&text(&error), &["`mysql://` is not a PostgreSQL URL", "postgres://"]);
}

#[tokio::test]
async fn an_empty_url_says_what_to_give() {
    let error = connect_error("").await;
    assert!(matches!(error, PgError::InvalidConfig { .. }), "{error:?}");
    assert_mentions(&text(&error), &["invalid connection string", "empty", "postgres://"]);
    let hostless = PgEventStore::builder(es_postgres::tokio_postgres::Config::new()).build().unwrap_err();
    assert!(matches!(&hostless, PgError::InvalidConfig { option: Some(o), .. } if o == "host"), "{hostless:?}");
}

#[tokio::test]
async fn a_missing_database_is_named() {
    let store = store_with(|c| {
        c.dbname("es_no_such_database");
    });
    let error = store.migrate().await.unwrap_err();
    assert!(matches!(&error, PgError::DatabaseMissing { database, .. } if database == "es_no_such_database"));
    assert_mentions(&text(&error), &["database `es_no_such_database` does not exist", "3D000", "CREATE DATABASE"]);
    // Through the pool and the store trait, the same error.
    let appended = store.append("thing", "s", ExpectedVersion::Any, opened(), &Metadata::default()).await;
    let Err(StoreError::Backend(inner)) = &appended else { panic!("expected a backend error, got {appended:?}") };
    assert!(matches!(inner.downcast_ref::<PgError>(), Some(PgError::DatabaseMissing { .. })), "{inner:?}");
    let text = text(&appended.unwrap_err());
    assert_mentions(&text, &["es_no_such_database", "3D000"]);
    assert!(!text.contains("creating a new object"), "the pool's wrapper is unwrapped: {text}");
}

#[tokio::test]
async fn a_missing_role_is_named() {
    let store = store_with(|c| {
        c.user("es_no_such_role");
    });
    let error = store.migrate().await.unwrap_err();
    assert!(matches!(&error, PgError::RoleMissing { role, .. } if role == "es_no_such_role"), "{error:?}");
    assert_mentions(&text(&error), &["role `es_no_such_role` does not exist", "28000", "CREATE ROLE"]);
}

#[tokio::test]
async fn a_port_nobody_listens_on_names_the_host_and_port() {
    let error = connect_error("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(matches!(&error, PgError::Unreachable { endpoint, .. } if endpoint == "127.0.0.1:1"), "{error:?}");
    assert!(error.is_unavailable());
    assert_mentions(&text(&error), &["cannot reach PostgreSQL at 127.0.0.1:1", "refused the connection"]);
    let store = PgEventStore::builder_from_url("postgres://postgres@127.0.0.1:1/postgres").unwrap().build().unwrap();
    let appended = store.append("thing", "s", ExpectedVersion::Any, opened(), &Metadata::default()).await;
    assert!(matches!(appended, Err(StoreError::Unavailable(_))), "{appended:?}");
    assert_mentions(&text(&appended.unwrap_err()), &["unreachable", ":1", "refused the connection"]);
}

#[tokio::test]
async fn using_the_store_before_migrating_says_to_migrate() {
    let store = PgEventStore::builder(common::config()).schema(common::schema_name()).build().unwrap();
    let appended = store.append("thing", "s", ExpectedVersion::Any, opened(), &Metadata::default()).await;
    let Err(StoreError::Backend(inner)) = &appended else { panic!("expected a backend error, got {appended:?}") };
    assert!(matches!(inner.downcast_ref::<PgError>(), Some(PgError::NotMigrated { .. })), "{inner:?}");
    let text = text(&appended.unwrap_err());
    assert_mentions(&text, &["tables are missing", "does not exist", "call `migrate()`"]);
    assert!(text.contains("42P01") || text.contains("3F000"), "{text}");
}

#[tokio::test]
async fn a_value_beyond_a_column_is_invalid_input() {
    let store = common::fresh_store().await;
    let event = EncodedEvent { name: "Opened".into(), schema_version: u32::MAX, payload: json!({}).into() };
    let refused = store.append("thing", "s", ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    let Err(error @ StoreError::InvalidInput { .. }) = refused else {
        panic!("expected invalid input, got {refused:?}")
    };
    assert_mentions(&text(&error), &["schema version", "2147483647 at most"]);
    let stream_id = "";
    let refused = store.append("thing", stream_id, ExpectedVersion::Any, opened(), &Metadata::default()).await;
    let Err(error @ StoreError::InvalidStreamId { .. }) = refused else {
        panic!("expected invalid id, got {refused:?}")
    };
    assert_mentions(&text(&error), &["invalid stream id", "it is empty"]);
}

/// A store built with a smaller `max_event_size` refuses a larger event
/// with a message naming the event, its size, the limit and the way out.
#[tokio::test]
async fn an_event_over_the_configured_size_limit_names_its_size_and_the_fix() {
    let schema = common::schema_name();
    common::store_in(&schema).await;
    let store = PgEventStore::builder(common::config()).schema(&schema).max_event_size(64).build().unwrap();
    let big =
        EncodedEvent { name: "Uploaded".into(), schema_version: 1, payload: json!({ "blob": "x".repeat(60) }).into() };
    let error =
        store.append("file", "f-1", ExpectedVersion::NoStream, vec![big], &Metadata::default()).await.unwrap_err();
    assert!(matches!(error, StoreError::EventTooLarge { size: 71, limit: 64, .. }), "{error:?}");
    assert_mentions(&text(&error), &["event `Uploaded`", "`f-1`", "71 bytes", "limit of 64 bytes", "max_event_size"]);
    store.append("file", "f-1", ExpectedVersion::NoStream, opened(), &Metadata::default()).await.unwrap();
}
