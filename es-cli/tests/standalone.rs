//! The `es` binary against a real server: each command's output for people
//! and for scripts, its exit codes and its errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Balances, checkpoint, es, es_raw, es_with_input, fresh_store, seed};
use es_core::projection::RunnerOptions;
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, Position};
use es_postgres::{PgEventStore, PgProjectionRunner};
use serde_json::{Value, json};

#[tokio::test]
async fn migrate_applies_the_migrations_once_and_other_commands_need_them() {
    let store = common::blank_store().await;
    let before = es(&store, &["status"]);
    assert_eq!(before.code, 2, "{before:#?}");
    let expected = format!(
        "error: schema `{}` holds no event store: check --database-url and --schema, or create one with `es migrate`\n",
        store.schema()
    );
    assert_eq!(before.stderr, expected);

    let first = es(&store, &["migrate"]).ok();
    let latest = PgEventStore::latest_migration();
    let all: Vec<String> = (1..=latest).map(|v| v.to_string()).collect();
    assert!(first.stdout.contains(&format!("migrated: applied {}", all.join(", "))), "{first:#?}");
    let again = es(&store, &["migrate", "--json"]).ok().json();
    assert_eq!(again, json!({ "location": format!("schema `{}`", store.schema()), "applied": [], "latest": latest }));
}

#[tokio::test]
async fn status_counts_events_and_streams_and_shows_the_head() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let status = es(&store, &["status", "--json"]).ok().json();
    assert_eq!(status["events"], 4);
    assert_eq!(status["streams"], 2);
    assert_eq!(status["head"], last.to_string());
    assert!(status["size_bytes"].as_u64().is_some_and(|bytes| bytes > 0), "{status}");
    assert!(status["held_back"].is_u64(), "{status}");
    assert_eq!(status["projections"], json!([]));

    let text = es(&store, &["status"]).ok().stdout;
    assert!(text.contains("events        4\n"), "{text}");
    assert!(text.contains("streams       2\n"), "{text}");
    assert!(text.contains(&format!("head          {last}\n")), "{text}");
    assert!(text.contains("size on disk  "), "{text}");
    assert!(text.contains("read lag      "), "{text}");
}

#[tokio::test]
async fn streams_lists_a_page_at_a_time() {
    let store = fresh_store().await;
    seed(&store).await;
    let order = EncodedEvent { name: "Placed".into(), schema_version: 1, payload: json!({}).into() };
    store.append("order", "ord-1", ExpectedVersion::NoStream, vec![order], &Metadata::default()).await.unwrap();

    let all = es(&store, &["streams", "--json"]).ok().json();
    let ids: Vec<_> = all.as_array().unwrap().iter().map(|s| (s["stream_id"].clone(), s["version"].clone())).collect();
    assert_eq!(ids, [(json!("acc-1"), json!(3)), (json!("acc-2"), json!(1)), (json!("ord-1"), json!(1))]);
    assert_eq!(all[2]["aggregate_type"], "order");

    let accounts = es(&store, &["streams", "--category", "account", "--json"]).ok().json();
    assert_eq!(accounts.as_array().unwrap().len(), 2);

    let page = es(&store, &["streams", "--limit", "1"]).ok().stdout;
    let lines: Vec<_> = page.lines().collect();
    assert_eq!(lines.len(), 3, "{page}");
    assert!(lines[0].starts_with("STREAM  TYPE     VERSION  LAST RECORDED"), "{page}");
    assert!(lines[1].starts_with("acc-1   account  3        "), "{page}");
    assert_eq!(lines[2], "(first 1 shown; next page: --after acc-1)");
    let next = es(&store, &["streams", "--limit", "1", "--after", "acc-1", "--json"]).ok().json();
    assert_eq!(next[0]["stream_id"], "acc-2");
}

