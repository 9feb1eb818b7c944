//! Crypto-shredding on PostgreSQL and SQLite: two subjects' personal data
//! sealed in the events and snapshots; forgetting one leaves its values
//! redacted, the other's intact, the rest of every event readable and the
//! events table byte for byte as it was.

mod common;

use common::{database_url, fresh_store};
use es_core::personal::{Personal, PersonalDataStore, SubjectKeys};
use es_core::{Aggregate, Apply, Event, EventStore, Position, Repository};
use es_postgres::PgEventStore;
use es_postgres::tokio_postgres::{self, NoTls};
use es_sqlite::SqliteEventStore;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "personal.Registered")]
struct Registered {
    name: Personal<String>,
    email: Personal<String>,
    plan: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "personal.PlanChanged")]
struct PlanChanged {
    plan: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
enum CustomerEvent {
    Registered(Registered),
    PlanChanged(PlanChanged),
}

#[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[aggregate(name = "personal.customer", event = CustomerEvent, snapshot_every = 2)]
struct Customer {
    name: Option<Personal<String>>,
    email: Option<Personal<String>>,
    plan: String,
}

impl Apply<Registered> for Customer {
    fn apply(&mut self, e: &Registered) {
        self.name = Some(e.name.clone());
        self.email = Some(e.email.clone());
        self.plan = e.plan.clone();
    }
}

impl Apply<PlanChanged> for Customer {
    fn apply(&mut self, e: &PlanChanged) {
        self.plan = e.plan.clone();
    }
}

/// A store whose events table a test can read behind its back.
trait EventRows: EventStore + SubjectKeys + Clone + std::fmt::Debug + 'static {
    /// Every row of the events table, as text, in global order.
    async fn event_rows(&self) -> Vec<String>;
}

