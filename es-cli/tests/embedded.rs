//! The command line mounted in an application, with the application's
//! aggregate and projection registered: rebuild, state after each event,
//! check.

mod common;

use common::{Account, Balances, checkpoint, fresh_store, seed};
use es_cli::{Cli, Error};
use es_postgres::PgEventStore;
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
