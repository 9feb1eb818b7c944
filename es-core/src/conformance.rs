//! The behaviour every [`EventStore`] must have, as tests a backend runs
//! against itself.
//!
//! ```ignore
//! async fn fresh_store() -> MyStore { MyStore::new_isolated().await }
//! es_core::conformance_tests!(fresh_store);
//! ```
//!
//! Each case takes a fresh, empty store and panics with a description of
//! the broken promise.
//!
//! A store may hold events back from `read_all` until every older
//! transaction has ended (that is how it never skips one), so the cases that
//! read the global order read until they have seen what they wrote, within
//! a deadline, as a projection would.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use serde_json::json;

use crate::envelope::{Metadata, Position, RecordedEvent};
use crate::error::StoreError;
use crate::event::EncodedEvent;
use crate::expected_version::ExpectedVersion;
use crate::payload::Payload;
use crate::store::{EventStore, Snapshot, StreamRange};
use crate::stream_id::{MAX_STREAM_ID_LEN, StreamIdProblem};

/// Expands to one `#[tokio::test]` per conformance case, each run against
/// the store returned by `$fresh().await` (an `async fn` giving an isolated,
/// empty store on every call).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@cases $fresh;
            no_stream_creates_a_stream,
            no_stream_refuses_an_existing_stream,
            exact_appends_at_the_current_version,
            exact_refuses_another_version,
            exact_zero_is_no_stream,
            any_appends_whatever_the_version,
            empty_append_only_checks_the_expectation,
            versions_are_consecutive_and_positions_increase,
            unknown_stream_reads_empty,
            read_stream_after_and_up_to_a_version,
            read_stream_up_to_a_time,
            read_all_pages_through_every_event_once,
            payload_and_metadata_round_trip,
            snapshots_keep_the_latest,
            concurrent_exact_appends_admit_one_writer_per_version,
            invalid_stream_ids_are_refused,
            the_longest_stream_id_round_trips,
            snapshot_and_events_are_read_together,
            a_command_id_is_committed_once_per_store,
            a_stream_belongs_to_one_aggregate_type,
            a_payload_that_is_not_json_is_refused,
            a_payload_no_store_can_hold_is_refused_by_every_store,
            an_event_over_the_default_size_limit_is_refused
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case(&$fresh().await).await;
            }
        )*
    };
}

fn event(name: &str, n: i64) -> EncodedEvent {
    EncodedEvent { name: name.to_owned(), schema_version: 1, payload: json!({ "n": n }).into() }
}

fn events(count: i64) -> Vec<EncodedEvent> {
    (1..=count).map(|n| event("Happened", n)).collect()
}

async fn append<S: EventStore>(
    store: &S,
    stream: &str,
    expected: ExpectedVersion,
    count: i64,
) -> Result<u64, StoreError> {
    let appended = store.append("thing", stream, expected, events(count), &Metadata::default()).await?;
    Ok(appended.stream_version)
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

#[track_caller]
fn assert_conflict(result: Result<u64, StoreError>, expected: ExpectedVersion, actual: u64) {
    match result {
        Err(StoreError::Conflict { stream_id, expected: e, actual: a }) => {
            assert_eq!((stream_id.as_str(), e, a), ("s", expected, actual), "conflict fields");
        }
        other => panic!("expected a conflict (expected {expected}, actual {actual}), got {other:?}"),
    }
}

/// Reads the global order in pages of `page` until `count` events are seen,
/// polling while the store holds events back, for at most 30 seconds.
async fn read_all_until<S: EventStore>(store: &S, count: usize, page: usize) -> Vec<RecordedEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<RecordedEvent> = Vec::new();
    while seen.len() < count {
        let after = seen.last().map_or(Position::START, |e| e.position);
        let batch = store.read_all(after, page).await.unwrap();
        assert!(batch.len() <= page, "a page holds at most `limit` events");
        if batch.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "read_all stopped after {} of {count} events", seen.len());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen.extend(batch);
    }
    assert!(store.read_all(seen[count - 1].position, page).await.unwrap().is_empty(), "no event beyond those written");
    seen
}

