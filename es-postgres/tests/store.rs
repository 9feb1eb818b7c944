//! Appends, reads, snapshots and errors of `PgEventStore` against a real server.

mod common;

use std::time::{Duration, SystemTime};

use es_core::{
    EncodedEvent, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent, Snapshot, StoreError, StreamRange,
};
use es_postgres::{PgError, PgEventStore};
use serde_json::json;

fn event(name: &str, payload: serde_json::Value) -> EncodedEvent {
    EncodedEvent { name: name.to_owned(), schema_version: 1, payload: payload.into() }
}

fn deposits(amounts: &[i64]) -> Vec<EncodedEvent> {
    amounts.iter().map(|a| event("Deposited", json!({ "amount": a }))).collect()
}

async fn append(
    store: &PgEventStore,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<EncodedEvent>,
) -> Result<es_core::Appended, StoreError> {
    store.append("account", stream, expected, events, &Metadata::default()).await
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

#[tokio::test]
async fn an_append_reads_back_exactly_as_it_was_recorded() {
    let store = common::fresh_store().await;
    let metadata = Metadata::default().with_correlation_id("req-1").with_actor("ada").with("ip", "10.0.0.1");
    let events = vec![
        event("Opened", json!({ "owner": "ada", "tags": ["a", "b"], "limit": null })),
        EncodedEvent {
            name: "Deposited".into(),
            schema_version: 3,
            payload: json!({ "amount": 1_u64 << 60, "note": "ünïcødé" }).into(),
        },
    ];
    let before = SystemTime::now() - Duration::from_secs(5);
    let appended =
        store.append("account", "acc-1", ExpectedVersion::NoStream, events.clone(), &metadata).await.unwrap();

    assert_eq!(appended.stream_version, 2);
    assert_eq!(versions(&appended.events), [1, 2]);
    let read = store.read_stream("acc-1", StreamRange::all()).await.unwrap();
    assert_eq!(read, appended.events, "what append returns is what a read returns");
    for (recorded, original) in read.iter().zip(&events) {
        assert_eq!(&recorded.event, original);
        assert_eq!(recorded.metadata, metadata);
        assert_eq!((recorded.aggregate_type.as_str(), recorded.stream_id.as_str()), ("account", "acc-1"));
        assert!(recorded.recorded_at > before && recorded.recorded_at <= SystemTime::now());
    }
    assert_eq!(read[0].position.commit, read[1].position.commit, "one append is one transaction");
    assert!(read[0].position < read[1].position);
    assert_eq!(appended.position(), Some(read[1].position));
}

#[tokio::test]
async fn a_thousand_events_append_atomically_with_consecutive_versions() {
    let store = common::fresh_store().await;
    append(&store, "s", ExpectedVersion::NoStream, deposits(&[1])).await.unwrap();
    let amounts: Vec<i64> = (0..1000).collect();
    let appended = append(&store, "s", ExpectedVersion::Exact(1), deposits(&amounts)).await.unwrap();
    assert_eq!(appended.stream_version, 1001);
    assert_eq!(versions(&appended.events), (2..=1001).collect::<Vec<_>>());
    let positions: Vec<Position> = appended.events.iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1] && w[0].commit == w[1].commit));
    let read = store.read_stream("s", StreamRange::after(1)).await.unwrap();
    assert_eq!(read, appended.events);
    assert_eq!(read[999].event.payload, json!({ "amount": 999 }));
}

