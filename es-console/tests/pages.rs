//! The console's pages over its router, against a real server: stored text
//! shows with its control characters escaped, as the command line shows it.
//!
//! They need PostgreSQL (`DATABASE_URL`, default the local server); without
//! one they fail and say how to get it.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use es_console::Console;
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata};
use es_postgres::PgEventStore;
use tower::ServiceExt as _;

async fn fresh_store() -> PgEventStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let schema = format!("es_console_pages_{}_{}", now.as_secs(), now.subsec_nanos());
    let store = PgEventStore::builder_from_url(&url).unwrap().schema(&schema).pool_size(2).build().unwrap();
    store.migrate().await.unwrap_or_else(|e| {
        panic!(
            "cannot use PostgreSQL at {url}: {e}\nStart the local server with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point DATABASE_URL at one."
        )
    });
    store
}

async fn get(console: Console, path: &str) -> String {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = console.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn stored_text_shows_with_its_control_characters_escaped() {
    let store = fresh_store().await;
    let id = "evil\u{1b}[31m\u{202e}id";
    let payload = serde_json::json!({ "note": "a\u{85}b" }).into();
    let event = EncodedEvent { name: "Noted\u{7}".into(), schema_version: 1, payload };
    store.append("account", id, ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();

    let streams = get(Console::new(store.clone()), "/streams").await;
    let stream = get(Console::new(store.clone()), "/streams/evil%1B%5B31m%E2%80%AEid").await;
    for page in [&streams, &stream] {
        assert!(!page.contains(['\u{1b}', '\u{202e}', '\u{7}', '\u{85}']), "{page}");
        assert!(page.contains("evil\\u{1b}[31m\\u{202e}id"), "{page}");
    }
    assert!(stream.contains("Noted\\u{7}") && stream.contains("a\\u{85}b"), "{stream}");
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}

/// The event of the SQLite store's account.
#[derive(es_core::Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Opened")]
struct Opened {}

/// A projection of a SQLite store that keeps no tables.
struct OpenedAccounts;

impl es_sqlite::SqliteProjection for OpenedAccounts {
    type Event = Opened;

    fn name(&self) -> &str {
        "opened_accounts"
    }

    fn handle(
        &mut self,
        _: &es_sqlite::SqliteTransaction<'_>,
        _: &Opened,
        _: &es_core::RecordedEvent,
    ) -> Result<(), es_core::BoxError> {
        Ok(())
    }

    fn reset(&mut self, _: &es_sqlite::SqliteTransaction<'_>) -> Result<(), es_core::BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn the_pages_read_a_sqlite_store_and_its_projections_checkpoints() {
    let dir = std::env::temp_dir().join(format!("es-console-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("store.sqlite3");
    let _ = std::fs::remove_file(&file);
    let store = es_sqlite::SqliteEventStore::open(&file).await.unwrap();
    let event = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: serde_json::json!({}).into() };
    store.append("account", "acc-sqlite", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();
    let target = es_sqlite::SqliteTarget::of(&store).await.unwrap();
    let mut runner = es_sqlite::SqliteProjectionRunner::new(store.clone(), target.clone(), OpenedAccounts);
    assert_eq!(runner.catch_up().await.unwrap(), 1);

    let streams = get(Console::on(store.clone(), target.clone()), "/streams").await;
    assert!(streams.contains("acc-sqlite"), "{streams}");
    let stream = get(Console::on(store.clone(), target.clone()), "/streams/acc-sqlite").await;
    assert!(stream.contains("Opened"), "{stream}");
    let projections = get(Console::on(store, target), "/projections").await;
    assert!(projections.contains("opened_accounts"), "the projection's checkpoint is listed: {projections}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A long payload shows cut on the stream's page, with a link to the
/// event's page that shows it whole.
#[tokio::test]
async fn a_long_payload_is_cut_with_a_link_to_it_whole() {
    let store = fresh_store().await;
    let lines: Vec<String> = (0..2000).map(|n| format!("line {n:04}")).collect();
    let payload = serde_json::json!({ "lines": lines }).into();
    let event = EncodedEvent { name: "Uploaded".into(), schema_version: 1, payload };
    store.append("file", "f-1", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();

    let stream = get(Console::new(store.clone()), "/streams/f-1").await;
    assert!(stream.contains("line 0000") && !stream.contains("line 1999"), "the payload is cut");
    assert!(
        stream.contains(r#"href="/streams/f-1/events/1/upcast""#) && stream.contains("more bytes: the whole payload")
    );
    let whole = get(Console::new(store.clone()), "/streams/f-1/events/1/upcast").await;
    assert!(whole.contains("line 1999"), "the event's page shows it whole");
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}
