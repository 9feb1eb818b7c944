//! Audited rewrites: stored v1 events rewritten to v2 through the one path
//! the events trigger allows, and an application role that cannot take any
//! other.

mod common;

use es_core::{Aggregate, Apply, EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, Repository};
use es_postgres::tokio_postgres::error::SqlState;
use es_postgres::tokio_postgres::{self, NoTls};
use es_postgres::{PgEventStore, PgRewriteError, PgRewriteFilter, PgRewriteRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Version 1 stored whole dollars as `amount`; version 2 stores cents.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Deposited", version = 2)]
#[upcast(from = 1, with = dollars_to_cents)]
struct Deposited {
    cents: i64,
}

fn dollars_to_cents(v1: Value) -> Result<Value, serde_json::Error> {
    let dollars = v1["amount"].as_i64().ok_or_else(|| serde::de::Error::custom("`amount` must be an integer"))?;
    Ok(json!({ "cents": dollars * 100 }))
}

#[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[aggregate(name = "account", event = Deposited, snapshot_every = 3)]
struct Account {
    cents: i64,
    deposits: u32,
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, e: &Deposited) {
        self.cents += e.cents;
        self.deposits += 1;
    }
}

fn v1(amount: i64) -> EncodedEvent {
    EncodedEvent { name: "Deposited".into(), schema_version: 1, payload: json!({ "amount": amount }).into() }
}

/// Decodes through the upcaster and encodes at the current version.
fn to_current(old: &EncodedEvent) -> Result<EncodedEvent, es_core::DecodeError> {
    let event = Deposited::decode(&old.name, old.schema_version, &old.payload)?;
    Ok(event.encode().expect("a Deposited encodes"))
}

fn request(dry_run: bool) -> PgRewriteRequest {
    PgRewriteRequest {
        reason: "store Deposited v1 as v2 to retire its upcaster".into(),
        actor: "ops@example.com".into(),
        filter: PgRewriteFilter {
            event_name: Some("Deposited".into()),
            schema_versions: Some(1..=1),
            ..Default::default()
        },
        dry_run,
    }
}

/// Two streams of v1 deposits and one v2 deposit, with a snapshot of `a`.
async fn seeded_store() -> PgEventStore {
    let store = common::fresh_store().await;
    let none = Metadata::default();
    store.append("account", "a", ExpectedVersion::NoStream, vec![v1(1), v1(2)], &none).await.unwrap();
    store.append("account", "b", ExpectedVersion::NoStream, vec![v1(5)], &none).await.unwrap();
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("a", |_| Ok::<_, std::convert::Infallible>(vec![Deposited { cents: 7 }])).await.unwrap();
    assert!(store.load_snapshot("a").await.unwrap().is_some(), "a snapshot of `a` was taken");
    store
}

