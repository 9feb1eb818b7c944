//! The NATS message for a recorded event.

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use es_core::RecordedEvent;
use es_postgres::OutboxMessage;

use crate::subject::{Prefix, header_value};

/// Header: the event's name.
pub const EVENT_HEADER: &str = "Es-Event";
/// Header: the event's schema version.
pub const SCHEMA_VERSION_HEADER: &str = "Es-Schema-Version";
/// Header: the aggregate type (category) of the event's stream.
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

/// What one event or outbox message is published as.
pub(crate) struct Outgoing {
    /// Messages with the same key are published in order, one after the
    /// other; others in parallel.
    pub(crate) key: String,
    pub(crate) subject: String,
    pub(crate) message: PublishMessage,
    /// What it is, for errors.
    pub(crate) what: String,
}

/// The message for `event`: its payload as JSON, its envelope in headers,
/// and a message id that only this store's event at this position has, so
/// that JetStream drops a republish inside its duplicate window.
pub(crate) fn outgoing(event: &RecordedEvent, prefix: &Prefix, store: &str) -> Outgoing {
    let mut headers = HeaderMap::new();
    headers.insert(EVENT_HEADER, header_value(&event.event.name));
    headers.insert(SCHEMA_VERSION_HEADER, event.event.schema_version.to_string());
    headers.insert(AGGREGATE_TYPE_HEADER, header_value(&event.aggregate_type));
    headers.insert(STREAM_HEADER, header_value(&event.stream_id));
    headers.insert(VERSION_HEADER, event.version.to_string());
    headers.insert(POSITION_HEADER, position(event));
    headers.insert(RECORDED_AT_HEADER, humantime::format_rfc3339_micros(event.recorded_at).to_string());
    if let Some(id) = &event.metadata.correlation_id {
        headers.insert(CORRELATION_ID_HEADER, header_value(id));
    }
    if let Some(id) = &event.metadata.causation_id {
        headers.insert(CAUSATION_ID_HEADER, header_value(id));
    }
    let message = PublishMessage::build()
        .payload(event.event.payload.as_str().to_owned().into())
        .headers(headers)
        .message_id(message_id(store, event));
    Outgoing {
        key: event.stream_id.clone(),
        subject: prefix.subject(&event.aggregate_type, &event.stream_id),
        message,
        what: format!("event {} of stream `{}`", event.version, event.stream_id),
    }
}

/// The message for an outbox message: its payload as JSON, topic, key,
/// position and time in headers, and a message id of its own.
pub(crate) fn outbox_outgoing(message: &OutboxMessage, prefix: &Prefix, store: &str) -> Outgoing {
    let position = format!("{}:{}", message.position.commit, message.position.sequence);
    let mut headers = HeaderMap::new();
    headers.insert(TOPIC_HEADER, header_value(&message.topic));
    headers.insert(KEY_HEADER, header_value(&message.key));
    headers.insert(POSITION_HEADER, position.as_str());
    headers.insert(ENQUEUED_AT_HEADER, humantime::format_rfc3339_micros(message.enqueued_at).to_string());
    let publish = PublishMessage::build()
        .payload(message.payload.to_string().into())
        .headers(headers)
        .message_id(format!("{}:outbox:{position}", header_value(store)));
    Outgoing {
        key: message.key.clone(),
        subject: prefix.subject(&message.topic, &message.key),
        message: publish,
        what: format!("outbox message {position} (topic `{}`, key `{}`)", message.topic, message.key),
    }
}

fn position(event: &RecordedEvent) -> String {
    format!("{}:{}", event.position.commit, event.position.sequence)
}

/// `<store>:<commit>:<sequence>`: the store (its schema) and the event's
/// global position.
fn message_id(store: &str, event: &RecordedEvent) -> String {
    format!("{}:{}", header_value(store), position(event))
}