#[tokio::test]
async fn expected_version_is_enforced_like_the_in_memory_store() {
    let store = common::fresh_store().await;
    append(&store, "s", ExpectedVersion::Exact(0), deposits(&[1, 2])).await.unwrap();

    let conflict = |r: Result<_, StoreError>| match r {
        Err(StoreError::Conflict { stream_id, expected, actual }) => (stream_id, expected, actual),
        other => panic!("expected a conflict, got {other:?}"),
    };
    let no_stream = append(&store, "s", ExpectedVersion::NoStream, deposits(&[3])).await;
    assert_eq!(conflict(no_stream), ("s".to_owned(), ExpectedVersion::NoStream, 2));
    let behind = append(&store, "s", ExpectedVersion::Exact(1), deposits(&[3])).await;
    assert_eq!(conflict(behind), ("s".to_owned(), ExpectedVersion::Exact(1), 2));
    let ahead = append(&store, "s", ExpectedVersion::Exact(5), deposits(&[3])).await;
    assert_eq!(conflict(ahead), ("s".to_owned(), ExpectedVersion::Exact(5), 2));
    let beyond = append(&store, "s", ExpectedVersion::Exact(u64::MAX), deposits(&[3])).await;
    assert_eq!(conflict(beyond).2, 2);
    let on_empty = append(&store, "t", ExpectedVersion::Exact(3), deposits(&[3])).await;
    assert_eq!(conflict(on_empty), ("t".to_owned(), ExpectedVersion::Exact(3), 0));

    assert_eq!(versions(&store.read_stream("s", StreamRange::all()).await.unwrap()), [1, 2], "no gap, no write");
    assert!(store.read_stream("t", StreamRange::all()).await.unwrap().is_empty());

    assert_eq!(append(&store, "s", ExpectedVersion::Exact(2), deposits(&[3])).await.unwrap().stream_version, 3);
    assert_eq!(append(&store, "s", ExpectedVersion::Any, deposits(&[4, 5])).await.unwrap().stream_version, 5);
    assert_eq!(append(&store, "u", ExpectedVersion::Any, deposits(&[1])).await.unwrap().stream_version, 1);
}

#[tokio::test]
async fn appending_no_events_only_checks_the_expectation() {
    let store = common::fresh_store().await;
    let empty = append(&store, "s", ExpectedVersion::NoStream, vec![]).await.unwrap();
    assert_eq!((empty.stream_version, empty.events.len(), empty.position()), (0, 0, None));
    append(&store, "s", ExpectedVersion::NoStream, deposits(&[1])).await.unwrap();
    assert_eq!(append(&store, "s", ExpectedVersion::Exact(1), vec![]).await.unwrap().stream_version, 1);
    assert_eq!(append(&store, "s", ExpectedVersion::Any, vec![]).await.unwrap().stream_version, 1);
    assert!(matches!(
        append(&store, "s", ExpectedVersion::Exact(0), vec![]).await,
        Err(StoreError::Conflict { actual: 1, .. })
    ));
    let last = store.read_stream("s", StreamRange::all()).await.unwrap()[0].position;
    let all = common::read_all_through(&store, Position::START, last, 10).await;
    assert_eq!(all.len(), 1, "nothing else was written");
}

