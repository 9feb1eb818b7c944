//! Appending inside a transaction the caller holds: events and the
//! caller's rows commit together or not at all.

mod common;

use std::convert::Infallible;

use es_core::{
    Aggregate, DecodeError, EncodedEvent, EventStore, ExpectedVersion, Metadata, Payload, Repository, StoreError,
    StreamRange,
};
use es_postgres::PgEventStore;
use serde::{Deserialize, Serialize};

fn opened() -> EncodedEvent {
    EncodedEvent { name: "Opened".into(), schema_version: 1, payload: serde_json::json!({ "owner": "ada" }).into() }
}

/// A store and a table of the caller's own beside it.
async fn store_with_orders() -> PgEventStore {
    let store = common::fresh_store().await;
    let table = format!("CREATE TABLE {}.orders (id TEXT PRIMARY KEY)", store.quoted_schema());
    store.connection().await.expect("a connection").batch_execute(&table).await.expect("the caller's table");
    store
}

async fn orders(store: &PgEventStore) -> Vec<String> {
    let sql = format!("SELECT id FROM {}.orders ORDER BY id", store.quoted_schema());
    let rows = store.connection().await.expect("a connection").query(&sql, &[]).await.expect("orders");
    rows.iter().map(|r| r.get(0)).collect()
}

