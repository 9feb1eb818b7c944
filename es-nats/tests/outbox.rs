//! An outbox published to JetStream: committed messages once each, in
//! order per key, through a NATS outage.

mod common;

use std::collections::HashMap;

use common::{NatsServer, PREFIX, fresh_store, header, messages};
use es_nats::{JetStreamOutbox, PublisherStatus};
use es_postgres::{PgEventStore, PgOutbox};
use tokio::sync::oneshot;

/// Enqueues `count` messages over 10 keys, five to a transaction; every
/// transaction whose first message number ends in 5 rolls back. Returns
/// the numbers committed, per key.
async fn enqueue(store: &PgEventStore, from: u64, count: u64) -> HashMap<String, Vec<u64>> {
    let outbox = PgOutbox::new(store.clone());
    let mut committed: HashMap<String, Vec<u64>> = HashMap::new();
    let mut client = store.connection().await.expect("a connection");
    for start in (from..from + count).step_by(5) {
        let tx = client.transaction().await.expect("a transaction");
        let mut this = Vec::new();
        for n in start..start + 5 {
            let key = format!("order {}", n % 10);
            outbox.enqueue(&tx, "order.placed", &key, &serde_json::json!({ "n": n })).await.expect("enqueue");
            this.push((key, n));
        }
        if start % 10 == 5 {
            tx.rollback().await.expect("rollback");
        } else {
            tx.commit().await.expect("commit");
            for (key, n) in this {
                committed.entry(key).or_default().push(n);
            }
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_outbox_messages_reach_jetstream_once_in_order_through_an_outage() {
    let mut nats = NatsServer::start_new().await;
    let js = nats.create_stream().await;
    let store = fresh_store().await;
    let publisher =
        JetStreamOutbox::new("outbox-to-nats", &store, nats.jetstream().await, PREFIX).expect("a publisher");
    let mut status = publisher.status();
    let mut runner = publisher.runner(store.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runner.run(async { stopped.await.unwrap_or(()) }).await.expect("the outbox publisher runs");
    });

    let mut committed = enqueue(&store, 0, 200).await;
    messages(&js, 100).await;
    nats.stop();
    for (key, numbers) in enqueue(&store, 200, 200).await {
        committed.entry(key).or_default().extend(numbers);
    }
    status.wait_for(|s| matches!(s, PublisherStatus::Outage { .. })).await.expect("the outage reported");
    nats.start().await;
    let js = nats.jetstream().await;

    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    for message in messages(&js, 200).await {
        assert!(message.subject.starts_with(&format!("{PREFIX}.order%2Eplaced.order%20")), "{}", message.subject);
        let payload: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        seen.entry(header(&message, es_nats::KEY_HEADER)).or_default().push(payload["n"].as_u64().expect("n"));
    }
    assert_eq!(seen, committed, "each committed message once, in order per key; no rolled-back one");
    stop.send(()).expect("the publisher still runs");
    task.await.expect("the publisher stops");
}