/// `NoStream` on a new stream appends from version 1.
pub async fn no_stream_creates_a_stream<S: EventStore>(store: &S) {
    assert_eq!(append(store, "s", ExpectedVersion::NoStream, 2).await.unwrap(), 2);
    assert_eq!(versions(&store.read_stream("s", StreamRange::all()).await.unwrap()), [1, 2]);
}

/// `NoStream` on a stream with events is a conflict naming its version.
pub async fn no_stream_refuses_an_existing_stream<S: EventStore>(store: &S) {
    append(store, "s", ExpectedVersion::NoStream, 3).await.unwrap();
    assert_conflict(append(store, "s", ExpectedVersion::NoStream, 1).await, ExpectedVersion::NoStream, 3);
    assert_eq!(store.read_stream("s", StreamRange::all()).await.unwrap().len(), 3, "nothing was appended");
}

/// `Exact(v)` appends when the stream is at `v`.
pub async fn exact_appends_at_the_current_version<S: EventStore>(store: &S) {
    append(store, "s", ExpectedVersion::NoStream, 2).await.unwrap();
    assert_eq!(append(store, "s", ExpectedVersion::Exact(2), 3).await.unwrap(), 5);
}

/// `Exact(v)` is a conflict when the stream is behind or ahead of `v`.
pub async fn exact_refuses_another_version<S: EventStore>(store: &S) {
    append(store, "s", ExpectedVersion::NoStream, 2).await.unwrap();
    assert_conflict(append(store, "s", ExpectedVersion::Exact(1), 1).await, ExpectedVersion::Exact(1), 2);
    assert_conflict(append(store, "s", ExpectedVersion::Exact(3), 1).await, ExpectedVersion::Exact(3), 2);
    assert_eq!(store.read_stream("s", StreamRange::all()).await.unwrap().len(), 2, "nothing was appended");
}

/// `Exact(0)` creates a stream and refuses an existing one, like `NoStream`.
pub async fn exact_zero_is_no_stream<S: EventStore>(store: &S) {
    assert_eq!(append(store, "s", ExpectedVersion::Exact(0), 1).await.unwrap(), 1);
    assert_conflict(append(store, "s", ExpectedVersion::Exact(0), 1).await, ExpectedVersion::Exact(0), 1);
}

/// `Any` appends to new and existing streams.
pub async fn any_appends_whatever_the_version<S: EventStore>(store: &S) {
    assert_eq!(append(store, "s", ExpectedVersion::Any, 1).await.unwrap(), 1);
    assert_eq!(append(store, "s", ExpectedVersion::Any, 2).await.unwrap(), 3);
}

/// Appending nothing checks the expectation and writes nothing.
pub async fn empty_append_only_checks_the_expectation<S: EventStore>(store: &S) {
    append(store, "s", ExpectedVersion::NoStream, 2).await.unwrap();
    assert_eq!(append(store, "s", ExpectedVersion::Exact(2), 0).await.unwrap(), 2);
    assert_conflict(append(store, "s", ExpectedVersion::Exact(5), 0).await, ExpectedVersion::Exact(5), 2);
    let stored = store.read_stream("s", StreamRange::all()).await.unwrap();
    assert_eq!(versions(&stored), [1, 2], "nothing was appended");
}

/// Versions run 1, 2, 3, … per stream; positions grow with every commit
/// across streams, and the envelope names the stream and aggregate type.
pub async fn versions_are_consecutive_and_positions_increase<S: EventStore>(store: &S) {
    let a = store.append("thing", "a", ExpectedVersion::NoStream, events(2), &Metadata::default()).await.unwrap();
    let b = store.append("other", "b", ExpectedVersion::NoStream, events(1), &Metadata::default()).await.unwrap();
    let c = store.append("thing", "a", ExpectedVersion::Exact(2), events(2), &Metadata::default()).await.unwrap();
    assert_eq!(versions(&a.events), [1, 2]);
    assert_eq!(versions(&b.events), [1]);
    assert_eq!(versions(&c.events), [3, 4]);
    let positions: Vec<Position> = [a.events, b.events, c.events].concat().iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions must increase: {positions:?}");
    let stored = store.read_stream("b", StreamRange::all()).await.unwrap();
    assert_eq!((stored[0].stream_id.as_str(), stored[0].aggregate_type.as_str()), ("b", "other"));
}

