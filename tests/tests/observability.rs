//! What the runtime reports while it works, on the in-memory store: the
//! spans and warnings of commands and projections, and their metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions};
use es_core::telemetry::{
    APPEND_DURATION_SECONDS, COMMAND_RETRIES_TOTAL, COMMANDS_TOTAL, CONFLICTS_TOTAL, EVENTS_APPENDED_TOTAL,
    EVENTS_PARKED_TOTAL, EVENTS_PROJECTED_TOTAL, LOAD_DURATION_SECONDS, LOAD_EVENTS, PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS,
};
use es_core::{
    Aggregate, AggregateTypes, BoxError, Event, EventStore, ExpectedVersion, InMemoryEventStore,
    InMemoryProjectionRunner, Metadata, Projection, RecordedEvent, Repository, Snapshot, StreamRange,
};
use es_examples::account::{Account, AccountEvent, Deposited};
use es_tests::{Probe, observe};
use futures_util::FutureExt;
use tracing::Level;

const ACCOUNT: [(&str, &str); 1] = [("aggregate", "account")];
const BALANCES: [(&str, &str); 1] = [("projection", "balances")];

/// Appends a deposit to `stream` as another writer would, behind the
/// repository's back. The in-memory store completes at once, so this can
/// run inside a command.
fn other_writer_deposits(store: &InMemoryEventStore, stream: &str, at: u64) {
    let deposit = Deposited { amount: 1 }.encode().unwrap();
    let metadata = Metadata::default();
    let append = store.append("account", stream, ExpectedVersion::Exact(at), vec![deposit], &metadata);
    append.now_or_never().expect("the in-memory store appends at once").unwrap();
}

#[test]
fn a_command_retried_after_a_conflict_shows_its_spans_a_warning_and_counts() {
    let metadata = Metadata::default().with_correlation_id("req-1").with_causation_id("cmd-1");
    let (stored, report) = observe(|_| async {
        let accounts = Repository::<Account, _>::new(InMemoryEventStore::new());
        accounts.execute("a", |a| a.open("ada")).await.unwrap();
        let mut runs = 0;
        let committed = accounts
            .execute_with("a", &metadata, |a| {
                runs += 1;
                if runs == 1 {
                    other_writer_deposits(accounts.store(), "a", 1);
                }
                a.deposit(100)
            })
            .await
            .unwrap();
        assert_eq!((committed.attempts, committed.version), (2, 3));
        accounts.store().read_stream("a", StreamRange::all()).await.unwrap()
    });

    let executes = report.spans("execute");
    assert_eq!(executes.len(), 2, "one per command: {executes:?}");
    let execute = executes[1];
    assert_eq!(execute.field("aggregate"), Some("account"));
    assert_eq!(execute.field("stream"), Some("a"));
    assert_eq!(execute.field("correlation_id"), Some("req-1"));
    assert_eq!(execute.field("causation_id"), Some("cmd-1"));
    assert_eq!(execute.field("attempts"), Some("2"));
    assert_eq!(execute.field("version"), Some("3"));

    // The open's load and append, then the deposit's two of each.
    let loads = report.spans("load");
    let appends = report.spans("append");
    assert_eq!((loads.len(), appends.len()), (3, 3));
    assert!(loads.iter().chain(&appends).all(|s| s.parent == Some("execute")), "{loads:?} {appends:?}");
    let (first_load, retry_load) = (loads[1], loads[2]);
    assert_eq!((first_load.field("version"), first_load.field("events")), (Some("1"), Some("1")));
    assert_eq!((retry_load.field("version"), retry_load.field("events")), (Some("2"), Some("2")));
    assert_eq!(retry_load.field("snapshot"), None, "no snapshot was used");
    let (lost, won) = (appends[1], appends[2]);
    assert_eq!(
        (lost.field("aggregate"), lost.field("stream"), lost.field("events")),
        (Some("account"), Some("a"), Some("1"))
    );
    assert_eq!((lost.field("conflict"), lost.field("version")), (Some("true"), None));
    assert_eq!((won.field("conflict"), won.field("version")), (None, Some("3")));

    let warnings = report.events_at(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].span, Some("execute"));
    assert_eq!((warnings[0].field("attempt"), warnings[0].field("actual")), (Some("1"), Some("2")));
    assert!(warnings[0].field("message").is_some_and(|m| m.contains("retrying")), "{warnings:?}");

    let metrics = &report.metrics;
    let committed = [ACCOUNT[0], ("outcome", "committed")];
    assert_eq!(metrics.counter(COMMANDS_TOTAL, &committed), 2);
    assert_eq!(metrics.counter(CONFLICTS_TOTAL, &ACCOUNT), 1);
    assert_eq!(metrics.counter(COMMAND_RETRIES_TOTAL, &ACCOUNT), 1);
    assert_eq!(metrics.counter(EVENTS_APPENDED_TOTAL, &ACCOUNT), 2, "the other writer's append is not a command's");
    assert_eq!(metrics.histogram(APPEND_DURATION_SECONDS, &ACCOUNT).len(), 3, "every append is timed");
    assert_eq!(metrics.histogram(LOAD_DURATION_SECONDS, &ACCOUNT).len(), 3);
    assert_eq!(metrics.histogram(LOAD_EVENTS, &ACCOUNT), [0.0, 1.0, 2.0]);

    // The deposit carries the command's metadata.
    assert_eq!(stored[2].metadata, metadata);
}

