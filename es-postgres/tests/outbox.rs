//! The outbox: messages enqueued in the caller's transactions, delivered in
//! commit order exactly once, never skipped.

mod common;

#[path = "common/private_server.rs"]
mod private_server;

use std::time::Duration;

use es_core::BoxError;
use es_core::projection::RetryPolicy;
use es_postgres::{
    PgEventStore, PgOutbox, PgOutboxError, PgOutboxHandler, PgOutboxMessage, PgOutboxRunner, PgTransaction,
};
use serde_json::json;

/// Writes each message into `delivered`, under its consumer's name; fails
/// at the message with key `fail_at`, `failures` times.
struct Recorder {
    name: String,
    table: String,
    fail_at: Option<String>,
    failures: u32,
}

impl PgOutboxHandler for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&mut self, tx: &PgTransaction<'_>, messages: &[PgOutboxMessage]) -> Result<(), BoxError> {
        let insert = tx
            .prepare_cached(&format!(
                "INSERT INTO {} (consumer, tx, position, topic, key, payload) VALUES ($1, $2, $3, $4, $5, $6)",
                self.table
            ))
            .await?;
        for m in messages {
            if self.fail_at.as_deref() == Some(m.key.as_str()) && self.failures > 0 {
                self.failures -= 1;
                return Err(format!("cannot handle {}", m.key).into());
            }
            let (commit, sequence) = (m.position.commit as i64, m.position.sequence as i64);
            tx.execute(&insert, &[&self.name, &commit, &sequence, &m.topic, &m.key, &m.payload]).await?;
        }
        Ok(())
    }
}

async fn store_with_read_model() -> (PgEventStore, String) {
    with_read_model(common::fresh_store().await).await
}

async fn with_read_model(store: PgEventStore) -> (PgEventStore, String) {
    let table = format!("{}.delivered", store.quoted_schema());
    let create = format!(
        "CREATE TABLE {table} (consumer TEXT, tx BIGINT, position BIGINT, topic TEXT, key TEXT, payload JSONB,
         PRIMARY KEY (consumer, tx, position))"
    );
    store.connection().await.expect("a connection").batch_execute(&create).await.expect("the read model");
    (store, table)
}

fn recorder(name: &str, table: &str) -> Recorder {
    Recorder { name: name.into(), table: table.into(), fail_at: None, failures: 0 }
}

/// The keys `consumer` delivered, in the order delivered.
async fn delivered(store: &PgEventStore, table: &str, consumer: &str) -> Vec<String> {
    let sql = format!("SELECT key FROM {table} WHERE consumer = $1 ORDER BY tx, position");
    let rows = store.connection().await.expect("a connection").query(&sql, &[&consumer]).await.expect("read model");
    rows.iter().map(|r| r.get(0)).collect()
}