/// A stream nobody wrote to reads as empty, not as an error.
pub async fn unknown_stream_reads_empty<S: EventStore>(store: &S) {
    assert!(store.read_stream("nobody", StreamRange::all()).await.unwrap().is_empty());
    assert!(store.load_snapshot("nobody").await.unwrap().is_none());
}

/// Ranges select by version, both ends.
pub async fn read_stream_after_and_up_to_a_version<S: EventStore>(store: &S) {
    append(store, "s", ExpectedVersion::NoStream, 10).await.unwrap();
    let read = |range| async move { versions(&store.read_stream("s", range).await.unwrap()) };
    assert_eq!(read(StreamRange::after(7)).await, [8, 9, 10]);
    assert_eq!(read(StreamRange::all().up_to_version(3)).await, [1, 2, 3]);
    assert_eq!(read(StreamRange::after(4).up_to_version(6)).await, [5, 6]);
    assert_eq!(read(StreamRange::after(10)).await, Vec::<u64>::new());
}

/// A time bound keeps exactly the events recorded at or before it.
pub async fn read_stream_up_to_a_time<S: EventStore>(store: &S) {
    let mut recorded = Vec::new();
    for n in 0..5 {
        let appended =
            store.append("thing", "s", ExpectedVersion::Exact(n), events(1), &Metadata::default()).await.unwrap();
        recorded.extend(appended.events);
    }
    let cutoff = recorded[2].recorded_at;
    let expected: Vec<u64> = recorded.iter().filter(|e| e.recorded_at <= cutoff).map(|e| e.version).collect();
    let read = store.read_stream("s", StreamRange::all().up_to_time(cutoff)).await.unwrap();
    assert_eq!(versions(&read), expected);
    assert!(expected.starts_with(&[1, 2, 3]), "the event at the cutoff is included");
}

/// Paging through `read_all` yields every event once, in position order.
pub async fn read_all_pages_through_every_event_once<S: EventStore>(store: &S) {
    for stream in ["a", "b", "c"] {
        for n in 0..3 {
            store
                .append("thing", stream, ExpectedVersion::Exact(n * 3), events(3), &Metadata::default())
                .await
                .unwrap();
        }
    }
    let seen = read_all_until(store, 27, 4).await;
    assert_eq!(seen.len(), 27);
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position), "global order");
    let distinct: HashSet<(String, u64)> = seen.iter().map(|e| (e.stream_id.clone(), e.version)).collect();
    assert_eq!(distinct.len(), 27, "no event twice");
}

/// Names, versions, payloads and metadata come back as written.
pub async fn payload_and_metadata_round_trip<S: EventStore>(store: &S) {
    let metadata = Metadata::default()
        .with_correlation_id("corr")
        .with_causation_id("cause")
        .with_actor("alice")
        .with("ip", "127.0.0.1");
    let written = EncodedEvent {
        name: "Renamed".into(),
        schema_version: 3,
        payload: json!({ "to": "ü \"quoted\"", "n": [1, 2] }).into(),
    };
    store.append("thing", "s", ExpectedVersion::Any, vec![written.clone()], &metadata).await.unwrap();
    let read = store.read_stream("s", StreamRange::all()).await.unwrap();
    assert_eq!(read[0].event, written);
    assert_eq!(read[0].metadata, metadata);
    let all = read_all_until(store, 1, 10).await;
    assert_eq!(all, read, "read_all and read_stream agree");
}

