//! The SQLite store on real files: events immutable in the database, one
//! gapless global order in commit order under writers of several tasks and
//! of several processes, and a `kill -9` in the middle of appends losing
//! nothing acknowledged.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TempDir;
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent};
use es_sqlite::SqliteEventStore;
use serde_json::json;

fn event(n: u64) -> EncodedEvent {
    EncodedEvent { name: "Happened".into(), schema_version: 1, payload: json!({ "n": n }).into() }
}

/// Every event of the store in global order.
async fn everything(store: &SqliteEventStore) -> Vec<RecordedEvent> {
    let (mut all, mut after) = (Vec::new(), Position::START);
    loop {
        let page = store.read_all(after, 1000).await.unwrap();
        let Some(last) = page.last() else { return all };
        after = last.position;
        all.extend(page);
    }
}

/// Versions per stream are 1, 2, 3, ... and positions 1, 2, 3, ... in
/// global order.
fn assert_gapless(events: &[RecordedEvent]) {
    let positions: Vec<u64> = events.iter().map(|e| e.position.sequence).collect();
    assert_eq!(positions, (1..=events.len() as u64).collect::<Vec<_>>(), "the global order has no gap");
    assert!(events.windows(2).all(|w| w[0].position < w[1].position), "positions only grow");
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        let last = versions.entry(&e.stream_id).or_default();
        assert_eq!(e.version, *last + 1, "stream {} skips a version", e.stream_id);
        *last = e.version;
    }
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_events() {
    let dir = TempDir::new();
    let store = SqliteEventStore::open(dir.file("s.sqlite3")).await.unwrap();
    store.append("thing", "s", ExpectedVersion::NoStream, vec![event(1)], &Metadata::default()).await.unwrap();
    let raw = rusqlite::Connection::open(dir.file("s.sqlite3")).unwrap();
    for statement in ["UPDATE events SET payload = '{}'", "DELETE FROM events"] {
        let refused = raw.execute(statement, []).unwrap_err().to_string();
        assert!(refused.contains("events are immutable"), "{statement}: {refused}");
    }
    assert_eq!(everything(&store).await.len(), 1);
}

/// Sixteen tasks append while a reader follows the global order: it sees
/// every event once, in the order a replay gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_a_live_reader_agree_on_one_gapless_order() {
    let dir = TempDir::new();
    let store = SqliteEventStore::open(dir.file("s.sqlite3")).await.unwrap();
    const WRITERS: u64 = 16;
    const EACH: u64 = 100;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let stream = format!("s-{w}-{}", i % 3);
                    store
                        .append("thing", &stream, ExpectedVersion::Any, vec![event(i)], &Metadata::default())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let (mut seen, mut after) = (Vec::new(), Position::START);
            while (seen.len() as u64) < WRITERS * EACH {
                let page = store.read_all(after, 37).await.unwrap();
                if let Some(last) = page.last() {
                    after = last.position;
                }
                seen.extend(page.into_iter().map(|e| e.position));
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader).await.unwrap().unwrap();
    let replay = everything(&store).await;
    assert_gapless(&replay);
    assert_eq!(
        seen,
        replay.iter().map(|e| e.position).collect::<Vec<_>>(),
        "the live reader saw each event once, in order"
    );
}

/// The environment variable that makes a test run as a child process.
const CHILD_FILE: &str = "ES_SQLITE_CHILD_FILE";

/// Run by the tests below in child processes: appends to the file the
/// parent names, printing each acknowledged append's stream and version.
#[tokio::test]
#[ignore = "a child process of the two-process and kill tests; they run it"]
async fn child_appends_and_reports_each_acknowledged_append() {
    let path = std::env::var(CHILD_FILE).expect("run by a parent test");
    let count: u64 = std::env::var("ES_SQLITE_CHILD_COUNT").unwrap().parse().unwrap();
    let name = std::env::var("ES_SQLITE_CHILD_NAME").unwrap();
    let store = SqliteEventStore::open(&path).await.unwrap();
    for i in 0..count {
        let stream = format!("{name}-{}", i % 5);
        let appended = store
            .append("thing", &stream, ExpectedVersion::Any, vec![event(i), event(i)], &Metadata::default())
            .await
            .unwrap();
        println!("acked {stream} {}", appended.stream_version);
    }
}