async fn enqueue_committed(store: &PgEventStore, keys: &[&str]) {
    let outbox = PgOutbox::new(store.clone());
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");
    for key in keys {
        outbox.enqueue(&tx, "order.placed", key, &json!({ "key": key })).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");
}

/// Catches up until `count` messages were delivered in all: other tests'
/// open transactions may hold the horizon back for a moment.
async fn deliver(runner: &mut PgOutboxRunner<Recorder>, count: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut delivered = 0;
    while delivered < count {
        delivered += runner.catch_up().await.expect("catch up");
        assert!(tokio::time::Instant::now() < deadline, "{delivered} of {count} messages delivered after 20 s");
        if delivered < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(delivered, count);
}

#[tokio::test]
async fn a_committed_message_is_delivered_once() {
    let (store, table) = store_with_read_model().await;
    enqueue_committed(&store, &["o-1", "o-2"]).await;
    enqueue_committed(&store, &["o-3"]).await;
    let mut runner = PgOutboxRunner::new(store.clone(), recorder("mailer", &table));
    deliver(&mut runner, 3).await;
    assert_eq!(runner.catch_up().await.expect("catch up"), 0, "nothing delivered twice");
    // A new runner resumes from the committed checkpoint.
    let mut again = PgOutboxRunner::new(store.clone(), recorder("mailer", &table));
    assert_eq!(again.catch_up().await.expect("catch up"), 0);
    assert_eq!(delivered(&store, &table, "mailer").await, ["o-1", "o-2", "o-3"]);
}

#[tokio::test]
async fn a_rolled_back_message_is_never_delivered() {
    let (store, table) = store_with_read_model().await;
    let outbox = PgOutbox::new(store.clone());
    let mut client = store.connection().await.expect("a connection");
    let tx = client.transaction().await.expect("a transaction");
    outbox.enqueue(&tx, "order.placed", "rolled-back", &json!({})).await.expect("enqueue");
    tx.rollback().await.expect("rollback");
    enqueue_committed(&store, &["o-1"]).await;
    let mut runner = PgOutboxRunner::new(store.clone(), recorder("mailer", &table));
    deliver(&mut runner, 1).await;
    assert_eq!(delivered(&store, &table, "mailer").await, ["o-1"]);
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let (store, table) = store_with_read_model().await;
    let outbox = PgOutbox::new(store.clone());
    let mut early_client = store.connection().await.expect("a connection");
    let early = early_client.transaction().await.expect("a transaction");
    // The early transaction takes its id first, then a later one commits.
    outbox.enqueue(&early, "order.placed", "early", &json!({})).await.expect("enqueue");
    enqueue_committed(&store, &["late"]).await;
    let mut runner = PgOutboxRunner::new(store.clone(), recorder("mailer", &table));
    assert_eq!(runner.catch_up().await.expect("catch up"), 0, "the later commit waits for the early transaction");

    early.commit().await.expect("commit");
    deliver(&mut runner, 2).await;
    assert_eq!(delivered(&store, &table, "mailer").await, ["early", "late"]);
}

#[tokio::test]
async fn a_handler_failing_mid_page_leaves_the_read_model_equal_to_a_replay() {
    let (store, table) = store_with_read_model().await;
    let keys: Vec<String> = (0..25).map(|i| format!("o-{i:02}")).collect();
    for chunk in keys.chunks(5) {
        enqueue_committed(&store, &chunk.iter().map(String::as_str).collect::<Vec<_>>()).await;
    }
    let mut failing = PgOutboxRunner::new(
        store.clone(),
        Recorder { fail_at: Some("o-13".into()), failures: u32::MAX, ..recorder("a", &table) },
    )
    .page_size(10);
    let failed = loop {
        match failing.catch_up().await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(error) => break error,
        }
    };
    let PgOutboxError::Handler { key, .. } = &failed else { panic!("expected the handler's error, got {failed:?}") };
    assert_eq!(key, "o-10", "the page starting at o-10 failed");
    assert_eq!(delivered(&store, &table, "a").await, keys[..10], "the failing page left nothing");

    let mut fixed = PgOutboxRunner::new(store.clone(), recorder("a", &table)).page_size(10);
    deliver(&mut fixed, 15).await;
    let mut replay = PgOutboxRunner::new(store.clone(), recorder("b", &table));
    deliver(&mut replay, 25).await;
    assert_eq!(delivered(&store, &table, "a").await, delivered(&store, &table, "b").await);
    assert_eq!(delivered(&store, &table, "a").await, keys);
}

#[tokio::test]
async fn pruning_deletes_only_what_every_consumer_delivered() {
    let (store, table) = store_with_read_model().await;
    let outbox = PgOutbox::new(store.clone());
    enqueue_committed(&store, &["o-1", "o-2"]).await;
    assert_eq!(outbox.prune(Duration::ZERO).await.expect("prune"), 0, "no consumer: nothing delivered");
    deliver(&mut PgOutboxRunner::new(store.clone(), recorder("a", &table)), 2).await;
    enqueue_committed(&store, &["o-3"]).await;
    assert_eq!(outbox.prune(Duration::from_secs(3600)).await.expect("prune"), 0, "kept for the retention");
    assert_eq!(outbox.prune(Duration::ZERO).await.expect("prune"), 2, "the two delivered, not o-3");
    deliver(&mut PgOutboxRunner::new(store.clone(), recorder("b", &table)), 1).await;
    assert_eq!(delivered(&store, &table, "b").await, ["o-3"], "a new consumer starts at what is left");
}

#[tokio::test]
async fn a_page_that_fails_is_retried_and_delivered_once() {
    let (store, table) = store_with_read_model().await;
    enqueue_committed(&store, &["o-1", "o-2", "o-3"]).await;
    let flaky = Recorder { fail_at: Some("o-2".into()), failures: 2, ..recorder("a", &table) };
    let retry =
        RetryPolicy { attempts: 3, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) };
    let mut runner = PgOutboxRunner::new(store.clone(), flaky).retry(retry);
    deliver(&mut runner, 3).await;
    assert_eq!(runner.handler().failures, 0, "it failed twice, then went through");
    assert_eq!(delivered(&store, &table, "a").await, ["o-1", "o-2", "o-3"]);
}

/// The server restarts under a live runner: it reconnects by itself and
/// delivers every message committed before and after, each once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_runner_rides_out_a_server_restart() {
    let server = std::sync::Arc::new(private_server::own_server());
    let store = PgEventStore::builder_from_url(&server.url()).unwrap().schema("outbox_outage").build().unwrap();
    store.migrate().await.unwrap();
    let (store, table) = with_read_model(store).await;
    let mut runner = PgOutboxRunner::new(store.clone(), recorder("mailer", &table));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { drop(stopped.await) }).await });
    let keys: Vec<String> = (0..40).map(|n| format!("o-{n:02}")).collect();
    for (n, key) in keys.iter().enumerate() {
        if n == 20 {
            let restarting = std::sync::Arc::clone(&server);
            tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap();
        }
        // Writes fail while the server restarts: the writer tries again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let outbox = PgOutbox::new(store.clone());
            let enqueued = async {
                let mut client = store.connection().await?;
                let tx = client.transaction().await?;
                outbox.enqueue(&tx, "order.placed", key, &json!({ "key": key })).await?;
                tx.commit().await?;
                Ok::<_, BoxError>(())
            };
            match enqueued.await {
                Ok(()) => break,
                Err(e) if tokio::time::Instant::now() < deadline => drop(e),
                Err(e) => panic!("enqueue kept failing: {e}"),
            }
        }
    }
    let all = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let got = delivered(&store, &table, "mailer").await;
            if got.len() >= keys.len() {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every message delivered after the restart");
    assert_eq!(all, keys, "each message once, in commit order");
    assert!(!running.is_finished(), "the runner never gave up");
    stop.send(()).unwrap();
    running.await.unwrap().expect("a clean stop");
}