/// The latest snapshot wins; an older one never replaces a newer one. The
/// fingerprint comes back whole, all 64 bits.
pub async fn snapshots_keep_the_latest<S: EventStore>(store: &S) {
    let snapshot = |version: u64| Snapshot {
        aggregate_type: "thing".into(),
        stream_id: "s".into(),
        version,
        schema_version: 2,
        fingerprint: 0xfedc_ba98_7654_3210 ^ version,
        state: json!({ "at": version }).into(),
    };
    store.save_snapshot(snapshot(10)).await.unwrap();
    store.save_snapshot(snapshot(20)).await.unwrap();
    assert_eq!(store.load_snapshot("s").await.unwrap(), Some(snapshot(20)));
    store.save_snapshot(snapshot(15)).await.unwrap();
    assert_eq!(store.load_snapshot("s").await.unwrap(), Some(snapshot(20)));
}

/// Many writers racing with `Exact` on one stream: each version is won by
/// exactly one of them, and the stream has no gap.
pub async fn concurrent_exact_appends_admit_one_writer_per_version<S: EventStore + Clone + 'static>(store: &S) {
    const WRITERS: u64 = 16;
    const ROUNDS: u64 = 5;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0u64;
            for _ in 0..ROUNDS {
                let current = store.read_stream("s", StreamRange::all()).await.unwrap().len() as u64;
                let event = event("Won", writer as i64);
                match store
                    .append("thing", "s", ExpectedVersion::Exact(current), vec![event], &Metadata::default())
                    .await
                {
                    Ok(_) => won += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            won
        }));
    }
    let mut total_won = 0;
    for task in tasks {
        total_won += task.await.unwrap();
    }
    let stored = store.read_stream("s", StreamRange::all()).await.unwrap();
    assert_eq!(versions(&stored), (1..=total_won).collect::<Vec<_>>(), "one winner per version, no gap");
    assert!(total_won >= ROUNDS, "at least one writer wins every round");
}

/// `len` random printable ASCII characters: an id no compression shrinks.
fn random_id(len: usize) -> String {
    let random = RandomState::new();
    (0..len).map(|i| char::from(b'!' + (random.hash_one(i) % 94) as u8)).collect()
}

/// An empty id, one a byte over [`MAX_STREAM_ID_LEN`] and one holding NUL
/// are refused by every operation, before anything is stored.
pub async fn invalid_stream_ids_are_refused<S: EventStore>(store: &S) {
    let too_long = random_id(MAX_STREAM_ID_LEN + 1);
    let cases = [
        ("", StreamIdProblem::Empty),
        (too_long.as_str(), StreamIdProblem::TooLong { len: MAX_STREAM_ID_LEN + 1 }),
        ("a\0b", StreamIdProblem::ContainsNul),
    ];
    for (id, problem) in cases {
        #[track_caller]
        fn refused<T: std::fmt::Debug>(result: Result<T, StoreError>, problem: StreamIdProblem, what: &str) {
            match result {
                Err(StoreError::InvalidStreamId { problem: p, .. }) => assert_eq!(p, problem, "{what}"),
                other => panic!("{what}: expected an invalid stream id ({problem}), got {other:?}"),
            }
        }
        let snapshot = Snapshot {
            aggregate_type: "thing".into(),
            stream_id: id.to_owned(),
            version: 1,
            schema_version: 1,
            fingerprint: 0,
            state: json!({}).into(),
        };
        refused(
            store.append("thing", id, ExpectedVersion::Any, events(1), &Metadata::default()).await,
            problem,
            "append",
        );
        refused(store.read_stream(id, StreamRange::all()).await, problem, "read_stream");
        refused(store.read_stream_events("thing", id, StreamRange::all()).await, problem, "read_stream_events");
        refused(store.save_snapshot(snapshot).await, problem, "save_snapshot");
        refused(store.load_snapshot(id).await, problem, "load_snapshot");
    }
    assert_eq!(store.count().await.unwrap(), 0, "nothing was stored");
}