fn insert_order(store: &PgEventStore) -> String {
    format!("INSERT INTO {}.orders (id) VALUES ($1)", store.quoted_schema())
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_event() {
    let store = store_with_orders().await;
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");
    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("the caller's row");
    let appended = store
        .append_in(&tx, "order", "o-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default())
        .await
        .expect("append in the transaction");
    assert_eq!(appended.stream_version, 1);
    tx.rollback().await.expect("rollback");

    assert!(store.read_stream("o-1", StreamRange::all()).await.expect("read").is_empty());
    assert!(orders(&store).await.is_empty());
}

#[tokio::test]
async fn a_committed_transaction_keeps_the_events_and_the_callers_row() {
    let store = store_with_orders().await;
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");
    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("the caller's row");
    let appended = store
        .append_in(&tx, "order", "o-1", ExpectedVersion::NoStream, vec![opened(), opened()], &Metadata::default())
        .await
        .expect("append in the transaction");
    // Not visible outside before the commit.
    assert!(store.read_stream("o-1", StreamRange::all()).await.expect("read").is_empty());
    tx.commit().await.expect("commit");

    let read = store.read_stream("o-1", StreamRange::all()).await.expect("read");
    assert_eq!(read, appended.events);
    assert_eq!(orders(&store).await, ["o-1"]);
    let everything = common::read_all_through(&store, es_core::Position::START, appended.events[1].position, 10).await;
    assert_eq!(everything, appended.events, "the global order has the events once committed");
}

#[tokio::test]
async fn a_conflict_inside_the_transaction_is_typed_and_leaves_it_usable() {
    let store = store_with_orders().await;
    store
        .append("order", "o-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default())
        .await
        .expect("append");
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");

    for expected in [ExpectedVersion::NoStream, ExpectedVersion::Exact(3)] {
        let conflict = store.append_in(&tx, "order", "o-1", expected, vec![opened()], &Metadata::default()).await;
        match conflict {
            Err(StoreError::Conflict { stream_id, expected: e, actual }) => {
                assert_eq!((stream_id.as_str(), e, actual), ("o-1", expected, 1));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // The transaction goes on after the conflicts.
    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("the transaction is still usable");
    store
        .append_in(&tx, "order", "o-1", ExpectedVersion::Exact(1), vec![opened()], &Metadata::default())
        .await
        .expect("append at the right version");
    tx.commit().await.expect("commit");

    assert_eq!(store.read_stream("o-1", StreamRange::all()).await.expect("read").len(), 2);
    assert_eq!(orders(&store).await, ["o-1"]);
}

#[tokio::test]
async fn refused_input_and_another_aggregate_type_leave_the_transaction_usable() {
    let store = store_with_orders().await;
    store.append("order", "o-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default()).await.unwrap();
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");

    let nul = EncodedEvent { payload: serde_json::json!({ "owner": "a\u{0}b" }).into(), ..opened() };
    let refused =
        store.append_in(&tx, "order", "o-1", ExpectedVersion::Exact(1), vec![nul], &Metadata::default()).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput { .. })), "{refused:?}");
    let metadata = Metadata::default();
    let other_type = store.append_in(&tx, "invoice", "o-1", ExpectedVersion::Any, vec![opened()], &metadata).await;
    assert!(matches!(other_type, Err(StoreError::WrongAggregateType { .. })), "{other_type:?}");

    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("the transaction is still usable");
    store
        .append_in(&tx, "order", "o-1", ExpectedVersion::Exact(1), vec![opened()], &Metadata::default())
        .await
        .expect("append after the refusals");
    tx.commit().await.expect("commit");
    assert_eq!(store.read_stream("o-1", StreamRange::all()).await.expect("read").len(), 2);
    assert_eq!(orders(&store).await, ["o-1"]);
}

#[tokio::test]
async fn a_concurrent_writer_loses_to_the_transaction_with_a_conflict() {
    let store = store_with_orders().await;
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");
    store
        .append_in(&tx, "order", "o-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default())
        .await
        .expect("append in the transaction");
    let outside = {
        let store = store.clone();
        tokio::spawn(async move {
            store.append("order", "o-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default()).await
        })
    };
    // Whether it waits on the uncommitted row or starts after the commit,
    // the outside writer collides.
    tx.commit().await.expect("commit");
    match outside.await.expect("the outside writer") {
        Err(StoreError::Conflict { actual: 1, .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// A counter, to run a command through a repository inside a transaction.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Counter {
    value: u64,
}

#[derive(Debug, Clone)]
struct Incremented;

impl es_core::Event for Incremented {
    fn event_name(&self) -> &'static str {
        "Incremented"
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        Ok(EncodedEvent { name: "Incremented".into(), schema_version: 1, payload: Payload::default() })
    }

    fn decode(name: &str, _schema_version: u32, _payload: &Payload) -> Result<Self, DecodeError> {
        match name {
            "Incremented" => Ok(Incremented),
            _ => Err(DecodeError::UnknownEvent { name: name.to_owned() }),
        }
    }
}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Event = Incremented;

    fn apply(&mut self, _event: &Incremented) {
        self.value += 1;
    }
}

#[tokio::test]
async fn a_repository_command_commits_with_the_callers_transaction() {
    let store = store_with_orders().await;
    let increment = |_: &Counter| Ok::<_, Infallible>(vec![Incremented]);
    Repository::<Counter, _>::new(store.clone()).execute("c-1", increment).await.expect("a command outside");

    for commit in [false, true] {
        let mut client = store.connection().await.expect("a connection");
        let tx = client.transaction().await.expect("a transaction");
        tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("the caller's row");
        let inside = Repository::<Counter, _>::new(store.in_transaction(&tx));
        // Two commands: the second sees the first's uncommitted event.
        inside.execute("c-1", increment).await.expect("a command inside");
        let committed = inside.execute("c-1", increment).await.expect("a command inside");
        assert_eq!((committed.version, committed.state.value), (3, 3));
        drop(inside);
        if commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
    }

    let loaded = Repository::<Counter, _>::new(store.clone()).load("c-1").await.expect("load");
    assert_eq!(loaded.state.value, 3, "the rolled-back commands left nothing, the committed ones both events");
    assert_eq!(orders(&store).await, ["o-1"]);
}

/// A transaction that wrote before another appended to a stream would put
/// its own append to that stream before the other's in the global order
/// (it has the smaller transaction id): projections would read v3 before
/// v2. The append is refused, nothing of it is stored, and the transaction
/// run again appends in order.
#[tokio::test]
async fn an_append_that_would_precede_the_streams_head_in_the_global_order_is_refused() {
    let store = store_with_orders().await;
    store.append("order", "c-1", ExpectedVersion::NoStream, vec![opened()], &Metadata::default()).await.unwrap();

    let mut a = store.connection().await.expect("a connection");
    let tx = a.transaction().await.expect("session A's transaction");
    // Session A writes first: its transaction id is assigned now.
    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("session A's row");
    // Session B appends v2 and commits.
    store.append("order", "c-1", ExpectedVersion::Exact(1), vec![opened()], &Metadata::default()).await.unwrap();
    // Session A appends after the head it sees, v2, in either statement.
    for expected in [ExpectedVersion::Exact(2), ExpectedVersion::Any] {
        let refused = store.append_in(&tx, "order", "c-1", expected, vec![opened()], &Metadata::default()).await;
        match refused {
            Err(e @ StoreError::OutOfOrder { actual: 2, .. }) => {
                assert!(e.to_string().contains("roll back and run the transaction again"), "{e}")
            }
            other => panic!("expected the append to be refused as out of order, got {other:?}"),
        }
    }
    tx.rollback().await.expect("rollback");

    let tx = a.transaction().await.expect("session A's transaction, again");
    tx.execute(&insert_order(&store), &[&"o-1"]).await.expect("session A's row");
    store
        .append_in(&tx, "order", "c-1", ExpectedVersion::Exact(2), vec![opened()], &Metadata::default())
        .await
        .unwrap();
    tx.commit().await.expect("commit");

    let mut feed = Vec::new();
    let mut after = es_core::Position::START;
    while feed.len() < 3 {
        let page = store.read_all(after, 10).await.expect("read_all");
        if let Some(last) = page.last() {
            after = last.position;
        }
        feed.extend(page.iter().map(|e| e.version));
    }
    assert_eq!(feed, [1, 2, 3], "the stream's order is the global order's");
}
