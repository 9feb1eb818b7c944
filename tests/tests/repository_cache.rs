//! The repository's state cache on the in-memory store: what it saves, and
//! that it never decides on a state behind the stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use es_core::{
    Aggregate, Appended, EncodedEvent, Event, EventStore, ExpectedVersion, InMemoryEventStore, Metadata, Position,
    RecordedEvent, Repository, Snapshot, SnapshotOutcome, StoreError, StreamRange,
};
use es_examples::account::{Account, AccountError, AccountEvent};

/// The in-memory store, counting the reads and appends asked of it.
#[derive(Clone, Default)]
struct Counting {
    inner: Arc<InMemoryEventStore>,
    reads: Arc<AtomicU32>,
    appends: Arc<AtomicU32>,
}

impl Counting {
    fn reads(&self) -> u32 {
        self.reads.load(Ordering::SeqCst)
    }

    fn appends(&self) -> u32 {
        self.appends.load(Ordering::SeqCst)
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

impl EventStore for Counting {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        self.inner.append(aggregate_type, stream_id, expected, events, metadata).await
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read();
        self.inner.read_stream(stream_id, range).await
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot).await
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        self.read();
        self.inner.load_snapshot(stream_id).await
    }
}

type Accounts = Repository<Account, Counting>;

fn cached(store: &Counting, capacity: usize) -> Accounts {
    Repository::new(store.clone()).with_cache(capacity)
}

/// The stream folded from its first event, without the repository.
async fn replay(store: &impl EventStore, id: &str) -> Account {
    let mut state = Account::default();
    for recorded in store.read_stream(id, StreamRange::all()).await.unwrap() {
        let e = recorded.event;
        state.apply(&AccountEvent::decode(&e.name, e.schema_version, &e.payload).unwrap());
    }
    state
}

#[tokio::test]
async fn a_command_on_a_cached_stream_only_appends() {
    let store = Counting::default();
    let accounts = cached(&store, 100);
    accounts.execute("a", |a| a.open("alice")).await.unwrap();
    let reads = store.reads();
    for amount in 1..=3 {
        let committed = accounts.execute("a", |a| a.deposit(amount)).await.unwrap();
        assert_eq!(committed.attempts, 1);
    }
    assert_eq!(store.reads(), reads, "no read after the first command");
    assert_eq!(store.appends(), 4);
    assert_eq!(accounts.load("a").await.unwrap().state, replay(&store, "a").await);
}

#[tokio::test]
async fn without_a_cache_every_command_loads() {
    let store = Counting::default();
    for capacity in [None, Some(0)] {
        let mut accounts = Repository::<Account, _>::new(store.clone());
        if let Some(capacity) = capacity {
            accounts = accounts.with_cache(capacity);
        }
        let id = format!("a-{capacity:?}");
        accounts.execute(&id, |a| a.open("alice")).await.unwrap();
        let reads = store.reads();
        accounts.execute(&id, |a| a.deposit(1)).await.unwrap();
        assert!(store.reads() > reads, "capacity {capacity:?} loaded the stream");
    }
}

#[tokio::test]
async fn a_write_from_elsewhere_is_never_overwritten() {
    let store = Counting::default();
    let here = cached(&store, 100);
    let elsewhere = cached(&store, 100);
    here.execute("a", |a| a.open("alice")).await.unwrap();
    here.execute("a", |a| a.deposit(10)).await.unwrap();
    elsewhere.execute("a", |a| a.deposit(5)).await.unwrap();

    // `here` caches version 2; the stream is at 3.
    let mut seen = Vec::new();
    let committed = here
        .execute("a", |a| {
            seen.push(a.balance);
            a.deposit(1)
        })
        .await
        .unwrap();
    assert_eq!(seen, [10, 15], "ran on the cached state, then on the current one");
    assert_eq!((committed.version, committed.state.balance, committed.attempts), (4, 16, 2));
    assert_eq!(committed.state, replay(&store, "a").await);
    // The cache holds the new state.
    let committed = here.execute("a", |a| a.deposit(1)).await.unwrap();
    assert_eq!((committed.version, committed.attempts), (5, 1));
}

#[tokio::test]
async fn a_stale_cached_state_costs_no_attempt() {
    let store = Counting::default();
    let here = cached(&store, 100).with_max_attempts(1);
    here.execute("a", |a| a.open("alice")).await.unwrap();
    cached(&store, 100).execute("a", |a| a.deposit(5)).await.unwrap();
    let committed = here.execute("a", |a| a.deposit(1)).await.unwrap();
    assert_eq!((committed.version, committed.state.balance, committed.attempts), (3, 6, 2));
}