/// An id of exactly [`MAX_STREAM_ID_LEN`] random characters is stored and
/// read back whole, events and snapshot.
pub async fn the_longest_stream_id_round_trips<S: EventStore>(store: &S) {
    let id = random_id(MAX_STREAM_ID_LEN);
    store.append("thing", &id, ExpectedVersion::NoStream, events(2), &Metadata::default()).await.unwrap();
    let read = store.read_stream(&id, StreamRange::all()).await.unwrap();
    assert_eq!(versions(&read), [1, 2]);
    assert!(read.iter().all(|e| e.stream_id == id), "the id comes back whole");
    let snapshot = Snapshot {
        aggregate_type: "thing".into(),
        stream_id: id.clone(),
        version: 2,
        schema_version: 1,
        fingerprint: u64::MAX,
        state: json!({}).into(),
    };
    store.save_snapshot(snapshot.clone()).await.unwrap();
    assert_eq!(store.load_snapshot(&id).await.unwrap(), Some(snapshot));
}

/// The snapshot and the events after it, as one read: the events start
/// after the snapshot only when it has the schema version asked for, and a
/// snapshot past the end of the range is left out.
pub async fn snapshot_and_events_are_read_together<S: EventStore>(store: &S) {
    let read = |range: StreamRange, schema_version: u32| async move {
        let read = store.read_snapshot_and_events("thing", "s", range, schema_version).await.unwrap();
        (read.snapshot.map(|s| s.version), read.events.iter().map(|(v, _)| *v).collect::<Vec<_>>())
    };
    assert_eq!(read(StreamRange::all(), 1).await, (None, vec![]), "an unknown stream");
    append(store, "s", ExpectedVersion::NoStream, 5).await.unwrap();
    assert_eq!(read(StreamRange::all(), 1).await, (None, vec![1, 2, 3, 4, 5]), "no snapshot");
    let snapshot = Snapshot {
        aggregate_type: "thing".into(),
        stream_id: "s".into(),
        version: 3,
        schema_version: 1,
        fingerprint: 0x8000_0000_0000_0001,
        state: json!({ "at": 3 }).into(),
    };
    store.save_snapshot(snapshot.clone()).await.unwrap();
    assert_eq!(read(StreamRange::all(), 1).await, (Some(3), vec![4, 5]));
    assert_eq!(read(StreamRange::all().up_to_version(4), 1).await, (Some(3), vec![4]));
    assert_eq!(read(StreamRange::all().up_to_version(3), 1).await, (Some(3), vec![]));
    assert_eq!(read(StreamRange::all().up_to_version(2), 1).await, (None, vec![1, 2]), "a snapshot past the range");
    assert_eq!(read(StreamRange::all(), 2).await, (Some(3), vec![1, 2, 3, 4, 5]), "another schema version");
    let whole = store.read_snapshot_and_events("thing", "s", StreamRange::all(), 1).await.unwrap();
    assert_eq!(whole.snapshot, Some(snapshot), "the snapshot read whole");
    assert_eq!(whole.events[0].1, event("Happened", 4), "the events read whole");
}

/// A command id is committed once in the store: sending the command again
/// appends nothing and is refused, its first events can be read back, and
/// the same id sent to another stream is refused too.
pub async fn a_command_id_is_committed_once_per_store<S: EventStore>(store: &S) {
    let command = Metadata::default().with_command_id("req-1");
    let first = store.append("thing", "s", ExpectedVersion::NoStream, events(2), &command).await.unwrap();
    let again = store.append("thing", "s", ExpectedVersion::Any, events(1), &command).await;
    match again {
        Err(StoreError::DuplicateCommand { stream_id, command_id }) => {
            assert_eq!((stream_id.as_str(), command_id.as_str()), ("s", "req-1"));
        }
        other => panic!("expected a duplicate command, got {other:?}"),
    }
    assert_eq!(versions(&store.read_stream("s", StreamRange::all()).await.unwrap()), [1, 2], "nothing appended");
    assert_eq!(store.command_events("s", "req-1").await.unwrap(), Some(first.events));
    assert_eq!(store.command_events("s", "req-2").await.unwrap(), None);
    let other = Metadata::default().with_command_id("req-2");
    store.append("thing", "s", ExpectedVersion::Exact(2), events(1), &other).await.unwrap();
    let elsewhere = store.append("thing", "t", ExpectedVersion::NoStream, events(1), &command).await;
    match elsewhere {
        Err(StoreError::CommandIdTaken { stream_id, command_id, committed_on }) => {
            assert_eq!((stream_id.as_str(), command_id.as_str(), committed_on.as_str()), ("t", "req-1", "s"));
        }
        other => panic!("a command id of stream `s` sent to `t`: expected CommandIdTaken, got {other:?}"),
    }
    assert!(
        store.read_stream("t", StreamRange::all()).await.unwrap().is_empty(),
        "ids are per store: nothing appended"
    );
}