#[test]
fn command_ids_are_span_fields_no_causation_is_made_up_and_outcomes_count() {
    let metadata = Metadata::default().with_correlation_id("req-2").with_command_id("cmd-2");
    let (stored, report) = observe(|_| async {
        let accounts = Repository::<Account, _>::new(InMemoryEventStore::new());
        accounts.execute_with("a", &metadata, |a| a.open("ada")).await.unwrap();
        let again = accounts.execute_with("a", &metadata, |a| a.open("ada")).await.unwrap();
        assert_eq!(again.attempts, 0, "sent twice, committed once");
        let other_command = Metadata::default().with_correlation_id("req-2");
        let rejected = accounts.execute_with("a", &other_command, |a| a.withdraw(1)).await;
        assert!(rejected.is_err());
        accounts.store().read_stream("a", StreamRange::all()).await.unwrap()
    });
    assert_eq!(stored[0].metadata.correlation_id.as_deref(), Some("req-2"));
    assert_eq!(stored[0].metadata.causation_id, None, "no causation id is made up");
    assert_eq!(stored[0].metadata.command_id.as_deref(), Some("cmd-2"), "the command is named");
    let execute = report.spans("execute")[0];
    let ids = ["correlation_id", "causation_id", "command_id"].map(|f| execute.field(f));
    assert_eq!(ids, [Some("req-2"), None, Some("cmd-2")]);
    for outcome in ["committed", "duplicate", "rejected"] {
        assert_eq!(report.metrics.counter(COMMANDS_TOTAL, &[ACCOUNT[0], ("outcome", outcome)]), 1, "{outcome}");
    }
}

#[test]
fn a_load_that_starts_from_a_snapshot_says_so_and_one_that_cannot_warns() {
    let (_, report) = observe(|_| async {
        let accounts = Repository::<Account, _>::new(InMemoryEventStore::new());
        accounts.execute("a", |a| a.open("ada")).await.unwrap();
        for _ in 0..5 {
            accounts.execute("a", |a| a.deposit(10)).await.unwrap();
        }
        // Taken at version 5, when the fifth event committed.
        assert_eq!(accounts.load("a").await.unwrap().snapshot_at, Some(5));
        let garbage = Snapshot {
            aggregate_type: "account".into(),
            stream_id: "a".into(),
            version: 6,
            schema_version: Account::SNAPSHOT_SCHEMA_VERSION,
            fingerprint: Account::SNAPSHOT_FINGERPRINT,
            state: serde_json::json!("not an account").into(),
        };
        accounts.store().save_snapshot(garbage).await.unwrap();
        assert_eq!(accounts.load("a").await.unwrap().snapshot_at, None);
    });
    let loads = report.spans("load");
    let (from_snapshot, replayed) = (loads[loads.len() - 2], loads[loads.len() - 1]);
    for (load, expected) in
        [(from_snapshot, [Some("6"), Some("1"), Some("5")]), (replayed, [Some("6"), Some("6"), None])]
    {
        assert_eq!(["version", "events", "snapshot"].map(|f| load.field(f)), expected, "{load:?}");
    }
    let warnings = report.events_at(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].span, Some("load"));
    assert!(warnings[0].field("message").is_some_and(|m| m.contains("does not decode")), "{warnings:?}");
}

/// Balances per account; fails on every event of the streams in `poison`.
/// Records the lag gauges when it handles an event.
#[derive(Default)]
struct Balances {
    poison: Vec<String>,
    probe: Option<Probe>,
    lag_seen: Arc<Mutex<Vec<(f64, f64)>>>,
}

