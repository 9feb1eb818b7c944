//! The command line mounted in an application, with the application's
//! aggregate and projection registered: rebuild, state after each event,
//! check, parked events.

mod common;

use std::sync::atomic::Ordering;

use common::{Account, Balances, REFUSED_AMOUNT, REFUSING, checkpoint, fresh_store, seed, visible};
use es_cli::{Cli, Error};
use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions};
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata};
use es_postgres::{PgEventStore, PgProjectionRunner};
use serde_json::{Value, json};

/// Runs the application's command line (`myapp es …`) on `args` and returns
/// what it printed.
async fn app_es(store: &PgEventStore, args: &[&str]) -> (Result<(), Error>, String) {
    let cli = Cli::new().aggregate::<Account>().projection(Balances::create(store).await);
    let url = common::database_url();
    let mut argv = vec!["es", "--database-url", &url, "--schema", store.schema()];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let result = cli.run_with(argv, &mut out, &mut std::io::empty()).await;
    (result, String::from_utf8(out).expect("UTF-8 output"))
}

#[tokio::test]
async fn rebuild_replays_every_event_into_the_read_model() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let (result, out) = app_es(&store, &["projection", "balances", "rebuild"]).await;
    result.expect("rebuild");
    assert!(out.starts_with("projection `balances` rebuilt: 4 events replayed in "), "{out}");
    assert_eq!(Balances::rows(&store).await, [("acc-1".to_owned(), 150), ("acc-2".to_owned(), 0)]);
    assert_eq!(checkpoint(&store, "balances").await, last.to_string());

    // A second rebuild empties the read model first: the balances are not doubled.
    let (result, out) = app_es(&store, &["projection", "balances", "rebuild", "--json"]).await;
    result.expect("rebuild again");
    let rebuilt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((rebuilt["projection"].clone(), rebuilt["events"].clone()), (json!("balances"), json!(4)));
    assert_eq!(Balances::rows(&store).await, [("acc-1".to_owned(), 150), ("acc-2".to_owned(), 0)]);

    let (result, _) = app_es(&store, &["projection", "nope", "rebuild"]).await;
    let error = result.unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error
            .to_string()
            .starts_with("no projection `nope` is registered with this command line (registered: balances)")
    );
}

/// A rebuild while a runner of another process holds the projection is
/// refused naming that runner's application process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_under_a_live_runner_names_it() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let pod = PgEventStore::builder(common::config()).schema(store.schema()).runner_label("pod-a").build().unwrap();
    let mut runner = PgProjectionRunner::new(pod, Balances::create(&store).await);
    let waiter = runner.waiter();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { drop(stopped.await) }).await });
    waiter.wait_for(last, std::time::Duration::from_secs(20)).await.expect("the runner catches up");
    let (result, _) = app_es(&store, &["projection", "balances", "rebuild"]).await;
    let error = result.unwrap_err().to_string();
    let by = format!("projection `balances` is being run by pid {} on pod-a", std::process::id());
    assert!(error.contains(&by), "{error}");
    stop.send(()).unwrap();
    running.await.unwrap().expect("the runner stops cleanly");
}

#[tokio::test]
async fn stream_state_shows_the_aggregate_after_each_event() {
    let store = fresh_store().await;
    seed(&store).await;
    let (result, out) = app_es(&store, &["stream", "acc-1", "--state", "--json"]).await;
    result.expect("states");
    let rows: Value = serde_json::from_str(&out).unwrap();
    let states: Vec<_> = rows.as_array().unwrap().iter().map(|r| (r["version"].clone(), r["state"].clone())).collect();
    assert_eq!(
        states,
        [
            (json!(1), json!({ "owner": "ada", "balance": 0 })),
            (json!(2), json!({ "owner": "ada", "balance": 100 })),
            (json!(3), json!({ "owner": "ada", "balance": 150 })),
        ]
    );

    let (result, out) = app_es(&store, &["stream", "acc-1", "--state", "--at", "2"]).await;
    result.expect("states up to version 2");
    assert!(out.contains("#2  escli.Deposited (schema v1)  position "), "{out}");
    assert!(out.ends_with("    {\n      \"balance\": 100,\n      \"owner\": \"ada\"\n    }\n"), "{out}");
    assert!(!out.contains("#3"), "{out}");
}