#[tokio::test]
async fn stream_reads_stop_at_a_version_or_a_time() {
    let store = common::fresh_store().await;
    let first = append(&store, "s", ExpectedVersion::NoStream, deposits(&[1, 2, 3])).await.unwrap();
    // Timestamps are microseconds in Postgres: step past the first commit's.
    let between = first.events[2].recorded_at + Duration::from_micros(1);
    while SystemTime::now() <= between + Duration::from_micros(1) {
        std::hint::spin_loop();
    }
    append(&store, "s", ExpectedVersion::Exact(3), deposits(&[4, 5])).await.unwrap();
    append(&store, "other", ExpectedVersion::NoStream, deposits(&[9])).await.unwrap();

    let read = |range| store.read_stream("s", range);
    assert_eq!(versions(&read(StreamRange::all()).await.unwrap()), [1, 2, 3, 4, 5]);
    assert_eq!(versions(&read(StreamRange::after(3)).await.unwrap()), [4, 5]);
    assert_eq!(versions(&read(StreamRange::all().up_to_version(2)).await.unwrap()), [1, 2]);
    assert_eq!(versions(&read(StreamRange::after(1).up_to_version(4)).await.unwrap()), [2, 3, 4]);
    assert_eq!(versions(&read(StreamRange::all().up_to_time(between)).await.unwrap()), [1, 2, 3]);
    assert_eq!(versions(&read(StreamRange::all().up_to_time(first.events[0].recorded_at)).await.unwrap()), [1, 2, 3]);
    assert!(read(StreamRange::all().up_to_time(SystemTime::UNIX_EPOCH)).await.unwrap().is_empty());
    assert!(read(StreamRange::after(5)).await.unwrap().is_empty());
    assert!(read(StreamRange::after(u64::MAX)).await.unwrap().is_empty());
    assert!(store.read_stream("missing", StreamRange::all()).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_narrow_read_returns_what_folding_needs_of_the_same_events() {
    let store = common::fresh_store().await;
    let metadata = Metadata::default().with_actor("ada");
    store.append("account", "s", ExpectedVersion::NoStream, deposits(&[1, 2, 3, 4]), &metadata).await.unwrap();
    append(&store, "other", ExpectedVersion::NoStream, deposits(&[9])).await.unwrap();
    for range in [StreamRange::all(), StreamRange::after(1).up_to_version(3), StreamRange::after(4)] {
        let full: Vec<(u64, EncodedEvent)> =
            store.read_stream("s", range).await.unwrap().into_iter().map(|e| (e.version, e.event)).collect();
        assert_eq!(store.read_stream_events("account", "s", range).await.unwrap(), full, "{range:?}");
    }
    assert_eq!(store.read_stream_events("account", "s", StreamRange::all()).await.unwrap().len(), 4);
}

#[tokio::test]
async fn read_all_pages_through_every_event_in_commit_order() {
    let store = common::fresh_store().await;
    let mut written = Vec::new();
    for i in 0..7 {
        let stream = format!("s-{}", i % 3);
        let appended = append(&store, &stream, ExpectedVersion::Any, deposits(&[i, i + 100])).await.unwrap();
        written.extend(appended.events);
    }
    let last = written.last().unwrap().position;
    let read = common::read_all_through(&store, Position::START, last, 3).await;
    assert_eq!(read, written, "pages concatenate to every event in the order appended");
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));
    assert!(store.read_all(Position::START, 0).await.unwrap().is_empty());
    assert_eq!(store.read_all(read[5].position, 100).await.unwrap(), read[6..]);
}

/// The classic bug: a transaction that took an earlier position commits
/// after a later one. `read_all` must hold back the later event instead of
/// letting a reader move past the earlier one.
#[tokio::test]
async fn read_all_never_skips_an_event_whose_transaction_commits_late() {
    let store = common::fresh_store().await;
    let mut slow = common::raw_client().await;
    let tx = slow.transaction().await.unwrap();
    tx.execute(
        &format!(
            "INSERT INTO {}.events (aggregate_type, stream_id, version, event_name, event_version, payload) \
             VALUES ('account', 'slow', 1, 'Deposited', 1, '{{\"amount\": 1}}')",
            store.quoted_schema()
        ),
        &[],
    )
    .await
    .unwrap();
    let fast = append(&store, "fast", ExpectedVersion::NoStream, deposits(&[2])).await.unwrap();

    assert!(
        store.read_all(Position::START, 10).await.unwrap().is_empty(),
        "an event committed after an open transaction began is held back"
    );
    let lag = store.read_lag().await.unwrap();
    assert_eq!(lag.held_back, 1, "the fast event is committed but held back");
    assert!(lag.oldest_transaction.is_some(), "the slow transaction is running");
    assert_eq!(store.count().await.unwrap(), 1, "count sees committed events only");
    tx.commit().await.unwrap();
    let all = common::read_all_through(&store, Position::START, fast.events[0].position, 10).await;
    assert_eq!(store.count().await.unwrap(), 2);
    assert_eq!(all.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>(), ["slow", "fast"]);
    assert_eq!(all[1].position, fast.events[0].position);
    assert!(all[0].position < all[1].position, "the slow event sorts first: its transaction began first");
}