impl Projection for Balances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "balances"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    async fn handle(&mut self, _: &AccountEvent, envelope: &RecordedEvent) -> Result<(), BoxError> {
        if let Some(probe) = &self.probe {
            let metrics = probe.metrics();
            let events = metrics.gauge(PROJECTION_LAG_EVENTS, &BALANCES).unwrap_or(f64::NAN);
            let seconds = metrics.gauge(PROJECTION_LAG_SECONDS, &BALANCES).unwrap_or(f64::NAN);
            self.lag_seen.lock().unwrap().push((events, seconds));
        }
        if self.poison.contains(&envelope.stream_id) {
            return Err("the read model refuses this account".into());
        }
        Ok(())
    }

    async fn reset(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A store with `accounts` accounts, each opened with one deposit.
async fn bank(accounts: u32) -> InMemoryEventStore {
    let repository = Repository::<Account, _>::new(InMemoryEventStore::new());
    for n in 0..accounts {
        let id = format!("acc-{n}");
        repository.execute(&id, |a| a.open("ada")).await.unwrap();
        repository.execute(&id, |a| a.deposit(100)).await.unwrap();
    }
    repository.store().clone()
}

#[test]
fn each_projection_page_has_a_project_span_and_counts_its_events() {
    let (checkpoint, report) = observe(|_| async {
        let store = bank(3).await;
        let mut runner = InMemoryProjectionRunner::new(store, Balances::default())
            .with_options(RunnerOptions::default().page_size(4));
        assert_eq!(runner.catch_up().await.unwrap(), 6);
        runner.checkpoint()
    });
    let pages = report.spans("project");
    assert_eq!(pages.len(), 2, "6 events in pages of 4: {pages:?}");
    assert!(pages.iter().all(|p| p.field("projection") == Some("balances")));
    assert_eq!((pages[0].field("events"), pages[1].field("events")), (Some("4"), Some("2")));
    assert_eq!(pages[1].field("checkpoint"), Some(checkpoint.to_string().as_str()));
    let metrics = &report.metrics;
    assert_eq!(metrics.counter(EVENTS_PROJECTED_TOTAL, &BALANCES), 6);
    assert_eq!(metrics.gauge(PROJECTION_LAG_EVENTS, &BALANCES), Some(0.0), "caught up");
    assert_eq!(metrics.gauge(PROJECTION_LAG_SECONDS, &BALANCES), Some(0.0), "caught up");
    assert!(report.events_at(Level::WARN).is_empty(), "{:?}", report.events);
}

#[test]
fn the_lag_gauges_tell_the_events_read_and_not_yet_handled() {
    let (lag_seen, _) = observe(|probe| async {
        let store = bank(3).await;
        let lag_seen = Arc::default();
        let balances = Balances { probe: Some(probe), lag_seen: Arc::clone(&lag_seen), ..Balances::default() };
        let mut runner =
            InMemoryProjectionRunner::new(store, balances).with_options(RunnerOptions::default().page_size(4));
        runner.catch_up().await.unwrap();
        lag_seen.lock().unwrap().clone()
    });
    // The probe reads each gauge once and resets it: only the first event
    // of each page sees the value set for the page.
    let first_of_pages: Vec<f64> = [lag_seen[0], lag_seen[4]].iter().map(|(events, _)| *events).collect();
    assert_eq!(first_of_pages, [4.0, 2.0], "a full page is a floor, the last page exact: {lag_seen:?}");
    for (_, seconds) in [lag_seen[0], lag_seen[4]] {
        assert!((0.0..60.0).contains(&seconds), "the age of the oldest unread event: {lag_seen:?}");
    }
}

#[test]
fn a_parked_event_warns_and_counts() {
    let no_wait = RetryPolicy { attempts: 2, initial_backoff: Duration::ZERO, max_backoff: Duration::ZERO };
    let ((), report) = observe(|_| async {
        let store = bank(2).await;
        let balances = Balances { poison: vec!["acc-1".to_owned()], ..Balances::default() };
        let options = RunnerOptions::default().retry(no_wait).on_poison(PoisonPolicy::Park);
        let mut runner = InMemoryProjectionRunner::new(store, balances).with_options(options);
        runner.catch_up().await.unwrap();
        assert_eq!(runner.parked().len(), 2);
    });
    let metrics = &report.metrics;
    assert_eq!(metrics.counter(EVENTS_PARKED_TOTAL, &BALANCES), 2);
    assert_eq!(metrics.counter(EVENTS_PROJECTED_TOTAL, &BALANCES), 2, "acc-0's two events");

    let warnings = report.events_at(Level::WARN);
    let said = |text: &str| warnings.iter().filter(|w| w.field("message").is_some_and(|m| m.contains(text))).count();
    assert_eq!((said("retrying it alone"), said("parked")), (2, 2), "{warnings:?}");
    assert!(warnings.iter().all(|w| w.span == Some("project") && w.field("stream") == Some("acc-1")), "{warnings:?}");
    let parked: Vec<_> = warnings.iter().filter(|w| w.field("message").is_some_and(|m| m.contains("parked"))).collect();
    assert_eq!((parked[0].field("version"), parked[1].field("version")), (Some("1"), Some("2")));
    assert!(parked[0].field("error").is_some_and(|e| e.contains("refuses this account")), "{parked:?}");
}