#[tokio::test]
async fn a_rejection_is_decided_on_the_current_state() {
    let store = Counting::default();
    let here = cached(&store, 100);
    here.execute("a", |a| a.open("alice")).await.unwrap();
    cached(&store, 100).execute("a", |a| a.deposit(50)).await.unwrap();
    // The cached balance is 0, the stream's 50.
    let committed = here.execute("a", |a| a.withdraw(30)).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (3, 20));

    // A rejection by the current state is reported, and writes nothing.
    let err = here.execute("a", |a| a.withdraw(100)).await.unwrap_err();
    assert_eq!(err.rejection(), Some(&AccountError::InsufficientFunds { balance: 20, requested: 100 }));
    assert_eq!(here.load("a").await.unwrap().version, 3);
}

#[tokio::test]
async fn the_least_recently_used_stream_makes_room() {
    let store = Counting::default();
    let accounts = cached(&store, 1);
    accounts.execute("a", |a| a.open("alice")).await.unwrap();
    accounts.execute("b", |a| a.open("bob")).await.unwrap();
    let reads = store.reads();
    accounts.execute("b", |a| a.deposit(1)).await.unwrap();
    assert_eq!(store.reads(), reads, "b is cached");
    accounts.execute("a", |a| a.deposit(1)).await.unwrap();
    assert!(store.reads() > reads, "a made room for b and was loaded");
}

#[tokio::test]
async fn snapshots_are_taken_as_without_the_cache() {
    // The account snapshots every 5 events.
    let store = Counting::default();
    let accounts = cached(&store, 100);
    accounts.execute("a", |a| a.open("alice")).await.unwrap();
    let mut taken = Vec::new();
    for _ in 0..9 {
        let committed = accounts.execute("a", |a| a.deposit(1)).await.unwrap();
        if let SnapshotOutcome::Saved { version } = committed.snapshot {
            taken.push(version);
        }
    }
    assert_eq!(taken, [5, 10]);
    let snapshot = store.load_snapshot("a").await.unwrap().unwrap();
    assert_eq!(snapshot.state.deserialize::<Account>().unwrap(), replay(&store, "a").await);
    assert_eq!(accounts.load_at_version("a", 3).await.unwrap().state.balance, 2, "time travel reads the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repositories_with_their_own_caches_share_a_stream_safely() {
    let store = Counting::default();
    let repositories = [cached(&store, 100).with_max_attempts(1000), cached(&store, 100).with_max_attempts(1000)];
    repositories[0].execute("a", |a| a.open("alice")).await.unwrap();
    let tasks: Vec<_> = (0..16_i64)
        .map(|task| {
            let accounts = repositories[task as usize % 2].clone();
            tokio::spawn(async move {
                for k in 0..8 {
                    accounts.execute("a", |a| a.deposit(1 + task * 8 + k)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let state = replay(&store, "a").await;
    assert_eq!(state.balance, (1..=128).sum::<i64>());
    for accounts in &repositories {
        // Whatever each cache holds, the next command runs on the current
        // state.
        let committed = accounts.execute("a", |a| a.deposit(1)).await.unwrap();
        assert_eq!(committed.state, replay(&store, "a").await);
    }
}

#[tokio::test]
async fn a_command_sent_twice_commits_once_as_without_the_cache() {
    let store = Counting::default();
    let here = cached(&store, 100);
    let elsewhere = cached(&store, 100);
    here.execute("a", |a| a.open("alice")).await.unwrap();
    here.execute("a", |a| a.deposit(1)).await.unwrap();
    let request = Metadata::default().with_command_id("req-1");
    // Committed elsewhere first, while `here` caches version 2.
    let first = elsewhere.execute_with("a", &request, |a| a.deposit(10)).await.unwrap();
    let again = here.execute_with("a", &request, |a| a.deposit(10)).await.unwrap();
    assert_eq!((again.version, again.attempts, again.state.balance), (first.version, 0, 11), "the first commit");
    let again = elsewhere.execute_with("a", &request, |a| a.deposit(10)).await.unwrap();
    assert_eq!((again.version, again.attempts), (first.version, 0));
    assert_eq!(replay(&store, "a").await.balance, 11, "appended once");
}