#[tokio::test]
async fn stream_shows_events_with_their_envelopes() {
    let store = fresh_store().await;
    seed(&store).await;
    let events = es(&store, &["stream", "acc-1", "--json"]).ok().json();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[1]["event_name"], "escli.Deposited");
    assert_eq!(events[1]["schema_version"], 1);
    assert_eq!(events[1]["payload"], json!({ "amount": 100 }));
    assert!(events[1]["position"].as_str().is_some_and(|p| p.contains('/')));

    let middle = es(&store, &["stream", "acc-1", "--from", "2", "--to", "2"]).ok().stdout;
    assert!(middle.starts_with("#2  escli.Deposited (schema v1)  position "), "{middle}");
    assert!(middle.contains("\n    {\n      \"amount\": 100\n    }\n"), "{middle}");
    assert_eq!(middle.matches('#').count(), 1, "{middle}");

    let before = es(&store, &["stream", "acc-1", "--as-of", "2000-01-01T00:00:00Z"]);
    assert_eq!(before.code, 1, "{before:#?}");
    assert!(before.stderr.contains("stream `acc-1` has no events in that range"), "{before:#?}");
    let metadata = Metadata::default().with_actor("ada").with("ip", "10.0.0.1");
    let placed = EncodedEvent { name: "Placed".into(), schema_version: 1, payload: json!({ "total": 3 }).into() };
    store.append("order", "ord-1", ExpectedVersion::NoStream, vec![placed], &metadata).await.unwrap();
    let order = es(&store, &["stream", "ord-1"]).ok().stdout;
    assert!(order.contains("\n    metadata {\"actor\":\"ada\",\"extra\":{\"ip\":\"10.0.0.1\"}}\n"), "{order}");
    let order = es(&store, &["stream", "ord-1", "--json"]).ok().json();
    assert_eq!(order[0]["metadata"], json!({ "actor": "ada", "extra": { "ip": "10.0.0.1" } }));

    let missing = es(&store, &["stream", "nope"]);
    assert_eq!((missing.code, missing.stderr.trim()), (1, "error: stream `nope` has no events"));
}

#[tokio::test]
async fn tail_shows_the_latest_events_in_global_order() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let all = es(&store, &["tail", "--json"]).ok();
    let lines: Vec<Value> = all.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let seen: Vec<_> = lines.iter().map(|l| format!("{} #{}", l["stream_id"], l["version"])).collect();
    assert_eq!(seen, ["\"acc-1\" #1", "\"acc-1\" #2", "\"acc-1\" #3", "\"acc-2\" #1"]);
    assert_eq!(lines[3]["position"], last.to_string());

    let latest = es(&store, &["tail", "--last", "1"]).ok().stdout;
    assert_eq!(latest.lines().count(), 1, "{latest}");
    assert!(latest.starts_with(&format!("{last}  ")) && latest.contains("account acc-2 #1  escli.Opened"), "{latest}");
}

