//! The spans and metrics of commands and projections on PostgreSQL: the
//! repository's `append` span around the store's append, conflict
//! included; a runner's pages, and its warning when it loses its
//! connection.

mod common;

use std::time::Duration;

use es_core::telemetry::{APPEND_DURATION_SECONDS, CONFLICTS_TOTAL, EVENTS_APPENDED_TOTAL, EVENTS_PROJECTED_TOTAL};
use es_core::{Event, EventStore, ExpectedVersion, Metadata, Repository};
use es_postgres::{PgEventStore, PgProjectionRunner};
use es_tests::observe;
use tracing::Level;

use common::ledger::{Account, Deposited, Ledger, deposit, ledger_store, live, start, within};

const ACCOUNT: [(&str, &str); 1] = [("aggregate", "account")];

/// Appends a deposit to `stream` in `schema` as another process would:
/// from a thread of its own, with a store of its own, while the caller
/// waits.
fn other_writer_deposits(schema: &str, stream: &str, at: u64) {
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let store = PgEventStore::builder(common::config()).schema(schema).pool_size(1).build().unwrap();
                let deposit = vec![Deposited { amount: 1 }.encode().unwrap()];
                let metadata = Metadata::default();
                store.append("account", stream, ExpectedVersion::Exact(at), deposit, &metadata).await.unwrap();
            });
        });
    });
}

#[test]
fn an_append_on_postgres_is_spanned_and_timed_and_its_conflict_counted() {
    let metadata = Metadata::default().with_correlation_id("req-9");
    let ((), report) = observe(|_| async {
        let store = common::fresh_store().await;
        let schema = store.schema().to_owned();
        let accounts = Repository::<Account, _>::new(store);
        let mut runs = 0;
        let committed = accounts
            .execute_with("a", &metadata, |_| {
                runs += 1;
                if runs == 1 {
                    other_writer_deposits(&schema, "a", 0);
                }
                Ok::<_, std::convert::Infallible>(vec![Deposited { amount: 5 }])
            })
            .await
            .unwrap();
        assert_eq!((committed.attempts, committed.version, committed.state.balance), (2, 2, 6));
    });

    let execute = report.spans("execute")[0];
    assert_eq!((execute.field("stream"), execute.field("correlation_id")), (Some("a"), Some("req-9")));
    assert_eq!((execute.field("attempts"), execute.field("version")), (Some("2"), Some("2")));
    let appends = report.spans("append");
    assert_eq!(appends.len(), 2, "{appends:?}");
    for append in &appends {
        assert_eq!(append.parent, Some("execute"));
        let fields = (append.field("aggregate"), append.field("stream"), append.field("events"));
        assert_eq!(fields, (Some("account"), Some("a"), Some("1")));
    }
    assert_eq!((appends[0].field("conflict"), appends[0].field("version")), (Some("true"), None));
    assert_eq!((appends[1].field("conflict"), appends[1].field("version")), (None, Some("2")));
    let warnings = report.events_at(Level::WARN);
    assert_eq!(warnings.len(), 1, "the retry: {warnings:?}");
    assert_eq!(warnings[0].field("actual"), Some("1"));

    let metrics = &report.metrics;
    assert_eq!(metrics.counter(CONFLICTS_TOTAL, &ACCOUNT), 1);
    assert_eq!(metrics.counter(EVENTS_APPENDED_TOTAL, &ACCOUNT), 1);
    let durations = metrics.histogram(APPEND_DURATION_SECONDS, &ACCOUNT);
    assert_eq!(durations.len(), 2, "both appends are timed");
    assert!(durations.iter().all(|s| *s > 0.0 && *s < 60.0), "a round trip each: {durations:?}");
}

#[test]
fn a_runner_that_loses_its_connection_warns_and_reconnects() {
    let ((), report) = observe(|_| async {
        let store = ledger_store().await;
        let first = deposit(&store, "a", 1).await;
        let (waiter, running) = start(live(PgProjectionRunner::new(store.clone(), Ledger::new(&store, "only"))));
        within("the first event", waiter.wait_for(first, Duration::from_secs(60))).await.unwrap();
        let killed: i64 = common::raw_client()
            .await
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&format!("es projection {}.ledger", store.schema())],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(killed, 1, "the runner's own connection");
        let second = deposit(&store, "a", 2).await;
        within("the runner to reconnect", waiter.wait_for(second, Duration::from_secs(60))).await.unwrap();
        running.stop().await;
    });

    let warnings = report.events_at(Level::WARN);
    let lost: Vec<_> =
        warnings.iter().filter(|w| w.field("message").is_some_and(|m| m.contains("reconnecting"))).collect();
    assert_eq!(lost.len(), 1, "{warnings:?}");
    assert_eq!((lost[0].field("projection"), lost[0].field("attempts")), (Some("ledger"), Some("1")));
    assert!(lost[0].field("error").is_some_and(|e| e.contains("connection")), "{lost:?}");

    let pages = report.spans("project");
    assert!(pages.iter().all(|p| p.field("projection") == Some("ledger")), "{pages:?}");
    // A page the lost connection interrupted records no checkpoint.
    let committed = pages.iter().filter(|p| p.field("checkpoint").is_some());
    let handled: usize = committed.map(|p| p.field("events").unwrap().parse::<usize>().unwrap()).sum();
    assert_eq!(handled, 2, "each deposit committed in one page, once: {pages:?}");
    let ledger = [("projection", "ledger")];
    assert_eq!(report.metrics.counter(EVENTS_PROJECTED_TOTAL, &ledger), 2);
}
