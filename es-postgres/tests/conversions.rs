//! One rule for numbers between Rust and PostgreSQL, on every statement:
//! values at the edge of `u64` get the same outcome whichever statement
//! runs, a value that cannot be stored is refused, and a stored value that
//! does not fit is reported as corrupt, naming its column.

mod common;

use common::ledger::*;
use es_core::admin::{AdminError, ProjectionAdmin};
use es_core::{
    EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, Position, ProjectionError, Snapshot, StoreError,
    StreamRange,
};
use es_postgres::PgProjectionRunner;

fn deposited(amount: i64) -> EncodedEvent {
    Deposited { amount }.encode().unwrap()
}

#[tokio::test]
async fn an_expected_version_beyond_bigint_is_a_conflict_on_every_statement() {
    let store = ledger_store().await;
    deposit(&store, "a", 1).await;
    let metadata = Metadata::default();
    let edge = ExpectedVersion::Exact(u64::MAX);
    // One event takes the lean statement, two the general one.
    for events in [vec![deposited(2)], vec![deposited(2), deposited(3)]] {
        let err = store.append("account", "a", edge, events, &metadata).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { actual: 1, .. }), "{err:?}");
    }
    let first = ExpectedVersion::Exact(i64::MAX as u64 + 1);
    let err = store.append("account", "new", first, vec![deposited(1)], &metadata).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { actual: 0, .. }), "{err:?}");
}

#[tokio::test]
async fn bounds_beyond_bigint_select_nothing_after_them_and_everything_up_to_them() {
    let store = ledger_store().await;
    let last = deposit(&store, "a", 1).await;
    common::read_all_through(&store, Position::START, last, 10).await;
    assert!(store.read_all(Position::new(u64::MAX, u64::MAX), 10).await.unwrap().is_empty());
    assert!(store.read_stream("a", StreamRange::after(u64::MAX)).await.unwrap().is_empty());
    let all = store.read_stream("a", StreamRange::all().up_to_version(u64::MAX)).await.unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_value_that_cannot_be_stored_is_refused_naming_it() {
    let store = ledger_store().await;
    let state = serde_json::json!({ "balance": 1 }).into();
    let snapshot = Snapshot {
        aggregate_type: "account".into(),
        stream_id: "a".into(),
        version: u64::MAX,
        schema_version: 1,
        fingerprint: 0,
        state,
    };
    let err = store.save_snapshot(snapshot).await.unwrap_err();
    let StoreError::InvalidInput { reason } = &err else { panic!("{err:?}") };
    assert!(reason.contains("18446744073709551615") && reason.contains("9223372036854775807"), "{reason}");
    let huge = EncodedEvent { schema_version: u32::MAX, ..deposited(1) };
    let err = store.append("account", "a", ExpectedVersion::Any, vec![huge], &Metadata::default()).await;
    assert!(matches!(err, Err(StoreError::InvalidInput { .. })), "{err:?}");
    assert!(store.read_stream("a", StreamRange::all()).await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn an_id_beyond_bigint_is_not_found() {
    let store = ledger_store().await;
    let mut runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"));
    runner.catch_up().await.unwrap();
    let err = runner.retry_parked(u64::MAX).await.unwrap_err();
    assert!(matches!(err, ProjectionError::NotParked { id: u64::MAX, .. }), "{err:?}");
    let err = store.discard_parked("ledger", u64::MAX, "no such event").await.unwrap_err();
    assert!(matches!(err, ProjectionError::NotParked { .. }), "{err:?}");
    let err = ProjectionAdmin::discard_parked(&store, "ledger", u64::MAX, "no such event").await.unwrap_err();
    assert!(matches!(err, AdminError::NotParked { .. }), "{err:?}");
}

/// A negative checkpoint was once read as its absolute value, which would
/// have resumed the projection somewhere else.
#[tokio::test]
async fn a_stored_checkpoint_that_does_not_fit_is_corrupt_naming_the_column() {
    let store = ledger_store().await;
    deposit(&store, "a", 1).await;
    let mut runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one"));
    runner.catch_up().await.unwrap();
    let sql = format!("UPDATE {}.checkpoints SET position = -7 WHERE projection = 'ledger'", store.quoted_schema());
    common::raw_client().await.batch_execute(&sql).await.unwrap();
    let err = runner.catch_up().await.unwrap_err();
    let ProjectionError::Store { source: StoreError::Corrupt { cause, .. }, .. } = &err else { panic!("{err:?}") };
    assert_eq!(cause, "column `position`: negative value -7");
}