#[tokio::test]
async fn tail_follow_prints_new_events_as_they_come() {
    let store = fresh_store().await;
    seed(&store).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_es"))
        .args(["--database-url", &common::database_url(), "--schema", store.schema()])
        .args(["tail", "--last", "1", "--follow", "--interval", "20ms", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start es tail");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut next_line = move || {
        let mut line = String::new();
        stdout.read_line(&mut line).map(|_| line)
    };
    // The latest event printed first shows that the follower has found its
    // start: what it prints after the append below can only be the new event.
    let (first, next_line) = tokio::task::spawn_blocking(move || (next_line(), next_line)).await.unwrap();
    let event = EncodedEvent { name: "Placed".into(), schema_version: 1, payload: json!({ "total": 3 }).into() };
    store.append("order", "ord-9", ExpectedVersion::NoStream, vec![event], &Metadata::default()).await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(20), tokio::task::spawn_blocking(next_line)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let first: Value = serde_json::from_str(&first.unwrap()).unwrap();
    assert_eq!(first["stream_id"], "acc-2");
    let line = line.expect("a line within 20 s").unwrap().unwrap();
    let printed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((printed["stream_id"].as_str(), printed["event_name"].as_str()), (Some("ord-9"), Some("Placed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_show_checkpoint_lag_and_the_runner_holding_each() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let balances = Balances::create(&store).await;
    let mut runner = PgProjectionRunner::new(store.clone(), balances)
        .with_options(RunnerOptions::default().poll_interval(Duration::from_millis(20)));
    let waiter = runner.waiter();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { drop(stopped.await) }).await });
    waiter.wait_for(last, Duration::from_secs(20)).await.expect("the runner catches up");

    let listed = es(&store, &["projections", "--json"]).ok().json();
    assert_eq!(listed[0]["name"], "balances");
    assert_eq!(listed[0]["checkpoint"], last.to_string());
    assert_eq!((listed[0]["behind"].clone(), listed[0]["lag_seconds"].clone()), (json!(0), Value::Null));
    let runner = &listed[0]["runner"];
    assert_eq!(runner["application_name"], format!("es projection {}.balances", store.schema()));
    assert_eq!(runner["pid"], std::process::id(), "the application's process, not the server's: {listed}");
    assert!(runner["server_pid"].as_i64().is_some_and(|pid| pid > 0), "{listed}");
    assert!(runner["label"].as_str().is_some_and(|label| !label.is_empty()), "{listed}");

    // A runner of another process (a store labelled as another pod) stands by.
    let other_pod =
        PgEventStore::builder(common::config()).schema(store.schema()).runner_label("pod-b").build().unwrap();
    let mut standby = PgProjectionRunner::new(other_pod, Balances::create(&store).await)
        .with_options(RunnerOptions::default().poll_interval(Duration::from_millis(20)));
    let (stop_standby, standby_stopped) = tokio::sync::oneshot::channel::<()>();
    let standing_by = tokio::spawn(async move { standby.run(async { drop(standby_stopped.await) }).await });
    let standbys = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let listed = es(&store, &["projections", "--json"]).ok().json();
            // Listed once its session has recorded the process it runs in.
            if listed[0]["standbys"][0]["label"].is_string() {
                return listed[0]["standbys"].clone();
            }
        }
    });
    let standbys = standbys.await.expect("the standby is listed within 20 s");
    assert_eq!(
        (standbys[0]["label"].as_str(), standbys[0]["pid"].as_u64()),
        (Some("pod-b"), Some(u64::from(std::process::id())))
    );

    let refused = es(&store, &["projection", "balances", "reset", "--yes"]);
    assert_eq!(refused.code, 1, "{refused:#?}");
    let by = format!("projection `balances` is being run by pid {} on ", std::process::id());
    assert!(refused.stderr.contains(&by), "{refused:#?}");
    stop_standby.send(()).unwrap();
    standing_by.await.unwrap().expect("the standby stops cleanly");
    assert_eq!(checkpoint(&store, "balances").await, last.to_string());

    stop.send(()).unwrap();
    running.await.unwrap().expect("the runner stops cleanly");
    let event =
        EncodedEvent { name: "escli.Deposited".into(), schema_version: 1, payload: json!({ "amount": 5 }).into() };
    store.append("account", "acc-2", ExpectedVersion::Exact(1), vec![event], &Metadata::default()).await.unwrap();
    let text = es(&store, &["projections"]).ok().stdout;
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines[0], "PROJECTION  CHECKPOINT  BEHIND  LAG  RUNNER  STANDBYS  PARKED  STOPPED", "{text}");
    let columns: Vec<_> = lines[1].split_whitespace().collect();
    assert_eq!(columns[..3], ["balances", &last.to_string(), "1"], "{text}");
    assert_eq!(columns[4..], ["-", "0", "0", "-"], "no runner holds it now, nothing parked or stopped: {text}");
}

