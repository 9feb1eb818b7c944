//! `cargo bench -p es-nats --bench publish`: the JetStream publisher against
//! a plain async-nats loop publishing the same messages, in the same run.
//!
//! The bench starts a `nats-server` of its own (JetStream, a temporary
//! store directory; `NATS_SERVER` names the binary), appends the workload
//! to a fresh schema of the PostgreSQL server `DATABASE_URL` points at, then
//! times, each into a JetStream stream of its own:
//!
//! - `publisher`: a [`JetStreamPublisher`] catching up from the start: it
//!   reads the store page by page, publishes, waits for every
//!   acknowledgment and commits its checkpoint;
//! - `plain`: the same events, already in memory, published in the global
//!   order with the same subjects, payloads, headers and message ids, all
//!   acknowledgments awaited.
//!
//! Both run three times, alternating, each round into JetStream streams of
//! its own. It prints one JSON line: the median events/s published and
//! acknowledged by each, `ratio` = publisher / plain, every round, and the
//! workload.
//!
//! The workload is 100,000 events, so that the figure is the publisher's
//! sustained rate: a catch-up also connects, takes the publisher's lock,
//! loads its checkpoint and reads a first page before anything goes out,
//! which weighs on a burst of 20,000 events (about 0.2 s) but not on a
//! publisher that runs. `ES_BENCH_SCALE` (default 1) scales it, e.g. 0.2
//! for that burst.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent};
use es_nats::{JetStreamPublisher, async_nats, subject_token};
use es_postgres::PgEventStore;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const STREAMS: usize = 1_000;
const EVENTS: usize = 100_000;
const ROUNDS: usize = 3;

