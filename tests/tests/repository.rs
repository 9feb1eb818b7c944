//! The repository on the in-memory store: loading, retries, snapshots and
//! time travel, with the bank account of the examples.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use es_core::{
    Aggregate, Appended, EncodedEvent, Error, Event, EventStore, ExecuteError, ExpectedVersion, InMemoryEventStore,
    Metadata, Position, RecordedEvent, Repository, Snapshot, SnapshotOutcome, StoreError, StreamRange,
};
use es_examples::account::{Account, AccountError, AccountEvent, Deposited};
use serde_json::json;

type Accounts<S = InMemoryEventStore> = Repository<Account, S>;

async fn opened_account(accounts: &Accounts<impl EventStore>, id: &str) {
    accounts.execute(id, |a| a.open("alice")).await.unwrap();
}

/// Folds a stream from its first event, without the repository.
async fn replay(store: &impl EventStore, id: &str) -> Account {
    let mut state = Account::default();
    for recorded in store.read_stream(id, StreamRange::all()).await.unwrap() {
        let e = recorded.event;
        state.apply(&AccountEvent::decode(&e.name, e.schema_version, &e.payload).unwrap());
    }
    state
}

#[tokio::test]
async fn execute_returns_what_it_committed() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let committed = accounts.execute("a", |a| a.deposit(70)).await.unwrap();
    assert_eq!(committed.version, 2);
    assert_eq!(committed.events, [AccountEvent::from(Deposited { amount: 70 })]);
    assert_eq!(committed.state.balance, 70);
    assert_eq!(committed.attempts, 1);
    let stored = accounts.store().read_stream("a", StreamRange::all()).await.unwrap();
    assert_eq!(committed.position, Some(stored[1].position), "the position of the last event committed");
    assert_eq!(stored[1].aggregate_type, "account");
}

#[tokio::test]
async fn a_rejected_command_writes_nothing() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let err = accounts.execute("a", |a| a.withdraw(1)).await.unwrap_err();
    assert_eq!(err.rejection(), Some(&AccountError::InsufficientFunds { balance: 0, requested: 1 }));
    assert_eq!(accounts.load("a").await.unwrap().version, 1);
}

#[tokio::test]
async fn a_command_producing_no_events_commits_nothing() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let committed = accounts.execute("a", |_| Ok::<_, AccountError>(vec![])).await.unwrap();
    assert_eq!((committed.version, committed.position), (1, None));
}

#[tokio::test]
async fn metadata_is_recorded_with_every_event() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    let metadata = Metadata::default().with_actor("teller-7").with_correlation_id("req-1");
    accounts.execute_with("a", &metadata, |a| a.open("alice")).await.unwrap();
    let stored = accounts.store().read_stream("a", StreamRange::all()).await.unwrap();
    assert_eq!(stored[0].metadata, metadata);
}

/// A store with faults to order: another writer appends right before each
/// of the next `interruptions` appends, so they conflict; snapshot writes
/// fail when `snapshots_fail` is set; reads leave out the event at
/// `hidden_version`, as a damaged store or a clock that stepped back would.
#[derive(Clone, Default)]
struct Faulty {
    inner: InMemoryEventStore,
    interruptions: Arc<AtomicU32>,
    snapshots_fail: bool,
    hidden_version: Option<u64>,
}

impl Faulty {
    fn new(interruptions: u32) -> Self {
        Faulty { interruptions: Arc::new(AtomicU32::new(interruptions)), ..Faulty::default() }
    }
}

impl EventStore for Faulty {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let interrupt =
            self.interruptions.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if interrupt {
            let other = Deposited { amount: 1 }.encode().unwrap();
            self.inner.append(aggregate_type, stream_id, ExpectedVersion::Any, vec![other], metadata).await?;
        }
        self.inner.append(aggregate_type, stream_id, expected, events, metadata).await
    }
    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = self.inner.read_stream(stream_id, range).await?;
        events.retain(|e| Some(e.version) != self.hidden_version);
        Ok(events)
    }
    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        if self.snapshots_fail {
            return Err(StoreError::Backend("snapshots table is full".into()));
        }
        self.inner.save_snapshot(snapshot).await
    }
    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream_id).await
    }
}

