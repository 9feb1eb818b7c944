//! Crypto-shredding on PostgreSQL: two subjects' personal data sealed in
//! the events and snapshots; forgetting one leaves its values redacted, the
//! other's intact, the rest of every event readable and the events table
//! byte for byte as it was.

mod common;

use common::{database_url, fresh_store};
use es_core::personal::{Personal, PersonalDataStore, SubjectKeys};
use es_core::{Aggregate, Apply, Event, EventStore, Position, Repository};
use es_postgres::PgEventStore;
use es_postgres::tokio_postgres::{self, NoTls};
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

async fn events_table(store: &PgEventStore) -> Vec<String> {
    let (client, connection) = database_url().parse::<tokio_postgres::Config>().unwrap().connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let sql = format!("SELECT row_to_json(e)::text FROM {}.events e ORDER BY position", store.quoted_schema());
    client.query(&sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect()
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
    let store = fresh_store().await;
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
    let rows_before = events_table(&store).await;
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

    assert_eq!(events_table(&store).await, rows_before, "no event row changed");
}

#[tokio::test]
async fn the_raw_store_shows_sealed_values_as_forgotten_and_keys_never_show() {
    let store = fresh_store().await;
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