/// The median of `rates` (sorted in place).
fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// A `nats-server` of the bench's own, killed on drop.
struct NatsServer {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl NatsServer {
    async fn start() -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("es-nats-bench-{}", std::process::id()));
        let binary = std::env::var("NATS_SERVER").unwrap_or_else(|_| "/usr/sbin/nats-server".to_owned());
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start `{binary}`: {e}; install nats-server or set NATS_SERVER"))?;
        let server = NatsServer { child, dir, url: format!("nats://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                return Err("nats-server did not start listening within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn jetstream_with_stream(url: &str, name: &str, prefix: &str) -> Result<jetstream::Context, BoxError> {
    let js = jetstream::new(async_nats::connect(url).await?);
    js.create_stream(stream::Config { name: name.into(), subjects: vec![format!("{prefix}.>")], ..Default::default() })
        .await?;
    Ok(js)
}

/// The workload, appended to a fresh schema: `events` events round-robin
/// over `streams` streams, one append each.
async fn workload(events: usize, streams: usize) -> Result<PgEventStore, BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let schema = format!("esnats_bench_{secs}_{:08x}", fastrand::u32(..));
    let store = PgEventStore::builder_from_url(&url)?.schema(schema).build()?;
    store.migrate().await?;
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (writer..events).step_by(4) {
                    let id = format!("account-{}", i % streams);
                    let event = EncodedEvent {
                        name: "Deposited".into(),
                        schema_version: 1,
                        payload: serde_json::json!({ "amount": i, "memo": "a deposit of some size" }).into(),
                    };
                    let metadata = Metadata::default().with_correlation_id(format!("command-{i}"));
                    store.append("account", &id, ExpectedVersion::Any, vec![event], &metadata).await?;
                }
                Ok::<_, es_core::StoreError>(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    Ok(store)
}

/// Every event of the store, in the global order.
async fn read_everything(store: &PgEventStore, events: usize) -> Result<Vec<RecordedEvent>, BoxError> {
    let mut all = Vec::with_capacity(events);
    let mut from = Position::START;
    while all.len() < events {
        let page = store.read_all(from, 5_000).await?;
        match page.last() {
            Some(last) => from = last.position,
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        all.extend(page);
    }
    Ok(all)
}

/// The plain loop: the same message for each event, published with up to
/// [`es_nats::IN_FLIGHT`] acknowledgments outstanding, as the publisher. Returns events/s.
async fn plain(js: &jetstream::Context, prefix: &str, events: &[RecordedEvent], schema: &str) -> Result<f64, BoxError> {
    let started = Instant::now();
    let mut acks = VecDeque::with_capacity(es_nats::IN_FLIGHT);
    for event in events {
        if acks.len() == es_nats::IN_FLIGHT {
            if let Some(ack) = acks.pop_front() {
                ack.await?;
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert(es_nats::EVENT_HEADER, event.event.name.as_str());
        headers.insert(es_nats::SCHEMA_VERSION_HEADER, event.event.schema_version.to_string());
        headers.insert(es_nats::AGGREGATE_TYPE_HEADER, event.aggregate_type.as_str());
        headers.insert(es_nats::STREAM_HEADER, event.stream_id.as_str());
        headers.insert(es_nats::VERSION_HEADER, event.version.to_string());
        let position = format!("{}:{}", event.position.commit, event.position.sequence);
        headers.insert(es_nats::POSITION_HEADER, position.as_str());
        headers.insert(es_nats::RECORDED_AT_HEADER, humantime::format_rfc3339_micros(event.recorded_at).to_string());
        if let Some(id) = &event.metadata.correlation_id {
            headers.insert(es_nats::CORRELATION_ID_HEADER, id.as_str());
        }
        let subject = format!("{prefix}.{}.{}", subject_token(&event.aggregate_type), subject_token(&event.stream_id));
        let message = PublishMessage::build()
            .payload(event.event.payload.as_str().to_owned().into())
            .headers(headers)
            .message_id(format!("{schema}:{position}"));
        acks.push_back(js.send_publish(subject, message).await?);
    }
    for ack in acks {
        ack.await?;
    }
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

/// The publisher catching up from the start. Returns events/s.
async fn publisher(
    js: jetstream::Context,
    name: &str,
    prefix: &str,
    store: &PgEventStore,
    events: usize,
) -> Result<f64, BoxError> {
    let mut runner = JetStreamPublisher::new(name, store, js, prefix)?.runner(store.clone());
    let started = Instant::now();
    let mut published = 0;
    while published < events as u64 {
        published += runner.catch_up().await?;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let scale: f64 = std::env::var("ES_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let events = ((EVENTS as f64 * scale) as usize).max(100);
    let streams = STREAMS.min(events);
    let nats = NatsServer::start().await?;
    let store = workload(events, streams).await?;
    let recorded = read_everything(&store, events).await?;

    // Alternating rounds, each into JetStream streams of its own, so that
    // a busy moment of the machine does not fall on one side only.
    let (mut plain_rates, mut publisher_rates) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (plain_prefix, published_prefix) = (format!("plain{round}"), format!("published{round}"));
        let plain_js = jetstream_with_stream(&nats.url, &format!("PLAIN{round}"), &plain_prefix).await?;
        plain_rates.push(plain(&plain_js, &plain_prefix, &recorded, store.schema()).await?);
        let publisher_js = jetstream_with_stream(&nats.url, &format!("PUBLISHED{round}"), &published_prefix).await?;
        let name = format!("bench{round}");
        publisher_rates.push(publisher(publisher_js, &name, &published_prefix, &store, events).await?);
    }
    let (plain_rate, publisher_rate) = (median(&mut plain_rates), median(&mut publisher_rates));

    let drop_schema = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await?.batch_execute(&drop_schema).await?;
    println!(
        "{}",
        serde_json::json!({
            "bench": "jetstream_publish",
            "unit": "events/s",
            "publisher": publisher_rate.round(),
            "plain": plain_rate.round(),
            "ratio": (publisher_rate / plain_rate * 1000.0).round() / 1000.0,
            "publisher_rounds": publisher_rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
            "plain_rounds": plain_rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
            "workload": {
                "events": events,
                "streams": streams,
                "page_size": JetStreamPublisher::runner_options().page_size,
                "rounds": ROUNDS,
                "payload_bytes": recorded.first().map_or(0, |e| e.event.payload.as_str().len()),
            },
        })
    );
    Ok(())
}