/// A stream belongs to the aggregate type of its first event: appending or
/// reading it as another type is refused with an error naming both, and
/// nothing is written.
pub async fn a_stream_belongs_to_one_aggregate_type<S: EventStore>(store: &S) {
    store.append("cart", "c-1", ExpectedVersion::NoStream, events(2), &Metadata::default()).await.unwrap();
    let snapshot = Snapshot {
        aggregate_type: "cart".into(),
        stream_id: "c-1".into(),
        version: 1,
        schema_version: 1,
        fingerprint: 0,
        state: json!({}).into(),
    };
    store.save_snapshot(snapshot).await.unwrap();
    let wrong = |result: Result<(), StoreError>, what: &str| match result {
        Err(StoreError::WrongAggregateType { stream_id, expected, actual }) => {
            assert_eq!((stream_id.as_str(), expected.as_str(), actual.as_str()), ("c-1", "wishlist", "cart"), "{what}");
        }
        other => panic!("{what} of a cart stream as a wishlist: expected WrongAggregateType, got {other:?}"),
    };
    for expected in
        [ExpectedVersion::Any, ExpectedVersion::Exact(2), ExpectedVersion::NoStream, ExpectedVersion::Exact(1)]
    {
        let appended = store.append("wishlist", "c-1", expected, events(1), &Metadata::default()).await;
        wrong(appended.map(drop), &format!("append expecting {expected}"));
        let one = vec![event("Happened", 3)];
        let many = store.append("wishlist", "c-1", expected, [one.clone(), one].concat(), &Metadata::default()).await;
        wrong(many.map(drop), &format!("append of two expecting {expected}"));
    }
    let command = Metadata::default().with_command_id("req-1");
    wrong(store.append("wishlist", "c-1", ExpectedVersion::Any, events(1), &command).await.map(drop), "a command");
    wrong(store.read_stream_events("wishlist", "c-1", StreamRange::all()).await.map(drop), "read_stream_events");
    let after_snapshot = store.read_snapshot_and_events("wishlist", "c-1", StreamRange::all(), 1).await;
    wrong(after_snapshot.map(drop), "read_snapshot_and_events");
    let before_snapshot = store.read_snapshot_and_events("wishlist", "c-1", StreamRange::after(1), 2).await;
    wrong(before_snapshot.map(drop), "read_snapshot_and_events of another schema version");
    let wishlist = Snapshot {
        aggregate_type: "wishlist".into(),
        stream_id: "c-1".into(),
        version: 2,
        schema_version: 1,
        fingerprint: 0,
        state: json!({ "items": [] }).into(),
    };
    wrong(store.save_snapshot(wishlist).await, "save_snapshot");
    let kept = store.load_snapshot("c-1").await.unwrap().map(|s| (s.aggregate_type, s.version));
    assert_eq!(kept, Some(("cart".to_owned(), 1)), "the cart's snapshot is kept");
    assert_eq!(versions(&store.read_stream("c-1", StreamRange::all()).await.unwrap()), [1, 2], "nothing appended");
    store.append("cart", "c-1", ExpectedVersion::Exact(2), events(1), &Metadata::default()).await.unwrap();
    let read = store.read_stream_events("cart", "c-1", StreamRange::all()).await.unwrap();
    assert_eq!(read.len(), 3, "the cart stream reads as a cart");
}

