//! The JetStream publisher against a real `nats-server` and PostgreSQL:
//! every event once, in order per stream, through crashes and outages.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{NatsServer, PREFIX, append_events, assert_once_in_stream_order, delivered, fresh_store};
use es_nats::{JetStreamPublisher, PublisherStatus};
use es_postgres::{PgEventStore, PgProjectionRunner};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Runs a publisher until the returned sender fires.
fn spawn_publisher(
    store: &PgEventStore,
    publisher: JetStreamPublisher,
) -> (oneshot::Sender<()>, JoinHandle<PgProjectionRunner<JetStreamPublisher>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let mut runner = publisher.runner(store.clone());
    let task = tokio::spawn(async move {
        runner.run(async { stopped.await.unwrap_or(()) }).await.expect("the publisher runs");
        runner
    });
    (stop, task)
}

fn merge(into: &mut HashMap<String, u64>, from: HashMap<String, u64>) {
    for (stream, version) in from {
        let last = into.entry(stream).or_default();
        *last = (*last).max(version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_events_reach_jetstream_once_and_in_stream_order() {
    let nats = NatsServer::start_new().await;
    let js = nats.create_stream().await;
    let store = fresh_store().await;
    let publisher = JetStreamPublisher::new("to-nats", &store, nats.jetstream().await, PREFIX).expect("a publisher");
    let (stop, task) = spawn_publisher(&store, publisher);

    // Appended while the publisher follows the store live.
    let appended = append_events(&store, 400, 10_000, "live").await;
    let delivered = delivered(&js, 10_000).await;

    assert_once_in_stream_order(&delivered, &appended);
    let ids: std::collections::HashSet<&str> = delivered.iter().map(|d| d.msg_id.as_str()).collect();
    assert_eq!(ids.len(), 10_000, "each event has a message id of its own");
    let odd = delivered.iter().find(|d| d.stream_id.starts_with("eu.n ")).expect("an id with `.` and a space");
    assert_eq!(odd.subject, format!("{PREFIX}.note.{}", es_nats::subject_token(&odd.stream_id)));
    assert_eq!(odd.event, "Noted");
    assert!(odd.msg_id.starts_with(store.schema()), "{}", odd.msg_id);
    assert_eq!(odd.payload["tag"], "live");
    stop.send(()).expect("the publisher still runs");
    task.await.expect("the publisher stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_publisher_aborted_ten_times_loses_and_duplicates_nothing() {
    let nats = NatsServer::start_new().await;
    let js = nats.create_stream().await;
    let store = fresh_store().await;
    let mut appended = HashMap::new();
    let mut total = 0;
    for round in 0..10 {
        merge(&mut appended, append_events(&store, 40, 400, &format!("round {round}")).await);
        total += 400;
        let publisher =
            JetStreamPublisher::new("to-nats", &store, nats.jetstream().await, PREFIX).expect("a publisher");
        let (_stop, task) = spawn_publisher(&store, publisher);
        // Killed at a random point: before, during or after a page.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..150))).await;
        task.abort();
        let _ = task.await;
    }
    let publisher = JetStreamPublisher::new("to-nats", &store, nats.jetstream().await, PREFIX).expect("a publisher");
    let (stop, task) = spawn_publisher(&store, publisher);

    let delivered = delivered(&js, total).await;

    assert_once_in_stream_order(&delivered, &appended);
    stop.send(()).expect("the publisher still runs");
    task.await.expect("the publisher stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_outage_holds_the_checkpoint_and_loses_nothing() {
    let mut nats = NatsServer::start_new().await;
    let js = nats.create_stream().await;
    let store = fresh_store().await;
    let publisher = JetStreamPublisher::new("to-nats", &store, nats.jetstream().await, PREFIX).expect("a publisher");
    let mut status = publisher.status();
    let runner = publisher.runner(store.clone());
    let checkpoint = runner.waiter();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut runner = runner;
    let task = tokio::spawn(async move {
        runner.run(async { stopped.await.unwrap_or(()) }).await.expect("the publisher runs through the outage");
    });

    let mut appended = append_events(&store, 40, 1_000, "before").await;
    delivered(&js, 1_000).await;
    nats.stop();
    merge(&mut appended, append_events(&store, 40, 1_000, "during").await);
    let outage = status.wait_for(|s| matches!(s, PublisherStatus::Outage { .. })).await.expect("a status").clone();
    let held = checkpoint.position();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(checkpoint.position(), held, "the checkpoint moved while NATS was down");
    let now = status.borrow().clone();
    let PublisherStatus::Outage { failures, .. } = now else { panic!("the outage ended without NATS: {now:?}") };
    assert!(failures > 1, "the publisher kept trying: {failures} failures, first {outage:?}");

    nats.start().await;
    merge(&mut appended, append_events(&store, 40, 1_000, "after").await);
    let js = nats.jetstream().await;
    let delivered = delivered(&js, 3_000).await;

    assert_once_in_stream_order(&delivered, &appended);
    status.wait_for(|s| matches!(s, PublisherStatus::Publishing { .. })).await.expect("publishing again");
    stop.send(()).expect("the publisher still runs");
    task.await.expect("the publisher stops");
}