#[tokio::test]
async fn a_conflict_reloads_and_runs_the_command_again() {
    let store = Faulty::new(0);
    let accounts = Accounts::new(store.clone()).with_max_attempts(3);
    opened_account(&accounts, "a").await;
    store.interruptions.store(2, Ordering::SeqCst);
    let mut balances_seen = Vec::new();
    let committed = accounts
        .execute("a", |a| {
            balances_seen.push(a.balance);
            a.deposit(100)
        })
        .await
        .unwrap();
    assert_eq!(committed.attempts, 3);
    assert_eq!(balances_seen, [0, 1, 2], "each attempt saw the other writer's new event");
    assert_eq!(committed.state.balance, 102);
    assert_eq!(committed.version, 4);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_typed_error() {
    let store = Faulty::new(0);
    let accounts = Accounts::new(store.clone()).with_max_attempts(3);
    opened_account(&accounts, "a").await;
    store.interruptions.store(3, Ordering::SeqCst);
    let mut runs = 0;
    let err = accounts
        .execute("a", |a| {
            runs += 1;
            a.deposit(100)
        })
        .await
        .unwrap_err();
    match err {
        ExecuteError::Failed(e @ Error::RetriesExhausted { .. }) => {
            let text = e.to_string();
            let Error::RetriesExhausted { stream_id, attempts, expected, actual } = e else { unreachable!() };
            assert_eq!((stream_id.as_str(), attempts, runs), ("a", 3, 3));
            // The last attempt loaded version 3 and lost to the other
            // writer's fourth event.
            assert_eq!((expected, actual), (ExpectedVersion::Exact(3), 4), "the last conflict is kept");
            assert!(text.contains("expected version 3, but the stream was at version 4"), "{text}");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(replay(accounts.store(), "a").await.balance, 3, "only the other writer's events were stored");
}

#[tokio::test]
async fn a_snapshot_is_taken_when_a_commit_crosses_the_interval() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let committed = accounts.execute("a", |a| a.deposit(10)).await.unwrap();
        outcomes.push((committed.version, matches!(committed.snapshot, SnapshotOutcome::Saved { .. })));
    }
    let taken: Vec<u64> = outcomes.iter().filter(|(_, saved)| *saved).map(|(v, _)| *v).collect();
    assert_eq!(taken, [5], "Account snapshots every {} events", Account::SNAPSHOT_EVERY);
    let snapshot = accounts.store().load_snapshot("a").await.unwrap().unwrap();
    assert_eq!((snapshot.version, snapshot.schema_version), (5, Account::SNAPSHOT_SCHEMA_VERSION));
    let loaded = accounts.load("a").await.unwrap();
    assert_eq!((loaded.snapshot_at, loaded.version, loaded.state.balance), (Some(5), 7, 60));
}

/// Random command sequences: the state loaded through snapshots always
/// equals a replay of every event from the start.
#[tokio::test]
async fn snapshot_plus_tail_equals_full_replay() {
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..40 {
        let accounts = Accounts::new(InMemoryEventStore::new());
        opened_account(&accounts, "a").await;
        for _ in 0..rng.usize(0..40) {
            let amount = rng.i64(-5..200);
            let _ = match rng.u8(0..10) {
                0..=5 => accounts.execute("a", |a| a.deposit(amount)).await,
                6..=8 => accounts.execute("a", |a| a.withdraw(amount)).await,
                _ => accounts.execute("a", |a| a.close()).await,
            };
        }
        let loaded = accounts.load("a").await.unwrap();
        assert_eq!(loaded.state, replay(accounts.store(), "a").await, "round {round}");
        if loaded.version >= 5 {
            assert!(loaded.snapshot_at.is_some(), "round {round}: a snapshot was used");
        }
    }
}

async fn account_with_snapshot(state: serde_json::Value, schema_version: u32) -> Accounts {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    for amount in [10, 20, 30] {
        accounts.execute("a", |a| a.deposit(amount)).await.unwrap();
    }
    let snapshot = Snapshot {
        aggregate_type: "account".into(),
        stream_id: "a".into(),
        version: 3,
        schema_version,
        fingerprint: Account::SNAPSHOT_FINGERPRINT,
        state: state.into(),
    };
    accounts.store().save_snapshot(snapshot).await.unwrap();
    accounts
}

#[tokio::test]
async fn an_undecodable_snapshot_falls_back_to_replay_and_is_replaced() {
    let accounts = account_with_snapshot(json!({ "garbage": true }), Account::SNAPSHOT_SCHEMA_VERSION).await;
    let loaded = accounts.load("a").await.unwrap();
    assert_eq!((loaded.snapshot_at, loaded.version, loaded.state.balance), (None, 4, 60));
    let replaced = accounts.store().load_snapshot("a").await.unwrap().unwrap();
    assert_eq!(replaced.version, 4);
    assert_eq!(accounts.load("a").await.unwrap().snapshot_at, Some(4));
}

#[tokio::test]
async fn a_snapshot_of_another_schema_version_is_ignored() {
    let wrong = json!({ "owner": "mallory", "balance": 1_000_000, "closed": false });
    let accounts = account_with_snapshot(wrong, Account::SNAPSHOT_SCHEMA_VERSION + 1).await;
    let loaded = accounts.load("a").await.unwrap();
    assert_eq!((loaded.snapshot_at, loaded.state.balance), (None, 60));
    assert_eq!(loaded.state.owner.as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_snapshot_of_an_older_schema_version_is_replaced_and_one_of_a_newer_is_kept() {
    let state = json!({ "owner": "mallory", "balance": 1_000_000, "closed": false });
    let older = account_with_snapshot(state.clone(), Account::SNAPSHOT_SCHEMA_VERSION - 1).await;
    assert_eq!(older.load("a").await.unwrap().state.balance, 60);
    let replaced = older.store().load_snapshot("a").await.unwrap().unwrap();
    assert_eq!((replaced.version, replaced.schema_version), (4, Account::SNAPSHOT_SCHEMA_VERSION));

    let newer = account_with_snapshot(state, Account::SNAPSHOT_SCHEMA_VERSION + 1).await;
    assert_eq!(newer.load("a").await.unwrap().state.balance, 60);
    let kept = newer.store().load_snapshot("a").await.unwrap().unwrap();
    assert_eq!(
        (kept.version, kept.schema_version),
        (3, Account::SNAPSHOT_SCHEMA_VERSION + 1),
        "a newer release's snapshot"
    );
}

#[tokio::test]
async fn a_failed_snapshot_write_does_not_fail_the_command() {
    let accounts = Repository::<Account, _>::new(Faulty { snapshots_fail: true, ..Faulty::default() });
    opened_account(&accounts, "a").await;
    for _ in 0..3 {
        accounts.execute("a", |a| a.deposit(1)).await.unwrap();
    }
    let committed = accounts.execute("a", |a| a.deposit(1)).await.unwrap();
    assert_eq!(committed.version, 5);
    assert!(matches!(committed.snapshot, SnapshotOutcome::Failed(_)), "got {:?}", committed.snapshot);
    assert_eq!(accounts.load("a").await.unwrap().state.balance, 4);
}

#[tokio::test]
async fn a_stream_with_a_missing_version_is_reported_not_folded() {
    let accounts = Repository::<Account, _>::new(Faulty { hidden_version: Some(2), ..Faulty::default() });
    opened_account(&accounts, "a").await;
    for amount in [10, 20] {
        accounts
            .store()
            .inner
            .append(
                "account",
                "a",
                ExpectedVersion::Any,
                vec![Deposited { amount }.encode().unwrap()],
                &Metadata::default(),
            )
            .await
            .unwrap();
    }
    match accounts.load("a").await.unwrap_err() {
        Error::Store(StoreError::Corrupt { stream_id, version, cause }) => {
            assert_eq!((stream_id.as_str(), version), ("a", 3));
            assert!(cause.contains("from version 1 to 3"), "{cause}");
        }
        other => panic!("expected a corrupt-stream error, got {other:?}"),
    }
    // As of a time, the history as it stood is the unbroken prefix.
    let past = accounts.load_as_of("a", SystemTime::now()).await.unwrap();
    assert_eq!((past.version, past.state.balance), (1, 0));
}

#[tokio::test]
async fn time_travel_by_version() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    for amount in 1..=9 {
        accounts.execute("a", |a| a.deposit(amount)).await.unwrap();
    }
    for version in 0..=10u64 {
        let past = accounts.load_at_version("a", version).await.unwrap();
        let expected: i64 = (1..version as i64).sum();
        assert_eq!((past.version, past.state.balance), (version, expected), "at version {version}");
    }
    let at_snapshot = accounts.load_at_version("a", 10).await.unwrap();
    assert_eq!(at_snapshot.snapshot_at, Some(10), "the snapshot is used when it is not past the target");
    let before_snapshot = accounts.load_at_version("a", 7).await.unwrap();
    assert_eq!(before_snapshot.snapshot_at, None, "a snapshot past the target is not");
}

#[tokio::test]
async fn time_travel_past_the_head_is_an_error_naming_it() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    accounts.execute("a", |a| a.deposit(5)).await.unwrap();
    match accounts.load_at_version("a", 3).await {
        Err(e @ Error::VersionNotReached { .. }) => {
            assert!(e.to_string().contains("stream `a` has no version 3: it ends at version 2"), "{e}");
            assert!(matches!(e, Error::VersionNotReached { version: 3, head: 2, .. }));
        }
        other => panic!("expected VersionNotReached, got {other:?}"),
    }
    assert!(matches!(accounts.load_at_version("nobody", 1).await, Err(Error::VersionNotReached { head: 0, .. })));
    assert_eq!(accounts.load_at_version("nobody", 0).await.unwrap().version, 0, "version 0 is every stream's start");
}

#[tokio::test]
async fn a_store_can_be_shared_by_reference_or_arc() {
    let store = InMemoryEventStore::new();
    let by_reference = Repository::<Account, _>::new(&store);
    opened_account(&by_reference, "a").await;
    let by_arc = Repository::<Account, _>::new(Arc::new(store.clone()));
    let committed = by_arc.execute("a", |a| a.deposit(3)).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (2, 3), "both see one store");
    assert_eq!(by_reference.load("a").await.unwrap().version, 2);
}