/// An event whose payload is exactly the default limit is stored and read
/// back whole; one byte more, in the same append, is refused with
/// [`StoreError::EventTooLarge`] naming the event, its size and the limit,
/// and nothing of the append is stored.
pub async fn an_event_over_the_default_size_limit_is_refused<S: EventStore>(store: &S) {
    let limit = crate::DEFAULT_MAX_EVENT_SIZE;
    // `{"blob":"…"}` of `size` bytes.
    let sized = |size: usize| EncodedEvent {
        name: "Uploaded".into(),
        schema_version: 1,
        payload: json!({ "blob": "x".repeat(size - r#"{"blob":""}"#.len()) }).into(),
    };
    let events = vec![sized(limit), sized(limit + 1)];
    let refused = store.append("thing", "big", ExpectedVersion::NoStream, events, &Metadata::default()).await;
    match refused {
        Err(StoreError::EventTooLarge { stream_id, event, size, limit: l }) => {
            assert_eq!((stream_id.as_str(), event.as_str(), size, l), ("big", "Uploaded", limit + 1, limit));
        }
        other => panic!("an event over the limit: expected EventTooLarge, got {other:?}"),
    }
    assert!(store.read_stream("big", StreamRange::all()).await.unwrap().is_empty(), "nothing of the append is stored");
    store.append("thing", "big", ExpectedVersion::NoStream, vec![sized(limit)], &Metadata::default()).await.unwrap();
    let stored = store.read_stream("big", StreamRange::all()).await.unwrap();
    assert_eq!(stored[0].event.payload, sized(limit).payload, "an event at the limit is stored whole");
}

/// A payload or a snapshot state that is not JSON is invalid input, and
/// nothing of its append is stored.
pub async fn a_payload_that_is_not_json_is_refused<S: EventStore>(store: &S) {
    let broken =
        EncodedEvent { name: "Happened".into(), schema_version: 1, payload: Payload::from_json("{\"n\":".into()) };
    let events = vec![event("Happened", 1), broken];
    let appended = store.append("thing", "s", ExpectedVersion::Any, events, &Metadata::default()).await;
    match appended {
        Err(StoreError::InvalidInput { .. }) => {}
        other => panic!("an append of a payload that is not JSON: expected InvalidInput, got {other:?}"),
    }
    assert!(store.read_stream("s", StreamRange::all()).await.unwrap().is_empty(), "nothing of the append is stored");
    let snapshot = Snapshot {
        aggregate_type: "thing".into(),
        stream_id: "s".into(),
        version: 1,
        schema_version: 1,
        fingerprint: 0,
        state: Payload::from_json("not json".into()),
    };
    match store.save_snapshot(snapshot).await {
        Err(StoreError::InvalidInput { .. }) => {}
        other => panic!("a snapshot state that is not JSON: expected InvalidInput, got {other:?}"),
    }
    assert_eq!(store.load_snapshot("s").await.unwrap(), None, "no snapshot is stored");
}

/// What PostgreSQL's `jsonb` refuses in a payload (a NUL character, an
/// unpaired surrogate) every store refuses, with the same error, so that an
/// event one store takes is one every store takes.
pub async fn a_payload_no_store_can_hold_is_refused_by_every_store<S: EventStore>(store: &S) {
    for text in [r#"{"n":"a\u0000"}"#, r#"{"n":"\ud83d"}"#, r#"{"n":"\ude00x"}"#] {
        let event =
            EncodedEvent { name: "Happened".into(), schema_version: 1, payload: Payload::from_json(text.into()) };
        let appended = store.append("thing", "s", ExpectedVersion::Any, vec![event], &Metadata::default()).await;
        match appended {
            Err(StoreError::InvalidInput { reason }) => assert!(reason.contains("refuse"), "{text}: {reason}"),
            other => panic!("{text}: expected InvalidInput, got {other:?}"),
        }
    }
    let paired = EncodedEvent {
        name: "Happened".into(),
        schema_version: 1,
        payload: Payload::from_json(r#"{"n":"\ud83d\ude00 and \\u0000"}"#.into()),
    };
    store.append("thing", "s", ExpectedVersion::NoStream, vec![paired], &Metadata::default()).await.unwrap();
    let stored = store.read_stream("s", StreamRange::all()).await.unwrap();
    let value: serde_json::Value = stored[0].event.payload.deserialize().unwrap();
    assert_eq!(value["n"], "\u{1f600} and \\u0000", "a surrogate pair and an escaped backslash are kept");
}