#[tokio::test]
async fn snapshots_keep_the_latest_version() {
    let store = common::fresh_store().await;
    assert_eq!(store.load_snapshot("s").await.unwrap(), None);
    let snapshot = |version, state: serde_json::Value| Snapshot {
        aggregate_type: "account".into(),
        stream_id: "s".into(),
        version,
        schema_version: 2,
        fingerprint: 1 << 63,
        state: state.into(),
    };
    store.save_snapshot(snapshot(10, json!({ "balance": 10 }))).await.unwrap();
    assert_eq!(store.load_snapshot("s").await.unwrap(), Some(snapshot(10, json!({ "balance": 10 }))));
    store.save_snapshot(snapshot(20, json!({ "balance": 20 }))).await.unwrap();
    store.save_snapshot(snapshot(15, json!({ "balance": 15 }))).await.unwrap();
    assert_eq!(
        store.load_snapshot("s").await.unwrap(),
        Some(snapshot(20, json!({ "balance": 20 }))),
        "older one ignored"
    );
    store.save_snapshot(snapshot(20, json!({ "balance": 21 }))).await.unwrap();
    assert_eq!(store.load_snapshot("s").await.unwrap().map(|s| s.state), Some(json!({ "balance": 21 }).into()));
    assert_eq!(store.load_snapshot("other").await.unwrap(), None);
}

#[tokio::test]
async fn a_row_that_does_not_decode_is_reported_with_its_stream_and_version() {
    let store = common::fresh_store().await;
    append(&store, "s", ExpectedVersion::NoStream, deposits(&[1])).await.unwrap();
    let client = common::raw_client().await;
    client
        .execute(
            &format!(
                "INSERT INTO {}.events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata) \
                 VALUES ('account', 's', 2, 'Deposited', 1, '{{}}', '{{\"actor\": 42}}')",
                store.quoted_schema()
            ),
            &[],
        )
        .await
        .unwrap();
    match store.read_stream("s", StreamRange::all()).await {
        Err(StoreError::Corrupt { stream_id, version, cause }) => {
            assert_eq!((stream_id.as_str(), version), ("s", 2));
            assert!(cause.contains("metadata"), "{cause}");
        }
        other => panic!("expected a corrupt row error, got {other:?}"),
    }
    // Poll: read_all may hold the row back while other tests' transactions run.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let read_all = loop {
        match store.read_all(Position::START, 10).await {
            Ok(events) if events.len() < 2 && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            other => break other,
        }
    };
    assert!(matches!(read_all, Err(StoreError::Corrupt { version: 2, .. })), "{read_all:?}");
    assert_eq!(versions(&store.read_stream("s", StreamRange::all().up_to_version(1)).await.unwrap()), [1]);
}

