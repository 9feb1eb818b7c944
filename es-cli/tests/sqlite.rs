//! The `es` binary on a SQLite file: the same commands and output as on
//! PostgreSQL, read through the same admin interface.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{AccountEvent, Run, es_raw, seed_into};
use es_core::{BoxError, Position, RecordedEvent};
use es_sqlite::{SqliteEventStore, SqliteProjection, SqliteProjectionRunner, SqliteTarget, SqliteTransaction};
use serde_json::json;

/// A file path of this test's own, removed with its log files on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("es-cli-sqlite-{}-{}.sqlite3", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        TempFile(path).cleaned()
    }

    fn cleaned(self) -> Self {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
        self
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Counts deposits, in the store's own file.
struct Deposits;

impl SqliteProjection for Deposits {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "deposits"
    }

    fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS deposits (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
             INSERT OR IGNORE INTO deposits VALUES (1, 0);",
        )?;
        Ok(())
    }

    fn handle(&mut self, tx: &SqliteTransaction<'_>, event: &AccountEvent, _: &RecordedEvent) -> Result<(), BoxError> {
        if let AccountEvent::Deposited(_) = event {
            tx.execute("UPDATE deposits SET n = n + 1", [])?;
        }
        Ok(())
    }

    fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute("UPDATE deposits SET n = 0", [])?;
        Ok(())
    }
}

fn es(file: &TempFile, args: &[&str]) -> Run {
    let url = file.url();
    es_raw(&[&["--database-url", url.as_str()][..], args].concat())
}

#[tokio::test]
async fn the_commands_read_a_sqlite_store_and_its_projections() {
    let file = TempFile::new();
    let store = SqliteEventStore::open(&file.0).await.unwrap();
    let last = seed_into(&store).await;
    let target = SqliteTarget::of(&store).await.unwrap();
    let mut runner = SqliteProjectionRunner::new(store.clone(), target, Deposits);
    assert_eq!(runner.catch_up().await.unwrap(), 4);

    let status = es(&file, &["status", "--json"]).ok().json();
    assert_eq!((status["events"].clone(), status["streams"].clone()), (json!(4), json!(2)), "{status}");
    assert_eq!(status["head"], last.to_string());

    let streams = es(&file, &["streams", "--json"]).ok().json();
    let ids: Vec<_> =
        streams.as_array().unwrap().iter().map(|s| (s["stream_id"].clone(), s["version"].clone())).collect();
    assert_eq!(ids, [(json!("acc-1"), json!(3)), (json!("acc-2"), json!(1))]);

    let events = es(&file, &["stream", "acc-1", "--json"]).ok().json();
    assert_eq!(events[1]["payload"], json!({ "amount": 100 }), "{events}");
    let latest = es(&file, &["tail", "--last", "1"]).ok().stdout;
    assert!(latest.starts_with(&format!("{last}  ")) && latest.contains("account acc-2 #1  escli.Opened"), "{latest}");

    let listed = es(&file, &["projections", "--json"]).ok().json();
    assert_eq!(
        (listed[0]["name"].clone(), listed[0]["checkpoint"].clone()),
        (json!("deposits"), json!(last.to_string()))
    );
    assert_eq!(listed[0]["behind"], 0, "{listed}");

    es(&file, &["projection", "deposits", "reset", "--yes"]).ok();
    let listed = es(&file, &["projections", "--json"]).ok().json();
    assert_eq!(listed[0]["checkpoint"], Position::START.to_string(), "{listed}");
    assert_eq!(runner.catch_up().await.unwrap(), 4, "the runner replays from the start after the reset");
}

#[tokio::test]
async fn a_missing_file_is_created_by_migrate_only() {
    let file = TempFile::new();
    let status = es(&file, &["status"]);
    assert_eq!(status.code, 2, "{status:#?}");
    let expected = format!("file `{}` holds no event store", file.0.display());
    assert!(status.stderr.contains(&expected), "{status:#?}");
    assert!(!file.0.exists(), "looking at a missing file created it");

    let migrated = es(&file, &["migrate"]).ok().stdout;
    let latest = SqliteEventStore::latest_migration();
    assert_eq!(migrated, format!("file `{}` is up to date (migration {latest})\n", file.0.display()));
    assert_eq!(es(&file, &["status", "--json"]).ok().json()["events"], 0);
}

#[tokio::test]
async fn a_sqlite_url_that_names_no_file_is_a_usage_error() {
    for url in ["sqlite::memory:", "sqlite://"] {
        let run = es_raw(&["--database-url", url, "status"]);
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(run.stderr.contains("holds no event store") || run.stderr.contains("sqlite::memory:"), "{run:#?}");
    }
}