#[tokio::test]
async fn an_invalid_stream_id_is_refused_before_the_store_is_asked() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    let refused = accounts.execute("", |a| a.open("alice")).await.unwrap_err();
    assert!(matches!(refused, ExecuteError::Failed(Error::Store(StoreError::InvalidStreamId { .. }))), "{refused:?}");
    assert!(matches!(accounts.load("a\0b").await, Err(Error::Store(StoreError::InvalidStreamId { .. }))));
}

#[tokio::test]
async fn time_travel_by_timestamp() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let before_anything = SystemTime::UNIX_EPOCH;
    let mut checkpoints = Vec::new();
    for amount in [5, 50, 500] {
        let c = accounts.execute("a", |a| a.deposit(amount)).await.unwrap();
        let stored = accounts.store().read_stream("a", StreamRange::after(c.version - 1)).await.unwrap();
        checkpoints.push((stored[0].recorded_at, c.state.balance));
    }
    for (at, balance) in checkpoints {
        let past = accounts.load_as_of("a", at).await.unwrap();
        let expected = replay_until(accounts.store(), "a", at).await;
        assert_eq!(past.state, expected);
        assert!(past.state.balance >= balance, "everything recorded by then is included");
    }
    let past = accounts.load_as_of("a", before_anything).await.unwrap();
    assert_eq!((past.version, past.state), (0, Account::default()));
}