async fn stored_rows(client: &tokio_postgres::Client, schema: &str) -> Vec<(i64, String, i32, Value)> {
    let sql = format!("SELECT position, event_name, event_version, payload FROM \"{schema}\".events ORDER BY position");
    client.query(&sql, &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

#[tokio::test]
async fn v1_rows_are_rewritten_to_v2_with_their_old_payloads_kept() {
    let store = seeded_store().await;
    let accounts = Repository::<Account, _>::new(store.clone());
    let before = [accounts.load("a").await.unwrap().state, accounts.load("b").await.unwrap().state];
    let client = common::raw_client().await;
    let rows_before = stored_rows(&client, store.schema()).await;

    let dry = store.rewrite(request(true), to_current).await.unwrap();
    assert_eq!((dry.rewrite_id, dry.changes.len()), (None, 3), "a dry run reports the diff");
    assert_eq!(dry.changes[0].after.payload, json!({ "cents": 100 }));
    assert_eq!(stored_rows(&client, store.schema()).await, rows_before, "a dry run changes nothing");

    let report = store.rewrite(request(false), to_current).await.unwrap();
    let rewrite_id = report.rewrite_id.expect("the rewrite was recorded");
    assert_eq!(report.streams, ["a", "b"]);
    assert_eq!(report.changes.len(), 3);
    assert_eq!(report.lowest_position, Some(report.changes[0].before.position));
    let mut shown = dry;
    shown.rewrite_id = report.rewrite_id;
    assert_eq!(report, shown, "the run did what the dry run showed");

    let stored = stored_rows(&client, store.schema()).await;
    assert!(stored.iter().all(|(_, _, version, _)| *version == 2), "every row is at v2: {stored:?}");
    assert_eq!(
        stored.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
        [json!({ "cents": 100 }), json!({ "cents": 200 }), json!({ "cents": 500 }), json!({ "cents": 7 }),]
    );
    let revisions = client
        .query(
            &format!(
                "SELECT r.reason, r.actor, v.stream_id, v.old_event_version, v.old_payload, v.new_payload \
                 FROM \"{0}\".event_revisions v JOIN \"{0}\".rewrites r ON r.id = v.rewrite_id \
                 WHERE v.rewrite_id = $1 ORDER BY v.position",
                store.schema()
            ),
            &[&i64::try_from(rewrite_id).unwrap()],
        )
        .await
        .unwrap();
    let old_payloads: Vec<Value> = revisions.iter().map(|r| r.get(4)).collect();
    assert_eq!(old_payloads, [json!({ "amount": 1 }), json!({ "amount": 2 }), json!({ "amount": 5 })]);
    assert!(revisions.iter().all(|r| r.get::<_, String>(0) == request(false).reason
        && r.get::<_, String>(1) == "ops@example.com"
        && r.get::<_, i32>(3) == 1));

    assert_eq!(store.load_snapshot("a").await.unwrap(), None, "the snapshot of a rewritten stream is gone");
    let after = [accounts.load("a").await.unwrap().state, accounts.load("b").await.unwrap().state];
    assert_eq!(after, before, "loads after the rewrite equal loads before");

    let again = store.rewrite(request(false), to_current).await.unwrap();
    assert_eq!((again.rewrite_id, again.changes.len()), (None, 0), "a second identical rewrite changes nothing");
    let count = format!("SELECT count(*) FROM \"{}\".event_revisions", store.schema());
    assert_eq!(client.query_one(&count, &[]).await.unwrap().get::<_, i64>(0), 3);
}

#[tokio::test]
async fn a_refused_event_or_a_missing_reason_changes_nothing() {
    let store = seeded_store().await;
    let client = common::raw_client().await;
    let rows_before = stored_rows(&client, store.schema()).await;
    let refused = store.rewrite(request(false), |_| Err::<EncodedEvent, _>("not this one")).await.unwrap_err();
    assert!(matches!(refused, PgRewriteError::Refused { version: 1, .. }), "{refused}");
    assert!(es_core::ErrorReport::new(&refused).to_string().contains("not this one"), "{refused}");
    let anonymous = store.rewrite(PgRewriteRequest { actor: " ".into(), ..request(false) }, to_current).await;
    assert!(matches!(anonymous, Err(PgRewriteError::Incomplete { missing: "actor", .. })), "{anonymous:?}");
    assert_eq!(stored_rows(&client, store.schema()).await, rows_before);
}

#[tokio::test]
async fn an_update_outside_a_declared_rewrite_is_refused() {
    let store = seeded_store().await;
    let client = common::raw_client().await;
    let update = format!("UPDATE \"{}\".events SET payload = '{{}}' WHERE stream_id = 'a'", store.schema());
    let error = client.execute(&update, &[]).await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::RESTRICT_VIOLATION), "{error}");
    let delete = format!("DELETE FROM \"{}\".events", store.schema());
    assert_eq!(client.execute(&delete, &[]).await.unwrap_err().code(), Some(&SqlState::RESTRICT_VIOLATION));
}

/// As the application role: appending and loading work; changing events,
/// disabling the trigger and turning triggers off for the session do not.
#[tokio::test]
async fn the_application_role_cannot_change_or_unguard_events() {
    let store = seeded_store().await;
    let owner = common::raw_client().await;
    let role = format!("es_app_{:016x}", fastrand::u64(..));
    owner.batch_execute(&format!("CREATE ROLE \"{role}\" LOGIN NOSUPERUSER")).await.unwrap();
    let result = as_app_role(&store, &role).await;
    owner.batch_execute(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\"")).await.unwrap();
    result.unwrap();
}

async fn as_app_role(store: &PgEventStore, role: &str) -> Result<(), String> {
    store.grant_app_role(role).await.map_err(|e| e.to_string())?;
    let mut config = common::config();
    config.user(role);
    let app = PgEventStore::builder(config.clone()).schema(store.schema()).pool_size(2).build().unwrap();
    let accounts = Repository::<Account, _>::new(app);
    let committed = accounts
        .execute("c", |_| Ok::<_, std::convert::Infallible>(vec![Deposited { cents: 3 }]))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(committed.state.cents, 3);
    assert_eq!(accounts.load("a").await.map_err(|e| e.to_string())?.state.cents, 307);

    let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let schema = store.schema();
    for statement in [
        format!("ALTER TABLE \"{schema}\".events DISABLE TRIGGER events_immutable_rows"),
        format!("ALTER TABLE \"{schema}\".events DISABLE TRIGGER ALL"),
        "SET session_replication_role = replica".to_owned(),
        format!("UPDATE \"{schema}\".events SET payload = '{{}}'"),
        format!("DELETE FROM \"{schema}\".events"),
        format!("INSERT INTO \"{schema}\".rewrites (reason, actor) VALUES ('r', 'a')"),
    ] {
        let error = client.batch_execute(&statement).await.err().ok_or(format!("`{statement}` was allowed"))?;
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "`{statement}`: {error}");
    }
    Ok(())
}