#[tokio::test]
async fn reset_asks_first_and_changes_nothing_unless_confirmed() {
    let store = fresh_store().await;
    let last = seed(&store).await;
    let mut runner = PgProjectionRunner::new(store.clone(), Balances::create(&store).await);
    runner.catch_up().await.expect("catch up");
    drop(runner);
    assert_eq!(checkpoint(&store, "balances").await, last.to_string());

    for stdin in [None, Some("n\n"), Some("\n")] {
        let run = es_with_input(&store, &["projection", "balances", "reset"], stdin);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(run.stderr.contains("[y/N]"), "{run:#?}");
        assert!(run.stderr.contains("reset of projection `balances` not confirmed: nothing changed"), "{run:#?}");
        assert_eq!(checkpoint(&store, "balances").await, last.to_string());
    }

    let confirmed = es_with_input(&store, &["projection", "balances", "reset"], Some("y\n")).ok();
    assert!(confirmed.stdout.contains("reset to 0/0"), "{confirmed:#?}");
    assert!(confirmed.stdout.contains("read model belongs to the application and was left as it is"));
    assert_eq!(checkpoint(&store, "balances").await, Position::START.to_string());
    assert_eq!(common::Balances::rows(&store).await.len(), 2, "the read model is the application's");

    let json = es(&store, &["projection", "balances", "reset", "--yes", "--json"]).ok().json();
    assert_eq!(json, json!({ "projection": "balances", "checkpoint": "0/0" }));
    let unknown = es(&store, &["projection", "nope", "reset", "--yes"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains(&format!("schema `{}` has no projection `nope`", store.schema())));
}

#[tokio::test]
async fn connection_errors_exit_2_with_the_stores_message_once() {
    let refused = es_raw(&["--database-url", "postgres://postgres@127.0.0.1:1/postgres", "status"]);
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(refused.stderr.starts_with("error: cannot reach PostgreSQL at 127.0.0.1:1: "), "{refused:#?}");
    assert!(refused.stderr.contains("refused the connection"), "{refused:#?}");
    for line in refused.stderr.lines().skip(1) {
        let cause = line.trim_start().trim_start_matches("caused by: ");
        assert_eq!(refused.stderr.matches(cause).count(), 1, "repeated cause: {refused:#?}");
    }

    let unparsable = es_raw(&["--database-url", "postgres://:x@/?port=nope", "status"]);
    assert_eq!(unparsable.code, 2, "{unparsable:#?}");
    assert!(unparsable.stderr.starts_with("error: invalid connection string (option `port`): "), "{unparsable:#?}");

    let missing = es_raw(&["status"]);
    assert_eq!(missing.code, 2, "{missing:#?}");
    assert!(missing.stderr.contains("no store given: pass --database-url, or set DATABASE_URL"), "{missing:#?}");
}

#[tokio::test]
async fn commands_that_decode_need_the_application() {
    let store = fresh_store().await;
    seed(&store).await;
    for args in [&["check"][..], &["stream", "acc-1", "--state"], &["projection", "balances", "rebuild"]] {
        let run = es(&store, args);
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(run.stderr.contains("needs the application's"), "{run:#?}");
    }
}

/// Stored text shows with its control characters escaped, in every listing:
/// a stream id holding an escape sequence and a newline cannot recolour
/// the terminal or break a table.
#[tokio::test]
async fn stored_text_shows_with_its_control_characters_escaped() {
    let store = fresh_store().await;
    let id = "evil\u{1b}[31m\nid";
    let event = EncodedEvent { name: "Noted\u{202e}".into(), schema_version: 1, payload: json!({}).into() };
    let appended = store.append("account", id, ExpectedVersion::NoStream, vec![event], &Metadata::default()).await;
    common::visible(&store, appended.unwrap().position().unwrap()).await;
    for args in [&["streams"][..], &["tail"], &["stream", id]] {
        let out = es(&store, args).ok().stdout;
        assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{args:?}: {out:?}");
        let shown = if args[0] == "stream" { "Noted\\u{202e}" } else { "evil\\u{1b}[31m\\nid" };
        assert!(out.contains(shown), "{args:?}: {out:?}");
    }
    let json = es(&store, &["streams", "--json"]).ok().json();
    assert_eq!(json[0]["stream_id"], id, "JSON carries the text as stored");
}

/// The text output cuts a long payload, saying how much it left out and
/// how to see it; `--full` and `--json` show it whole.
#[tokio::test]
async fn stream_cuts_long_payloads_unless_asked_for_them_whole() {
    let store = fresh_store().await;
    let lines: Vec<String> = (0..2000).map(|n| format!("line {n:04}")).collect();
    let upload = EncodedEvent { name: "Uploaded".into(), schema_version: 1, payload: json!({ "lines": lines }).into() };
    store.append("file", "f-1", ExpectedVersion::NoStream, vec![upload], &Metadata::default()).await.unwrap();
    let cut = es(&store, &["stream", "f-1"]).ok().stdout;
    assert!(cut.contains("\"line 0000\""), "{cut}");
    assert!(!cut.contains("\"line 1999\""), "the payload is cut");
    assert!(cut.contains(" more bytes (") && cut.contains("in all); --full shows them"), "{cut}");
    assert!(cut.len() < 6000, "{} bytes shown", cut.len());
    let whole = es(&store, &["stream", "f-1", "--full"]).ok().stdout;
    assert!(whole.contains("\"line 1999\"") && !whole.contains("--full shows them"), "{whole}");
    let json = es(&store, &["stream", "f-1", "--json"]).ok().json();
    assert_eq!(json[0]["payload"]["lines"].as_array().map(Vec::len), Some(2000));
}