async fn replay_until(store: &impl EventStore, id: &str, at: SystemTime) -> Account {
    let mut state = Account::default();
    for recorded in store.read_stream(id, StreamRange::all()).await.unwrap() {
        if recorded.recorded_at <= at {
            let e = recorded.event;
            state.apply(&AccountEvent::decode(&e.name, e.schema_version, &e.payload).unwrap());
        }
    }
    state
}

#[tokio::test]
async fn an_unknown_stored_event_is_a_typed_error_naming_stream_and_version() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    opened_account(&accounts, "a").await;
    let alien = EncodedEvent { name: "Teleported".into(), schema_version: 1, payload: json!({}).into() };
    accounts
        .store()
        .append("account", "a", ExpectedVersion::Exact(1), vec![alien], &Metadata::default())
        .await
        .unwrap();
    match accounts.load("a").await.unwrap_err() {
        Error::Decode { stream_id, version, cause: source } => {
            assert_eq!((stream_id.as_str(), version), ("a", 2));
            assert!(source.to_string().contains("Teleported"), "{source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_corrupt_payload_is_a_typed_error() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    let bad = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: json!({ "owner": 42 }).into() };
    accounts.store().append("account", "a", ExpectedVersion::NoStream, vec![bad], &Metadata::default()).await.unwrap();
    let err = accounts.execute("a", |a| a.deposit(1)).await.unwrap_err();
    assert!(matches!(err, ExecuteError::Failed(Error::Decode { version: 1, .. })), "got {err:?}");
    assert_eq!(accounts.store().read_stream("a", StreamRange::all()).await.unwrap().len(), 1, "nothing appended");
}

/// 32 tasks deposit into one account at once: every successful deposit is
/// in the balance exactly once and the versions have no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deposits_through_the_repository() {
    let accounts = Arc::new(Accounts::new(InMemoryEventStore::new()).with_max_attempts(64));
    opened_account(&accounts, "a").await;
    let tasks: Vec<_> = (1..=32)
        .map(|n: i64| {
            let accounts = Arc::clone(&accounts);
            tokio::spawn(async move {
                let mut deposited = 0;
                for round in 0..10 {
                    let amount = n * 100 + round;
                    if accounts.execute("a", |a| a.deposit(amount)).await.is_ok() {
                        deposited += amount;
                    }
                    tokio::task::yield_now().await;
                }
                deposited
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    let stored = accounts.store().read_stream("a", StreamRange::all()).await.unwrap();
    let versions: Vec<u64> = stored.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=stored.len() as u64).collect::<Vec<_>>(), "no gap or duplicate");
    let loaded = accounts.load("a").await.unwrap();
    assert_eq!(loaded.state.balance, total, "the balance is the sum of the successful deposits");
    assert_eq!(loaded.state, replay(accounts.store(), "a").await);
}

/// A limit that a command can only learn by awaiting: a stand-in for a
/// uniqueness check or a price lookup.
async fn deposit_limit() -> i64 {
    tokio::task::yield_now().await;
    1_000
}

/// Async commands await before they decide; spawned on many tasks, they
/// conflict, run again, and every success is in the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_commands_await_before_deciding_and_run_again_on_conflicts() {
    let accounts = Arc::new(Accounts::new(InMemoryEventStore::new()).with_max_attempts(64));
    opened_account(&accounts, "a").await;
    let runs = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (1..=16)
        .map(|n: i64| {
            let (accounts, runs) = (Arc::clone(&accounts), Arc::clone(&runs));
            tokio::spawn(async move {
                let committed = accounts
                    .execute_async("a", |account: Account| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let limit = deposit_limit().await;
                            if n * 10 > limit {
                                return Err(AccountError::InsufficientFunds { balance: limit, requested: n * 10 });
                            }
                            account.deposit(n * 10)
                        }
                    })
                    .await
                    .unwrap();
                committed.attempts
            })
        })
        .collect();
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), attempts, "the command ran once per attempt");
    let loaded = accounts.load("a").await.unwrap();
    assert_eq!(loaded.state.balance, (1..=16).map(|n| n * 10).sum::<i64>());
    assert_eq!(loaded.version, 17);

    let rejected = accounts
        .execute_async("a", |_: Account| async {
            Err::<Vec<AccountEvent>, _>(AccountError::InsufficientFunds {
                balance: deposit_limit().await,
                requested: 5_000,
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(rejected.rejection(), Some(AccountError::InsufficientFunds { requested: 5_000, .. })));
    assert_eq!(accounts.load("a").await.unwrap().version, 17, "a rejected async command writes nothing");
}

/// A reading of a sensor: its value is a float.
#[derive(es_core::Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[event(name = "repository.Measured")]
struct Measured {
    value: f64,
}

#[derive(es_core::Aggregate, Default, serde::Serialize, serde::Deserialize, Debug)]
#[aggregate(name = "repository.sensor", event = Measured)]
struct Sensor {
    readings: u32,
}

impl es_core::Apply<Measured> for Sensor {
    fn apply(&mut self, _: &Measured) {
        self.readings += 1;
    }
}

#[tokio::test]
async fn an_event_that_would_not_load_back_is_refused_before_it_is_appended() {
    let sensors = Repository::<Sensor, _>::new(InMemoryEventStore::new());
    sensors.execute("s", |_| Ok::<_, std::convert::Infallible>(vec![Measured { value: 1.5 }])).await.unwrap();
    for value in [f64::NAN, f64::INFINITY] {
        let refused = sensors
            .execute("s", |_| Ok::<_, std::convert::Infallible>(vec![Measured { value: 2.0 }, Measured { value }]))
            .await;
        match refused {
            Err(ExecuteError::Failed(error @ Error::Unreadable { .. })) => {
                let text = error.to_string();
                assert!(text.contains("repository.Measured") && text.contains("`s`"), "{text}");
                assert!(text.contains("NaN or infinite"), "the message names the usual cause: {text}");
                let cause = std::error::Error::source(&error).expect("the decode error is the source").to_string();
                assert!(cause.contains("does not match its type") && !text.contains(&cause), "{cause}");
            }
            other => panic!("{value}: expected Unreadable, got {other:?}"),
        }
    }
    let loaded = sensors.load("s").await.unwrap();
    assert_eq!((loaded.version, loaded.state.readings), (1, 1), "nothing of a refused command was appended");
}

#[tokio::test]
async fn a_decode_error_says_its_cause_once_down_the_chain() {
    let accounts = Accounts::new(InMemoryEventStore::new());
    let odd = EncodedEvent { name: "Deposited".into(), schema_version: 1, payload: json!({ "amount": "ten" }).into() };
    accounts.store().append("account", "a", ExpectedVersion::NoStream, vec![odd], &Metadata::default()).await.unwrap();
    let error = accounts.load("a").await.unwrap_err();
    let mut texts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        source = cause.source();
    }
    assert!(!texts[0].contains("invalid type"), "a message shows its own layer only: {texts:?}");
    let report = es_core::ErrorReport::new(&error).to_string();
    assert!(report.contains("invalid type: string \"ten\""), "the report says why: {report}");
    assert_eq!(report, texts.join(": "), "the report walks the chain, each layer once");
    for (i, later) in texts.iter().enumerate().skip(1) {
        assert!(!texts[..i].iter().any(|earlier| earlier.contains(later.as_str())), "{later:?} repeated: {texts:?}");
    }
}