impl EventRows for PgEventStore {
    async fn event_rows(&self) -> Vec<String> {
        let config = database_url().parse::<tokio_postgres::Config>().unwrap();
        let (client, connection) = config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        let sql = format!("SELECT row_to_json(e)::text FROM {}.events e ORDER BY position", self.quoted_schema());
        client.query(&sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect()
    }
}

impl EventRows for SqliteEventStore {
    async fn event_rows(&self) -> Vec<String> {
        let connection = es_sqlite::rusqlite::Connection::open(self.path().unwrap()).unwrap();
        let mut statement = connection.prepare("SELECT * FROM events ORDER BY position").unwrap();
        let columns = statement.column_count();
        let rows = statement.query_map([], |row| {
            (0..columns).map(|i| row.get::<_, es_sqlite::rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect()
        });
        rows.unwrap().map(|row: Result<Vec<String>, _>| row.unwrap().join(",")).collect()
    }
}

/// A SQLite store in a fresh file of its own.
async fn sqlite_store() -> (SqliteEventStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("es-personal-{}-{:016x}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    (SqliteEventStore::open(dir.join("store.sqlite3")).await.unwrap(), dir)
}

fn registered(subject: &str, name: &str) -> CustomerEvent {
    CustomerEvent::Registered(Registered {
        name: Personal::new(subject, name.to_owned()),
        email: Personal::new(subject, format!("{}@example.com", name.to_lowercase())),
        plan: "pro".into(),
    })
}

#[tokio::test]
async fn forgetting_a_subject_redacts_its_values_only_and_changes_no_event() {
    forgetting_redacts_the_subjects_values_only(fresh_store().await).await;
}

#[tokio::test]
async fn forgetting_a_subject_on_sqlite_redacts_its_values_only_and_changes_no_event() {
    let (store, dir) = sqlite_store().await;
    forgetting_redacts_the_subjects_values_only(store).await;
    std::fs::remove_dir_all(dir).unwrap();
}

async fn forgetting_redacts_the_subjects_values_only(store: impl EventRows) {
    let personal = PersonalDataStore::new(store.clone(), store.clone());
    let customers = Repository::<Customer, _>::new(&personal);
    for (stream, subject, name) in [("customer-a", "subject-a", "Ada"), ("customer-b", "subject-b", "Bob")] {
        customers.execute(stream, |_| Ok::<_, String>(vec![registered(subject, name)])).await.unwrap();
        let changed = customers
            .execute(stream, |_| Ok::<_, String>(vec![CustomerEvent::PlanChanged(PlanChanged { plan: "team".into() })]))
            .await
            .unwrap();
        assert!(matches!(changed.snapshot, es_core::SnapshotOutcome::Saved { version: 2 }));
    }
    let rows_before = store.event_rows().await;
    assert!(rows_before.iter().all(|row| !row.contains("Ada") && !row.contains("example.com")), "{rows_before:#?}");
    let a = customers.load("customer-a").await.unwrap();
    assert_eq!(a.state.email.as_ref().and_then(Personal::get).map(String::as_str), Some("ada@example.com"));

    assert!(personal.forget("subject-a").await.unwrap());
    assert!(!personal.forget("subject-a").await.unwrap(), "forgetting twice is harmless");

    let a = customers.load("customer-a").await.unwrap();
    assert_eq!(a.snapshot_at, Some(2), "the sealed snapshot still loads");
    assert!(a.state.name.as_ref().is_some_and(Personal::is_forgotten), "{:?}", a.state);
    assert!(a.state.email.as_ref().is_some_and(Personal::is_forgotten), "{:?}", a.state);
    assert_eq!((a.state.plan.as_str(), a.state.email.unwrap().subject()), ("team", "subject-a"));
    let b = customers.load("customer-b").await.unwrap().state;
    assert_eq!(b.name.and_then(Personal::into_inner).as_deref(), Some("Bob"));
    assert_eq!(b.email.and_then(Personal::into_inner).as_deref(), Some("bob@example.com"));

    // A read of the global order, as a projection makes, still decodes all.
    // Other tests' open transactions may hold the newest events back for a
    // moment: read until all four are there.
    let all = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let all = personal.read_all(Position::START, 100).await.unwrap();
            if all.len() == 4 {
                return all;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the four events become readable");
    let names: Vec<Option<String>> = all
        .iter()
        .filter_map(|e| match CustomerEvent::decode(&e.event.name, e.event.schema_version, &e.event.payload) {
            Ok(CustomerEvent::Registered(r)) => Some(r.name.into_inner()),
            Ok(CustomerEvent::PlanChanged(_)) => None,
            Err(e) => panic!("an event no longer decodes: {e}"),
        })
        .collect();
    assert_eq!(names, [None, Some("Bob".to_owned())]);

    assert_eq!(store.event_rows().await, rows_before, "no event row changed");
}

#[tokio::test]
async fn the_raw_store_shows_sealed_values_as_forgotten_and_keys_never_show() {
    sealed_values_without_keys_are_forgotten_and_keys_never_show(fresh_store().await).await;
}

#[tokio::test]
async fn the_raw_sqlite_store_shows_sealed_values_as_forgotten_and_keys_never_show() {
    let (store, dir) = sqlite_store().await;
    sealed_values_without_keys_are_forgotten_and_keys_never_show(store).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// Forgetting on SQLite leaves no copy of the key in the file or its log.
#[tokio::test]
async fn a_forgotten_key_leaves_no_bytes_in_the_sqlite_file() {
    let (store, dir) = sqlite_store().await;
    let subjects = ["subject-d".to_owned()];
    let key = store.keys_or_create(&subjects).await.unwrap().remove("subject-d").unwrap();
    let on_disk = || -> Vec<u8> {
        ["store.sqlite3", "store.sqlite3-wal"]
            .iter()
            .flat_map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
            .collect()
    };
    let holds_key = |bytes: &[u8]| bytes.windows(32).any(|w| w == key.bytes());
    assert!(holds_key(&on_disk()), "the key is stored before it is forgotten");
    assert!(store.forget("subject-d").await.unwrap());
    assert!(!holds_key(&on_disk()), "the key's bytes stayed on disk after it was forgotten");
    std::fs::remove_dir_all(dir).unwrap();
}

async fn sealed_values_without_keys_are_forgotten_and_keys_never_show(store: impl EventRows) {
    let personal = PersonalDataStore::new(store.clone(), store.clone());
    Repository::<Customer, _>::new(&personal)
        .execute("customer-c", |_| Ok::<_, String>(vec![registered("subject-c", "Cy")]))
        .await
        .unwrap();
    let raw = Repository::<Customer, _>::new(&store).load("customer-c").await.unwrap().state;
    assert!(raw.email.is_some_and(|e| e.is_forgotten()), "no plaintext without the key store");

    let key = store.keys(&["subject-c".to_owned()]).await.unwrap().remove("subject-c").expect("a key was made");
    let hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", key.bytes());
    for shown in [format!("{key:?}"), format!("{personal:?}"), format!("{store:?}")] {
        assert!(!shown.contains(&hex) && !shown.contains(&decimal[1..20]), "key material in {shown}");
    }
}
