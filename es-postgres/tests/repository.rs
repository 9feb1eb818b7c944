//! `es_core::Repository` on Postgres: commands under contention, snapshots,
//! time travel and undecodable events.

mod common;

use std::collections::BTreeSet;
use std::convert::Infallible;

use es_core::{
    Aggregate, DecodeError, EncodedEvent, Error, Event, EventStore, ExecuteError, ExpectedVersion, Metadata, Payload,
    Repository, SnapshotOutcome, StreamRange,
};
use serde::{Deserialize, Serialize};

/// The one event of the test aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Incremented {
    by: u64,
}

impl Event for Incremented {
    fn event_name(&self) -> &'static str {
        "Incremented"
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        Ok(EncodedEvent { name: "Incremented".into(), schema_version: 1, payload: Payload::serialize(self)? })
    }

    fn decode(name: &str, version: u32, payload: &Payload) -> Result<Self, DecodeError> {
        match (name, version) {
            ("Incremented", 1) => payload.deserialize().map_err(|source| DecodeError::Payload {
                name: name.to_owned(),
                version,
                cause: source,
            }),
            ("Incremented", _) => Err(DecodeError::UnknownVersion { name: name.to_owned(), version, current: 1 }),
            _ => Err(DecodeError::UnknownEvent { name: name.to_owned() }),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Counter {
    value: u64,
    increments: u64,
}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    const SNAPSHOT_EVERY: u64 = 10;
    type Event = Incremented;

    fn apply(&mut self, event: &Incremented) {
        self.value += event.by;
        self.increments += 1;
    }
}

fn increment<A>(by: u64) -> impl FnMut(&A) -> Result<Vec<Incremented>, Infallible> {
    move |_| Ok(vec![Incremented { by }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_tasks_on_one_stream_lose_and_duplicate_nothing() {
    let repository = Repository::<Counter, _>::new(common::fresh_store().await);
    let tasks: Vec<_> = (0..32_u64)
        .map(|task| {
            let repository = repository.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for k in 0..4_u64 {
                    // Unique amounts: each event names the command that wrote it.
                    let by = 1 + task * 4 + k;
                    outcomes.push((by, repository.execute("counter-1", increment(by)).await));
                }
                outcomes
            })
        })
        .collect();

    let mut committed = BTreeSet::new();
    let mut versions = BTreeSet::new();
    let mut gave_up = 0;
    for task in tasks {
        for (by, outcome) in task.await.unwrap() {
            match outcome {
                Ok(commit) => {
                    assert_eq!(commit.events, [Incremented { by }]);
                    assert!(versions.insert(commit.version), "version {} committed twice", commit.version);
                    committed.insert(by);
                }
                Err(ExecuteError::Failed(e)) if e.is_conflict() => gave_up += 1,
                Err(e) => panic!("command {by} failed: {e}"),
            }
        }
    }
    assert_eq!(committed.len() + gave_up, 128);
    assert!(!committed.is_empty());

    let stream = repository.store().read_stream("counter-1", StreamRange::all()).await.unwrap();
    let stream_versions: Vec<u64> = stream.iter().map(|e| e.version).collect();
    assert_eq!(stream_versions, (1..=committed.len() as u64).collect::<Vec<_>>(), "no gap, no duplicate");
    assert_eq!(versions, stream_versions.iter().copied().collect(), "each commit reported its own version");
    let written: BTreeSet<u64> =
        stream.iter().map(|e| e.event.payload.deserialize::<Incremented>().unwrap().by).collect();
    assert_eq!(written, committed, "exactly the successful commands are stored");

    let loaded = repository.load("counter-1").await.unwrap();
    assert_eq!(loaded.state.value, committed.iter().sum::<u64>());
    assert_eq!((loaded.state.increments, loaded.version), (committed.len() as u64, committed.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_tasks_through_two_caches_lose_and_overwrite_nothing() {
    let store = common::fresh_store().await;
    // Two repositories with caches of their own, as in two processes: each
    // commits behind the other's cached states.
    let repositories =
        [(), ()].map(|_| Repository::<Counter, _>::new(store.clone()).with_cache(16).with_max_attempts(u32::MAX));
    let tasks: Vec<_> = (0..32_u64)
        .map(|task| {
            let repository = repositories[task as usize % 2].clone();
            tokio::spawn(async move {
                let mut commits = Vec::new();
                for k in 0..4_u64 {
                    let by = 1 + task * 4 + k;
                    let commit = repository.execute("counter-1", increment(by)).await.unwrap();
                    assert_eq!(commit.events, [Incremented { by }]);
                    commits.push((commit.version, by));
                }
                commits
            })
        })
        .collect();
    let mut committed = BTreeSet::new();
    for task in tasks {
        committed.extend(task.await.unwrap());
    }

    let stream = store.read_stream("counter-1", StreamRange::all()).await.unwrap();
    let stored: BTreeSet<(u64, u64)> =
        stream.iter().map(|e| (e.version, e.event.payload.deserialize::<Incremented>().unwrap().by)).collect();
    assert_eq!(stored.iter().map(|(v, _)| *v).collect::<Vec<_>>(), (1..=128).collect::<Vec<_>>(), "no gap");
    assert_eq!(stored, committed, "every command at the version it reported, and nothing else");
    let mut replayed = Counter::default();
    stream.iter().for_each(|e| replayed.apply(&e.event.payload.deserialize().unwrap()));
    for repository in &repositories {
        // From the snapshot the commands took, and the events after it.
        let loaded = repository.load("counter-1").await.unwrap();
        let expected = (replayed.increments, replayed.value, replayed.increments);
        assert_eq!((loaded.version, loaded.state.value, loaded.state.increments), expected);
        // Whatever its cache holds, the next command runs on that state.
        let next = repository.execute("counter-1", increment(0)).await.unwrap();
        assert_eq!((next.version, next.state.value), (loaded.version + 1, replayed.value));
        replayed = next.state;
    }
}

#[tokio::test]
async fn loads_start_from_the_latest_snapshot() {
    let repository = Repository::<Counter, _>::new(common::fresh_store().await);
    let mut snapshots = Vec::new();
    for by in 1..=25 {
        let commit = repository.execute("c", increment(by)).await.unwrap();
        match commit.snapshot {
            SnapshotOutcome::Saved { version } => snapshots.push(version),
            SnapshotOutcome::NotDue => {}
            other => panic!("snapshot failed: {other:?}"),
        }
    }
    assert_eq!(snapshots, [10, 20]);
    let stored = repository.store().load_snapshot("c").await.unwrap().expect("a snapshot");
    assert_eq!((stored.version, stored.aggregate_type.as_str()), (20, "counter"));

    let loaded = repository.load("c").await.unwrap();
    assert_eq!(loaded.snapshot_at, Some(20));
    assert_eq!((loaded.version, loaded.state.value, loaded.state.increments), (25, (1..=25).sum(), 25));

    let past = repository.load_at_version("c", 7).await.unwrap();
    assert_eq!((past.version, past.state.value, past.snapshot_at), (7, (1..=7).sum(), None));
}

#[tokio::test]
async fn loads_travel_back_in_time() {
    let repository = Repository::<Counter, _>::new(common::fresh_store().await);
    let first = repository.execute("c", increment(5)).await.unwrap();
    let at = repository.store().read_stream("c", StreamRange::all()).await.unwrap()[0].recorded_at;
    // Postgres keeps microseconds: let the clock pass the first commit's.
    while std::time::SystemTime::now() <= at + std::time::Duration::from_micros(2) {
        std::hint::spin_loop();
    }
    repository.execute("c", increment(7)).await.unwrap();
    assert_eq!(first.version, 1);
    let then = repository.load_as_of("c", at).await.unwrap();
    assert_eq!((then.version, then.state.value), (1, 5));
    assert_eq!(repository.load("c").await.unwrap().state.value, 12);
}

#[tokio::test]
async fn an_event_that_does_not_decode_names_its_stream_and_version() {
    let repository = Repository::<Counter, _>::new(common::fresh_store().await);
    repository.execute("c", increment(1)).await.unwrap();
    let odd = EncodedEvent {
        name: "Incremented".into(),
        schema_version: 1,
        payload: serde_json::json!({ "by": "two" }).into(),
    };
    repository
        .store()
        .append("counter", "c", ExpectedVersion::Exact(1), vec![odd], &Metadata::default())
        .await
        .unwrap();
    match repository.load("c").await {
        Err(Error::Decode { stream_id, version, cause: DecodeError::Payload { .. } }) => {
            assert_eq!((stream_id.as_str(), version), ("c", 2));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// A client retries one request 16 times at once: the command, sent with one
/// command id, appends once, and every execution returns that commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_sends_of_one_command_append_once() {
    let repository = Repository::<Counter, _>::new(common::fresh_store().await).with_max_attempts(64);
    repository.execute("counter-1", increment(1)).await.unwrap();
    let request = Metadata::default().with_command_id("request-7");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (repository, request) = (repository.clone(), request.clone());
            tokio::spawn(async move {
                let committed = repository.execute_with("counter-1", &request, increment(5)).await.unwrap();
                (committed.version, committed.position, committed.events, committed.state.value, committed.attempts)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let first = (results[0].0, results[0].1, results[0].2.clone(), results[0].3);
    assert!(results.iter().all(|r| (r.0, r.1, r.2.clone(), r.3) == first), "16 identical results: {results:?}");
    assert_eq!((first.0, first.3), (2, 6));
    assert_eq!(results.iter().filter(|r| r.4 > 0).count(), 1, "the command ran to a commit once");
    let stream = repository.store().read_stream("counter-1", StreamRange::all()).await.unwrap();
    assert_eq!(stream.len(), 2, "one append");
    assert_eq!(stream[1].metadata.command_id.as_deref(), Some("request-7"));

    // Sent again later, with the stream moved on: still the first commit.
    repository.execute("counter-1", increment(100)).await.unwrap();
    let again = repository.execute_with("counter-1", &request, increment(5)).await.unwrap();
    assert_eq!((again.version, again.state.value, again.attempts), (2, 6, 0));
}

/// One command id sent from eight processes (stores with pools of their
/// own) at once, four with the committed request's fingerprint and four
/// with another body's: one commit; the first four get it, the others
/// `CommandIdReused` naming both fingerprints, and nothing more is
/// appended. A later send of the other body is refused the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_id_reused_with_another_request_is_refused_across_processes() {
    let schema = common::schema_name();
    let first = Repository::<Counter, _>::new(common::store_in(&schema).await);
    first.execute("counter-1", increment(1)).await.unwrap();
    let mut tasks = Vec::new();
    for process in 0..8 {
        let repository = Repository::<Counter, _>::new(common::store_in(&schema).await).with_max_attempts(64);
        let (fingerprint, by) = if process % 2 == 0 { ("qty=5", 5) } else { ("qty=500", 500) };
        let request = Metadata::default().with_command_id_for("receive-7", fingerprint);
        tasks.push(tokio::spawn(async move {
            (fingerprint, repository.execute_with("counter-1", &request, increment(by)).await)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let committed: Vec<_> =
        outcomes.iter().filter_map(|(f, r)| r.as_ref().ok().map(|c| (*f, c.version, c.state.value))).collect();
    let winner = committed[0].0;
    let refused = outcomes.iter().filter(|(f, r)| {
        matches!(r, Err(ExecuteError::Failed(Error::CommandIdReused { committed, sent, .. })) if committed == winner && sent == *f)
    });
    assert_eq!(committed.len(), 4, "{outcomes:?}");
    assert!(
        committed.iter().all(|c| c.0 == winner && c.1 == 2),
        "one commit, returned to its own request: {committed:?}"
    );
    assert_eq!(refused.count(), 4, "the other request is refused: {outcomes:?}");
    let stream = first.store().read_stream("counter-1", StreamRange::all()).await.unwrap();
    assert_eq!(stream.len(), 2, "one append");

    let other = if winner == "qty=5" { "qty=500" } else { "qty=5" };
    let resent = Metadata::default().with_command_id_for("receive-7", other);
    let error = first.execute_with("counter-1", &resent, increment(9)).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("command id `receive-7`") && text.contains(&format!("`{winner}`, not `{other}`")), "{text}");
    assert_eq!(first.store().read_stream("counter-1", StreamRange::all()).await.unwrap().len(), 2);
}

/// Another aggregate type over the same event, without snapshots.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Gauge {
    level: u64,
}

impl Aggregate for Gauge {
    const TYPE: &'static str = "gauge";
    type Event = Incremented;

    fn apply(&mut self, event: &Incremented) {
        self.level += event.by;
    }
}

/// Asserts that `result` refused stream `id` of aggregate type `actual` used
/// as `expected`, with a message naming both.
fn assert_wrong_type<T: std::fmt::Debug>(result: Result<T, Error>, id: &str, expected: &str, actual: &str) {
    match result {
        Err(Error::Store(error @ es_core::StoreError::WrongAggregateType { .. })) => {
            let text = error.to_string();
            for part in [id, expected, actual] {
                assert!(text.contains(&format!("`{part}`")), "{text:?} names `{part}`");
            }
            let es_core::StoreError::WrongAggregateType { stream_id, expected: e, actual: a } = error else {
                unreachable!()
            };
            assert_eq!((stream_id.as_str(), e.as_str(), a.as_str()), (id, expected, actual));
        }
        other => panic!("expected WrongAggregateType for `{id}`, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_of_another_aggregate_type_is_refused_naming_both() {
    let store = common::fresh_store().await;
    let counters = Repository::<Counter, _>::new(&store);
    let gauges = Repository::<Gauge, _>::new(&store);
    for _ in 0..12 {
        counters.execute("shared-id", increment(1)).await.unwrap();
    }
    gauges.execute("gauge-1", increment(5)).await.unwrap();

    // Without snapshots (read_stream_events) and with them
    // (read_snapshot_and_events, a snapshot was taken at version 10).
    assert_wrong_type(gauges.load("shared-id").await, "shared-id", "gauge", "counter");
    let executed = gauges.execute("shared-id", increment(1)).await.map_err(|e| match e {
        ExecuteError::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    });
    assert_wrong_type(executed, "shared-id", "gauge", "counter");
    assert_wrong_type(counters.load("gauge-1").await, "gauge-1", "counter", "gauge");
    assert_wrong_type(counters.load_at_version("gauge-1", 1).await, "gauge-1", "counter", "gauge");

    // Nothing was written, and each stream still loads as its own type.
    assert_eq!(store.read_stream("shared-id", StreamRange::all()).await.unwrap().len(), 12);
    assert_eq!(counters.load("shared-id").await.unwrap().state.value, 12);
    assert_eq!(gauges.load("gauge-1").await.unwrap().state.level, 5);
}

/// One command id sent at once to eight streams from eight processes: one
/// commits, the seven others are refused naming the stream it committed
/// on, and nothing else is appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_id_commits_once_in_the_store_across_streams() {
    let schema = common::schema_name();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = common::store_in(&schema).await;
        tasks.push(tokio::spawn(async move {
            let request = Metadata::default().with_command_id("transfer-9");
            let event = Incremented { by: 1 }.encode().unwrap();
            store.append("counter", &format!("counter-{n}"), ExpectedVersion::NoStream, vec![event], &request).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let committed: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(committed.len(), 1, "{outcomes:?}");
    let winner = &committed[0].events[0].stream_id;
    let refused = outcomes.iter().filter(|o| {
        matches!(o, Err(es_core::StoreError::CommandIdTaken { committed_on, command_id, .. }) if committed_on == winner && command_id == "transfer-9")
    });
    assert_eq!(refused.count(), 7, "{outcomes:?}");
    let store = common::store_in(&schema).await;
    let all = store.read_all(es_core::Position::START, 100).await.unwrap();
    assert_eq!(all.len(), 1, "one append in the whole store");
}