#[tokio::test]
async fn metadata_is_queryable_jsonb() {
    let store = common::fresh_store().await;
    let metadata = Metadata::default().with_correlation_id("req-7").with("tenant", 3);
    store.append("account", "s", ExpectedVersion::Any, deposits(&[1]), &metadata).await.unwrap();
    store.append("account", "t", ExpectedVersion::Any, deposits(&[1]), &Metadata::default()).await.unwrap();
    let client = common::raw_client().await;
    let rows = client
        .query(
            &format!(
                "SELECT stream_id FROM {}.events WHERE metadata->>'correlation_id' = 'req-7' AND (metadata->'extra'->>'tenant')::int = 3",
                store.quoted_schema()
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), ["s"]);
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_unavailable() {
    // Port 1 on localhost: nothing listens there.
    let config: es_postgres::tokio_postgres::Config = "postgres://postgres@127.0.0.1:1/postgres".parse().unwrap();
    let store = PgEventStore::builder(config).build().unwrap();
    let appended = append(&store, "s", ExpectedVersion::Any, deposits(&[1])).await;
    assert!(matches!(appended, Err(StoreError::Unavailable(_))), "{appended:?}");
    assert!(matches!(store.read_all(Position::START, 1).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.migrate().await, Err(PgError::Unreachable { .. })));
    assert!(matches!(
        PgEventStore::connect("postgres://postgres@127.0.0.1:1/postgres").await,
        Err(PgError::Unreachable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_with_any_never_conflict_or_leave_gaps() {
    let store = common::fresh_store().await;
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut appended = Vec::new();
                for i in 0..10 {
                    let events = deposits(&[w * 1000 + i, w * 1000 + i]);
                    appended.push(append(&store, "hot", ExpectedVersion::Any, events).await.unwrap());
                }
                appended
            })
        })
        .collect();
    let mut batches = Vec::new();
    for writer in writers {
        batches.extend(writer.await.unwrap());
    }
    for batch in &batches {
        let v = versions(&batch.events);
        assert_eq!(v, [batch.stream_version - 1, batch.stream_version], "a batch is consecutive");
        assert_eq!(batch.events[0].event, batch.events[1].event, "and not interleaved with another");
    }
    let read = store.read_stream("hot", StreamRange::all()).await.unwrap();
    assert_eq!(versions(&read), (1..=320).collect::<Vec<_>>());
}

/// Many writers commit in whatever order the scheduler picks while a reader
/// follows `read_all`: it sees every event once, in one order that a replay
/// afterwards reproduces.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_reader_sees_every_event_once_in_replay_order() {
    const WRITERS: i64 = 8;
    const APPENDS: i64 = 40;
    let store = common::fresh_store().await;
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let total = (WRITERS * APPENDS * 2) as usize;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let mut seen: Vec<RecordedEvent> = Vec::new();
            let mut after = Position::START;
            while seen.len() < total {
                assert!(std::time::Instant::now() < deadline, "the reader saw only {} events", seen.len());
                let page = store.read_all(after, 7).await.unwrap();
                match page.last() {
                    Some(last) => after = last.position,
                    None => tokio::task::yield_now().await,
                }
                seen.extend(page);
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..APPENDS {
                    let stream = format!("s-{}", fastrand::u8(..5));
                    append(&store, &stream, ExpectedVersion::Any, deposits(&[w, i])).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let live = reader.await.unwrap();

    let mut ids: Vec<(String, u64)> = live.iter().map(|e| (e.stream_id.clone(), e.version)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), live.len(), "no event seen twice");
    assert!(live.windows(2).all(|w| w[0].position < w[1].position), "in increasing position order");
    let replay = common::read_all_through(&store, Position::START, live.last().unwrap().position, 1000).await;
    assert_eq!(replay, live, "a replay reads the same events in the same order");
    assert!(store.read_all(live.last().unwrap().position, 10).await.unwrap().is_empty(), "and nothing more");
}

#[tokio::test]
async fn a_payload_postgres_cannot_store_is_an_error_and_writes_nothing() {
    let store = common::fresh_store().await;
    // JSONB refuses the NUL character that JSON allows.
    let refused =
        append(&store, "s", ExpectedVersion::NoStream, vec![event("Named", json!({ "name": "a\u{0}b" }))]).await;
    match refused {
        Err(StoreError::InvalidInput { reason }) => assert!(reason.contains("\\u0000"), "{reason}"),
        other => panic!("expected invalid input naming the NUL, got {other:?}"),
    }
    let batch = vec![event("Ok", json!({})), event("Named", json!({ "name": "\u{0}" }))];
    assert!(append(&store, "s", ExpectedVersion::Any, batch).await.is_err());
    assert!(store.read_stream("s", StreamRange::all()).await.unwrap().is_empty(), "a batch is all or nothing");
}

#[tokio::test]
async fn large_payloads_round_trip() {
    let store = common::fresh_store().await;
    let big: Vec<String> = (0..20_000).map(|i| format!("item-{i}")).collect();
    let payload = json!({ "items": big, "nested": { "deep": [[1, 2], [3, { "x": null }]] } });
    append(&store, "s", ExpectedVersion::NoStream, vec![event("Big", payload.clone())]).await.unwrap();
    let read = store.read_stream("s", StreamRange::all()).await.unwrap();
    assert_eq!(read[0].event.payload, payload);
}

#[tokio::test]
async fn a_pool_with_no_free_connection_reports_unavailable_after_the_wait() {
    let schema = common::schema_name();
    common::store_in(&schema).await;
    let store = PgEventStore::builder(common::config())
        .schema(&schema)
        .pool_size(1)
        .wait_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let held = store.pool().get().await.unwrap();
    let appended = append(&store, "s", ExpectedVersion::Any, deposits(&[1])).await;
    assert!(matches!(appended, Err(StoreError::Unavailable(_))), "{appended:?}");
    drop(held);
    append(&store, "s", ExpectedVersion::Any, deposits(&[1])).await.unwrap();
}
