//! Publishes the events of an `es-postgres` store to NATS JetStream,
//! exactly once per event and in order per stream.
//!
//! ```no_run
//! use es_nats::JetStreamPublisher;
//! use es_postgres::PgEventStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgEventStore::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
//! let client = async_nats::connect("127.0.0.1:4222").await?;
//! let jetstream = async_nats::jetstream::new(client);
//! jetstream
//!     .get_or_create_stream(async_nats::jetstream::stream::Config {
//!         name: "EVENTS".into(),
//!         subjects: vec!["es.events.>".into()],
//!         ..Default::default()
//!     })
//!     .await?;
//!
//! let publisher = JetStreamPublisher::new("to-nats", &store, jetstream, "es.events")?;
//! let mut status = publisher.status(); // Publishing { position } or Outage { .. }
//! let mut runner = publisher.runner(store);
//! runner.run(std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What is published
//!
//! Each event goes to the subject `<prefix>.<aggregate type>.<stream id>`,
//! both tokens encoded by [`subject_token`] so that any id fits in a
//! subject. The payload is the event's stored JSON (at the schema version
//! it was stored in; a consumer upcasts as the store's readers do). The
//! headers carry the envelope: [`EVENT_HEADER`], [`SCHEMA_VERSION_HEADER`],
//! [`AGGREGATE_TYPE_HEADER`], [`STREAM_HEADER`], [`VERSION_HEADER`],
//! [`POSITION_HEADER`], [`RECORDED_AT_HEADER`] and, when the event has
//! them, [`CORRELATION_ID_HEADER`] and [`CAUSATION_ID_HEADER`]. Values
//! from the store are percent-encoded where they hold control characters,
//! `%` or non-ASCII.
//!
//! # Exactly once
//!
//! The publisher is a projection ([`JetStreamPublisher`] explains it in
//! full): its checkpoint moves only after JetStream acknowledged every
//! event before it, and the `Nats-Msg-Id` of an event (store schema and
//! global position) lets JetStream drop what is published again after a
//! crash. While NATS is down it retries with bounded backoff and reports
//! the outage through [`JetStreamPublisher::status`].
//!
//! # Outboxes
//!
//! [`JetStreamOutbox`] publishes an `es_postgres::PgOutbox` (messages a
//! write side without events enqueues in its own transactions) the same
//! way: exactly once, in order per key, through outages.
#![warn(missing_docs)]

mod error;
mod message;
mod outbox;
mod publisher;
mod send;
mod subject;

pub use error::{ConfigError, PublishError};
pub use message::{
    AGGREGATE_TYPE_HEADER, CAUSATION_ID_HEADER, CORRELATION_ID_HEADER, ENQUEUED_AT_HEADER, EVENT_HEADER, KEY_HEADER,
    POSITION_HEADER, RECORDED_AT_HEADER, SCHEMA_VERSION_HEADER, STREAM_HEADER, TOPIC_HEADER, VERSION_HEADER,
};
pub use outbox::JetStreamOutbox;
pub use publisher::{INITIAL_BACKOFF, JetStreamPublisher, MAX_BACKOFF, PAGE_SIZE, StoredEvent};
pub use send::{IN_FLIGHT, PublisherStatus};
pub use subject::{decode_token, subject_token};

/// The NATS client this crate is built on, so that its types match.
pub use async_nats;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