/// A child process running [`child_appends_and_reports_each_acknowledged_append`].
fn child(path: &std::path::Path, name: &str, count: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_appends_and_reports_each_acknowledged_append", "--nocapture"])
        .env(CHILD_FILE, path)
        .env("ES_SQLITE_CHILD_COUNT", count.to_string())
        .env("ES_SQLITE_CHILD_NAME", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary starts again as a child")
}

/// The appends a child acknowledged, read from its output.
fn acknowledged(output: impl std::io::Read) -> Vec<(String, u64)> {
    BufReader::new(output)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut parts = line.strip_prefix("acked ")?.split(' ');
            Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_append_to_one_file_in_one_gapless_order() {
    let dir = TempDir::new();
    let path = dir.file("shared.sqlite3");
    let store = SqliteEventStore::open(&path).await.unwrap();
    let children: Vec<_> = ["left", "right"].iter().map(|name| child(&path, name, 150)).collect();
    // This process appends too, and follows the order while they write.
    let (mut seen, mut after) = (Vec::new(), Position::START);
    for i in 0..150 {
        store
            .append("thing", &format!("parent-{}", i % 5), ExpectedVersion::Any, vec![event(i)], &Metadata::default())
            .await
            .unwrap();
        let page = store.read_all(after, 1000).await.unwrap();
        if let Some(last) = page.last() {
            after = last.position;
        }
        seen.extend(page.into_iter().map(|e| e.position));
    }
    let mut acked = Vec::new();
    for mut child in children {
        acked.extend(acknowledged(child.stdout.take().unwrap()));
        assert!(child.wait().unwrap().success(), "a child's appends failed");
    }
    assert_eq!(acked.len(), 300);
    let replay = everything(&store).await;
    assert_gapless(&replay);
    assert_eq!(replay.len(), 150 + 300 * 2);
    seen.extend(replay.iter().map(|e| e.position).filter(|p| *p > after));
    assert_eq!(seen, replay.iter().map(|e| e.position).collect::<Vec<_>>(), "followed once, in order");
}

/// A writer killed with SIGKILL in the middle of its appends: the file
/// passes SQLite's integrity check, every acknowledged append is there,
/// and no stream has a gap or a half-written append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_mid_append_loses_nothing_acknowledged() {
    for round in 0..5 {
        let dir = TempDir::new();
        let path = dir.file("killed.sqlite3");
        SqliteEventStore::open(&path).await.unwrap();
        let mut writer = child(&path, "killed", 100_000);
        let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
        let wanted = fastrand::usize(20..400);
        let mut acked = Vec::new();
        for line in lines.by_ref().take(wanted) {
            acked.push(line.unwrap());
        }
        writer.kill().unwrap();
        writer.wait().unwrap();
        // What it printed after the lines read was acknowledged too.
        acked.extend(lines.map_while(Result::ok));
        let acked = acknowledged(acked.join("\n").as_bytes());
        let check: String =
            rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "round {round}");
        let store = SqliteEventStore::open(&path).await.unwrap();
        let events = everything(&store).await;
        assert_gapless(&events);
        assert_eq!(events.len() % 2, 0, "an append of two events is whole or absent");
        let heads: BTreeMap<&str, u64> = events.iter().map(|e| (e.stream_id.as_str(), e.version)).collect();
        for (stream, version) in &acked {
            assert!(
                heads.get(stream.as_str()).is_some_and(|head| head >= version),
                "round {round}: {stream} v{version} was acknowledged and lost"
            );
        }
    }
}

/// A file opened with a smaller `max_event_size` refuses a larger event
/// before anything is written.
#[tokio::test]
async fn an_event_over_the_configured_size_limit_is_refused() {
    let dir = TempDir::new();
    let store = SqliteEventStore::builder(dir.path().join("limit.sqlite3")).max_event_size(64).open().await.unwrap();
    let big =
        EncodedEvent { name: "Uploaded".into(), schema_version: 1, payload: json!({ "blob": "x".repeat(60) }).into() };
    let refused = store.append("file", "f-1", ExpectedVersion::NoStream, vec![big], &Metadata::default()).await;
    assert!(matches!(refused, Err(es_core::StoreError::EventTooLarge { size: 71, limit: 64, .. })), "{refused:?}");
    assert_eq!(everything(&store).await, []);
    store.append("file", "f-1", ExpectedVersion::NoStream, vec![event(1)], &Metadata::default()).await.unwrap();
}
