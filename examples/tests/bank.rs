//! The bank example on a SQLite file, run twice as `cargo run --example
//! bank` runs it: the second run starts from the first run's history.

#[expect(dead_code, reason = "the example's `main`, which the command line runs")]
#[path = "../bank.rs"]
mod bank;

use es_core::{EventStore, Position};
use es_sqlite::SqliteEventStore;

#[tokio::test]
async fn a_second_run_prints_and_continues_the_first_runs_history() {
    let dir = std::env::temp_dir().join(format!("es-bank-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bank.sqlite3");
    let _ = std::fs::remove_file(&file);

    let first = SqliteEventStore::open(&file).await.unwrap();
    assert_eq!(bank::history(&first).await.unwrap(), 0, "a new file has no history");
    bank::run(first.clone()).await.unwrap();
    let recorded = first.read_all(Position::START, 10_000).await.unwrap().len();
    assert!(recorded >= 9, "the first run recorded its account's events, {recorded}");
    drop(first);

    // A second process opens the same file.
    let second = SqliteEventStore::open(&file).await.unwrap();
    assert_eq!(bank::history(&second).await.unwrap(), recorded, "the second run prints every event of the first");
    bank::run(second.clone()).await.unwrap();
    let streams: std::collections::BTreeSet<String> =
        second.read_all(Position::START, 10_000).await.unwrap().into_iter().map(|e| e.stream_id).collect();
    assert_eq!(streams.len(), 2, "each run opened its own account: {streams:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