#[tokio::test]
async fn check_reports_undecodable_events_and_missing_versions() {
    let store = fresh_store().await;
    seed(&store).await;
    let (result, out) = app_es(&store, &["check"]).await;
    result.expect("a clean store passes");
    assert_eq!(out, "checked 4 events in 2 streams: 0 problem(s)\n");

    // Events are immutable, but nothing stops a bad insert behind the store's back.
    let insert = format!(
        "INSERT INTO {}.events (aggregate_type, stream_id, version, event_name, event_version, payload) VALUES
         ('account', 'acc-2', 2, 'escli.Deposited', 1, '{{\"amount\": \"lots\"}}'),
         ('account', 'acc-2', 5, 'escli.Deposited', 1, '{{\"amount\": 1}}'),
         ('account', 'acc-3', 1, 'escli.Renamed', 1, '{{}}'),
         ('order', 'ord-1', 1, 'Placed', 1, '{{}}')",
        store.quoted_schema()
    );
    common::raw_client().await.batch_execute(&insert).await.unwrap();
    let (result, out) = app_es(&store, &["check", "--json"]).await;
    let error = result.unwrap_err();
    assert_eq!((error.exit_code(), error.to_string()), (1, "check found 4 problem(s) in the store".to_owned()));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["events"].clone(), report["streams"].clone()), (json!(8), json!(4)));
    let problems: Vec<_> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} #{}: {}", p["stream_id"].as_str().unwrap(), p["version"], p["problem"].as_str().unwrap()))
        .collect();
    assert_eq!(problems.len(), 4, "{out}");
    assert!(
        problems[0].starts_with("acc-2 #2: payload of event `escli.Deposited` (version 1) does not match its type")
    );
    assert_eq!(problems[1], "acc-2 #5: versions 3 to 4 are missing");
    assert_eq!(problems[2], "acc-3 #1: unknown event `escli.Renamed`");
    assert!(
        problems[3].starts_with("ord-1 #1: 1 event(s) of aggregate type `order`, which no registered aggregate has")
    );

    let (_, text) = app_es(&store, &["check"]).await;
    assert!(text.starts_with("STREAM  VERSION  PROBLEM\nacc-2   2        payload of event"), "{text}");
    assert!(text.ends_with("checked 8 events in 4 streams: 4 problem(s)\n"), "{text}");
}

#[tokio::test]
async fn parked_events_are_listed_discarded_and_retried_once_fixed() {
    let store = fresh_store().await;
    seed(&store).await;
    let deposit = |amount: i64| EncodedEvent {
        name: "escli.Deposited".into(),
        schema_version: 1,
        payload: json!({ "amount": amount }).into(),
    };
    let typo =
        EncodedEvent { name: "escli.Depositted".into(), schema_version: 1, payload: json!({ "amount": 1 }).into() };
    let events = vec![typo, deposit(REFUSED_AMOUNT), deposit(4)];
    let appended = store.append("account", "acc-1", ExpectedVersion::Exact(3), events, &Metadata::default()).await;
    let last = appended.unwrap().position().unwrap();
    visible(&store, last).await;
    REFUSING.store(true, Ordering::SeqCst);
    let options = RunnerOptions::default().retry(RetryPolicy::NEVER).on_poison(PoisonPolicy::Park);
    let mut runner = PgProjectionRunner::new(store.clone(), Balances::create(&store).await).with_options(options);
    while runner.checkpoint() < last {
        runner.catch_up().await.expect("the poison events are parked");
    }
    assert_eq!(Balances::rows(&store).await, [("acc-1".to_owned(), 154), ("acc-2".to_owned(), 0)]);

    let (result, out) = app_es(&store, &["parked", "balances", "--json"]).await;
    result.expect("list");
    let parked: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<_> = parked.as_array().unwrap().iter().map(|p| p["event_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["escli.Depositted", "escli.Deposited"]);
    let (typo_id, refused_id) = (parked[0]["id"].to_string(), parked[1]["id"].to_string());
    assert!(parked[1]["error"].as_str().unwrap().contains("refused"), "{parked}");

    let (result, out) = app_es(&store, &["parked", "balances", "discard", &typo_id, "--reason", "a typo"]).await;
    result.expect("discard");
    assert!(out.contains("discarded; it stays on record"), "{out}");

    let (result, _) = app_es(&store, &["parked", "balances", "retry", &refused_id]).await;
    assert!(result.unwrap_err().report().contains("refused"), "still refused: it stays parked");
    REFUSING.store(false, Ordering::SeqCst);
    let (result, out) = app_es(&store, &["parked", "balances", "retry", &refused_id]).await;
    result.expect("retry");
    assert!(out.contains("handled and no longer parked"), "{out}");
    assert_eq!(Balances::rows(&store).await, [("acc-1".to_owned(), 154 + REFUSED_AMOUNT), ("acc-2".to_owned(), 0)]);

    let (result, out) = app_es(&store, &["parked", "balances"]).await;
    result.expect("list again");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].contains("escli.Depositted") && lines[1].contains("discarded: a typo"), "{out}");
    let (result, out) = app_es(&store, &["projections", "--json"]).await;
    result.expect("projections");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((listed[0]["parked"].clone(), listed[0]["stopped"].clone()), (json!(0), Value::Null));
}
