//! Migrations, schema names and the immutability of stored events.

mod common;

use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, StreamRange};
use es_postgres::tokio_postgres::error::SqlState;
use es_postgres::{PgError, PgEventStore};
use serde_json::json;

async fn store_with_one_event() -> PgEventStore {
    let store = common::fresh_store().await;
    let event = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: json!({}).into() };
    store.append("account", "s", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();
    store
}

/// Runs `sql` (with `{schema}` replaced) and returns the SQLSTATE it fails with.
async fn refused(store: &PgEventStore, sql: &str) -> (SqlState, String) {
    let client = common::raw_client().await;
    let error = client
        .batch_execute(&sql.replace("{schema}", store.quoted_schema()))
        .await
        .expect_err("the database must refuse to change events");
    let db = error.as_db_error().expect("a database error");
    (db.code().clone(), db.message().to_owned())
}

#[tokio::test]
async fn the_database_refuses_to_update_events() {
    let store = store_with_one_event().await;
    let (code, message) = refused(&store, "UPDATE {schema}.events SET payload = '{\"forged\": true}'").await;
    assert_eq!(code, SqlState::RESTRICT_VIOLATION);
    assert!(message.contains("events are immutable") && message.contains("UPDATE"), "{message}");
    let events = store.read_stream("s", StreamRange::all()).await.unwrap();
    assert_eq!(events[0].event.payload, json!({}));
}

#[tokio::test]
async fn the_database_refuses_to_delete_events() {
    let store = store_with_one_event().await;
    let (code, message) = refused(&store, "DELETE FROM {schema}.events").await;
    assert_eq!(code, SqlState::RESTRICT_VIOLATION);
    assert!(message.contains("DELETE"), "{message}");
    assert_eq!(store.read_stream("s", StreamRange::all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_database_refuses_to_truncate_events() {
    let store = store_with_one_event().await;
    let (code, message) = refused(&store, "TRUNCATE {schema}.events").await;
    assert_eq!(code, SqlState::RESTRICT_VIOLATION);
    assert!(message.contains("TRUNCATE"), "{message}");
    assert_eq!(store.read_stream("s", StreamRange::all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn migrating_again_changes_nothing() {
    let schema = common::schema_name();
    let store = common::store_in(&schema).await;
    assert_eq!(store.migrate().await.unwrap(), Vec::<u32>::new());
    let client = common::raw_client().await;
    let rows = client
        .query(&format!("SELECT version, name FROM {}.schema_migrations ORDER BY version", store.quoted_schema()), &[])
        .await
        .unwrap();
    let applied: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(applied.len() as u32, PgEventStore::latest_migration());
    assert_eq!(applied[0], (1, "events".to_owned()));
    let tables = client
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", &[&schema])
        .await
        .unwrap();
    let tables: Vec<String> = tables.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        tables,
        [
            "checkpoints",
            "commands",
            "event_revisions",
            "events",
            "outbox",
            "parked_events",
            "rewrites",
            "runners",
            "schema_migrations",
            "snapshots",
            "subject_keys"
        ]
    );
}

#[tokio::test]
async fn processes_starting_at_once_apply_each_migration_once() {
    let schema = common::schema_name();
    let stores: Vec<PgEventStore> =
        (0..6).map(|_| PgEventStore::builder(common::config()).schema(&schema).pool_size(1).build().unwrap()).collect();
    let runs: Vec<_> = stores.into_iter().map(|s| tokio::spawn(async move { s.migrate().await })).collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().expect("every migrator succeeds"));
    }
    applied.sort_unstable();
    assert_eq!(applied, (1..=PgEventStore::latest_migration()).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_schema_name_is_quoted_never_interpolated() {
    let name = format!("{} Odd\"Name; DROP TABLE x", common::schema_name());
    let store = common::store_in(&name).await;
    assert_eq!(store.schema(), name);
    let event = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: json!({}).into() };
    store.append("account", "s", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();
    assert_eq!(store.read_stream("s", StreamRange::all()).await.unwrap().len(), 1);
    let client = common::raw_client().await;
    let found: i64 =
        client.query_one("SELECT count(*) FROM pg_namespace WHERE nspname = $1", &[&name]).await.unwrap().get(0);
    assert_eq!(found, 1, "the schema has exactly the given name");
}

#[tokio::test]
async fn unusable_schema_names_are_refused_before_connecting() {
    for name in ["", "pg_toast", "nul\0byte"] {
        let built = PgEventStore::builder(common::config()).schema(name).build();
        assert!(matches!(built, Err(PgError::InvalidSchema { .. })), "{name:?} was accepted");
    }
}

#[tokio::test]
async fn a_schema_migrated_by_a_newer_release_is_refused() {
    let store = common::fresh_store().await;
    let client = common::raw_client().await;
    client
        .execute(
            &format!("INSERT INTO {}.schema_migrations (version, name) VALUES (999, 'future')", store.quoted_schema()),
            &[],
        )
        .await
        .unwrap();
    assert!(matches!(store.migrate().await, Err(PgError::UnknownMigration { version: 999, .. })));
}
