//! The NATS message for a recorded event.

use std::time::SystemTime;

use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::message::PublishMessage;
use async_nats::{HeaderMap, HeaderName};
use es_core::{Position, RecordedEvent};
use es_postgres::PgOutboxMessage;
use serde_json::Value;

use crate::subject::{Prefix, header_value};

/// Header: the event's name.
pub const EVENT_HEADER: &str = "Es-Event";
/// Header: the event's schema version.
pub const SCHEMA_VERSION_HEADER: &str = "Es-Schema-Version";
/// Header: the aggregate typey of the event's stream.
pub const AGGREGATE_TYPE_HEADER: &str = "Es-Aggregate-Type";
/// Header: the event's stream id.
pub const STREAM_HEADER: &str = "Es-Stream";
/// Header: the event's version in its stream.
pub const VERSION_HEADER: &str = "Es-Version";
/// Header: the event's global position (or the outbox message's place in
/// the outbox), `<commit>:<sequence>`.
pub const POSITION_HEADER: &str = "Es-Position";
/// Header: when the event was recorded, RFC 3339 in UTC with microseconds.
pub const RECORDED_AT_HEADER: &str = "Es-Recorded-At";
/// Header (outbox): the message's topic.
pub const TOPIC_HEADER: &str = "Es-Topic";
/// Header (outbox): the message's key.
pub const KEY_HEADER: &str = "Es-Key";
/// Header (outbox): when the message was enqueued, RFC 3339 in UTC with
/// microseconds.
pub const ENQUEUED_AT_HEADER: &str = "Es-Enqueued-At";
/// Header: the correlation id of the command that recorded the event, when
/// it had one.
pub const CORRELATION_ID_HEADER: &str = "Es-Correlation-Id";
/// Header: the causation id of the command that recorded the event, when
/// it had one.
pub const CAUSATION_ID_HEADER: &str = "Es-Causation-Id";

/// What a publisher sends one message for.
pub(crate) trait Outgoing {
    /// Messages with the same key are published in order, one after the
    /// other; others in parallel.
    fn key(&self) -> &str;
    /// The subject under `prefix`.
    fn subject(&self, prefix: &Prefix) -> String;
    /// The message, with a message id that only this item of `store` (its
    /// schema, as [`store_id`] writes it) has.
    fn message(&self, store: &str) -> PublishMessage;
    /// What it is, for errors.
    fn what(&self) -> String;
}

impl<T: Outgoing> Outgoing for &T {
    fn key(&self) -> &str {
        (**self).key()
    }

    fn subject(&self, prefix: &Prefix) -> String {
        (**self).subject(prefix)
    }

    fn message(&self, store: &str) -> PublishMessage {
        (**self).message(store)
    }

    fn what(&self) -> String {
        (**self).what()
    }
}

/// The store's part of message ids: its schema as a header value.
pub(crate) fn store_id(schema: &str) -> String {
    header_value(schema)
}

/// Sets header `name`; a name of the program's own needs no allocation.
fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    headers.insert(HeaderName::from_static(name), value);
}

/// An event: its payload as JSON, its envelope in headers, and a message
/// id that only this store's event at this position has, so that
/// JetStream drops a republish inside its duplicate window.
impl Outgoing for RecordedEvent {
    fn key(&self) -> &str {
        &self.stream_id
    }

    fn subject(&self, prefix: &Prefix) -> String {
        prefix.subject(&self.aggregate_type, &self.stream_id)
    }

    fn message(&self, store: &str) -> PublishMessage {
        let position = position(self.position);
        let mut headers = HeaderMap::new();
        insert(&mut headers, EVENT_HEADER, header_value(&self.event.name));
        insert(&mut headers, SCHEMA_VERSION_HEADER, self.event.schema_version.to_string());
        insert(&mut headers, AGGREGATE_TYPE_HEADER, header_value(&self.aggregate_type));
        insert(&mut headers, STREAM_HEADER, header_value(&self.stream_id));
        insert(&mut headers, VERSION_HEADER, self.version.to_string());
        insert(&mut headers, RECORDED_AT_HEADER, time(self.recorded_at));
        if let Some(id) = &self.metadata.correlation_id {
            insert(&mut headers, CORRELATION_ID_HEADER, header_value(id));
        }
        if let Some(id) = &self.metadata.causation_id {
            insert(&mut headers, CAUSATION_ID_HEADER, header_value(id));
        }
        headers.insert(NATS_MESSAGE_ID, format!("{store}:{position}"));
        insert(&mut headers, POSITION_HEADER, position);
        PublishMessage::build().payload(self.event.payload.as_str().to_owned().into()).headers(headers)
    }

    fn what(&self) -> String {
        format!("event {} of stream `{}`", self.version, self.stream_id)
    }
}

/// An outbox message: its payload as JSON, topic, key, position and time
/// in headers, and a message id of its own.
impl Outgoing for PgOutboxMessage {
    fn key(&self) -> &str {
        &self.key
    }

    fn subject(&self, prefix: &Prefix) -> String {
        prefix.subject(&self.topic, &self.key)
    }

    fn message(&self, store: &str) -> PublishMessage {
        let position = position(self.position);
        let mut headers = HeaderMap::new();
        insert(&mut headers, TOPIC_HEADER, header_value(&self.topic));
        insert(&mut headers, KEY_HEADER, header_value(&self.key));
        insert(&mut headers, ENQUEUED_AT_HEADER, time(self.enqueued_at));
        headers.insert(NATS_MESSAGE_ID, format!("{store}:outbox:{position}"));
        insert(&mut headers, POSITION_HEADER, position);
        PublishMessage::build().payload(json(&self.payload).into()).headers(headers)
    }

    fn what(&self) -> String {
        format!("outbox message {} (topic `{}`, key `{}`)", position(self.position), self.topic, self.key)
    }
}

/// `value` as JSON text, written straight into the bytes sent.
fn json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value always serializes")
}

/// `<commit>:<sequence>`.
fn position(position: Position) -> String {
    format!("{}:{}", position.commit, position.sequence)
}

/// RFC 3339 in UTC with microseconds.
fn time(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}
