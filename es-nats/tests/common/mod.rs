//! Shared by the integration tests: a fresh store in its own schema on the
//! PostgreSQL server `DATABASE_URL` points at, and a NATS server of the
//! test's own that it can stop and start again.
//!
//! Without a reachable PostgreSQL server or a `nats-server` binary the tests
//! fail (never skip) and say how to get one.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer, stream};
use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata};
use es_nats::async_nats;
use es_postgres::PgEventStore;
use futures_util::StreamExt;

/// The server used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The `nats-server` binary used when `NATS_SERVER` is not set.
pub const DEFAULT_NATS_SERVER: &str = "/usr/sbin/nats-server";

/// The subject prefix the tests publish under, and their JetStream stream.
pub const PREFIX: &str = "es.test";
pub const STREAM: &str = "EVENTS";

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// A migrated store in a schema of its own (`esnats_test_<secs>_<random>`).
pub async fn fresh_store() -> PgEventStore {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let schema = format!("esnats_test_{secs}_{:016x}", fastrand::u64(..));
    let config = database_url().parse().unwrap_or_else(|e| panic!("DATABASE_URL does not parse: {e}"));
    let store = PgEventStore::builder(config).schema(schema).pool_size(8).build().expect("a valid store configuration");
    if let Err(e) = store.migrate().await {
        panic!(
            "cannot use PostgreSQL at {url}: {e}\n\
             These tests need a running server. Start the local one with\n\
             \x20   pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point DATABASE_URL at a reachable server.",
            url = database_url()
        );
    }
    store
}

/// A `nats-server` with JetStream on a free port and a store directory of
/// its own, which survives [`stop`](Self::stop) and [`start`](Self::start).
pub struct NatsServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    pub async fn start_new() -> NatsServer {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = std::env::temp_dir().join(format!("es-nats-test-{}-{port}", std::process::id()));
        let mut server = NatsServer { port, dir, child: None };
        server.start().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self) {
        let binary = std::env::var("NATS_SERVER").unwrap_or_else(|_| DEFAULT_NATS_SERVER.to_owned());
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{binary}`: {e}\nInstall it with `apt-get install nats-server`, or set NATS_SERVER"
                )
            });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "nats-server did not listen on {} within 10 s", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A client that reconnects quickly, and its JetStream context with a
    /// short acknowledgment timeout, so that an outage shows within a second.
    pub async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .reconnect_delay_callback(|_| Duration::from_millis(100))
            .connect(self.url())
            .await
            .expect("connect to the test's nats-server");
        jetstream::ContextBuilder::new().timeout(Duration::from_secs(1)).build(client)
    }

    /// Creates the JetStream stream capturing the tests' subjects.
    pub async fn create_stream(&self) -> jetstream::Context {
        let js = self.jetstream().await;
        let config =
            stream::Config { name: STREAM.into(), subjects: vec![format!("{PREFIX}.>")], ..Default::default() };
        js.get_or_create_stream(config).await.expect("create the JetStream stream");
        js
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One message as a consumer of the stream sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub subject: String,
    pub stream_id: String,
    pub version: u64,
    pub event: String,
    pub position: String,
    pub msg_id: String,
    pub payload: serde_json::Value,
}

/// Waits until the JetStream stream holds `count` messages, then reads
/// them all with a consumer, in the stream's order, and checks that no more
/// came.
pub async fn delivered(js: &jetstream::Context, count: u64) -> Vec<Delivered> {
    messages(js, count).await.iter().map(Delivered::of).collect()
}

/// Waits until the JetStream stream holds `count` messages, then reads
/// them all, in the stream's order, and checks that no more came.
pub async fn messages(js: &jetstream::Context, count: u64) -> Vec<jetstream::Message> {
    let mut stream = js.get_stream(STREAM).await.expect("the JetStream stream");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let held = stream.info().await.expect("stream info").state.messages;
        if held >= count {
            assert_eq!(held, count, "the stream holds more messages than events were published");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stream holds {held} of {count} messages after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let consumer = stream
        .create_consumer(consumer::pull::Config { ack_policy: consumer::AckPolicy::None, ..Default::default() })
        .await
        .expect("a consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut read = Vec::new();
    while (read.len() as u64) < count {
        read.push(messages.next().await.expect("a message").expect("a message, not an error"));
    }
    read
}

impl Delivered {
    fn of(message: &jetstream::Message) -> Delivered {
        Delivered {
            subject: message.subject.to_string(),
            stream_id: header(message, es_nats::STREAM_HEADER),
            version: header(message, es_nats::VERSION_HEADER).parse().expect("a version"),
            event: header(message, es_nats::EVENT_HEADER),
            position: header(message, es_nats::POSITION_HEADER),
            msg_id: header(message, async_nats::header::NATS_MESSAGE_ID),
            payload: serde_json::from_slice(&message.payload).expect("a JSON payload"),
        }
    }
}

/// A header of `message`, percent-decoded ("" when missing).
pub fn header(message: &jetstream::Message, name: impl async_nats::header::IntoHeaderName) -> String {
    let value = message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
    percent_decode(&value.unwrap_or_default())
}

fn percent_decode(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).expect("ASCII");
            bytes.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).expect("UTF-8")
}

/// Checks that every appended event was delivered exactly once and each
/// stream's events in its order.
pub fn assert_once_in_stream_order(delivered: &[Delivered], appended: &HashMap<String, u64>) {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for message in delivered {
        let last = seen.entry(&message.stream_id).or_default();
        assert_eq!(message.version, *last + 1, "stream {} out of order or duplicated", message.stream_id);
        *last = message.version;
    }
    let seen: HashMap<String, u64> = seen.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(&seen, appended, "every appended event delivered");
}

/// Appends `count` events, spread over `streams` streams (ids with
/// characters a subject cannot carry among them), from four writers at
/// once (`count` and `streams` multiples of 4); returns the last version
/// of each stream.
pub async fn append_events(store: &PgEventStore, streams: usize, count: usize, tag: &str) -> HashMap<String, u64> {
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = store.clone();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut versions = HashMap::new();
                // Writer `w` owns the streams `s` with `s % 4 == w`.
                for i in 0..count / 4 {
                    let id = stream_id((i % (streams / 4)) * 4 + writer);
                    let event = EncodedEvent {
                        name: "Noted".into(),
                        schema_version: 1,
                        payload: serde_json::json!({ "tag": tag, "i": i, "writer": writer }).into(),
                    };
                    let metadata = Metadata::default().with_correlation_id(format!("c-{writer}-{i}"));
                    let appended =
                        store.append("note", &id, ExpectedVersion::Any, vec![event], &metadata).await.expect("append");
                    versions.insert(id, appended.stream_version);
                }
                versions
            })
        })
        .collect();
    let mut versions = HashMap::new();
    for writer in writers {
        versions.extend(writer.await.expect("a writer"));
    }
    versions
}

/// Stream ids, some with characters that subjects cannot carry.
pub fn stream_id(n: usize) -> String {
    match n % 5 {
        0 => format!("n-{n}"),
        1 => format!("eu.n {n}"),
        2 => format!("ü*{n}>"),
        3 => format!("tab\t{n}"),
        _ => format!("%{n}"),
    }
}
