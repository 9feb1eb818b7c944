//! Publishing an outbox to JetStream.

use async_nats::jetstream;
use es_core::BoxError;
use es_postgres::{PgEventStore, PgOutboxHandler, PgOutboxMessage, PgOutboxRunner, PgTransaction};
use tokio::sync::watch;

use crate::error::ConfigError;
use crate::message::store_id;
use crate::publisher::OUTAGE_RETRY;
use crate::send::{PublisherStatus, Status, publish};
use crate::subject::Prefix;

/// Publishes a store's [outbox](es_postgres::PgOutbox) to JetStream,
/// exactly once per message and in order per key.
///
/// It is an [`PgOutboxHandler`]: [`runner`](Self::runner) gives the
/// [`PgOutboxRunner`] that elects one publisher per name and moves its
/// checkpoint only after JetStream acknowledged the page. Each message goes
/// to `<prefix>.<topic>.<key>` (both encoded by
/// [`subject_token`](crate::subject_token)) with the headers
/// [`TOPIC_HEADER`](crate::TOPIC_HEADER), [`KEY_HEADER`](crate::KEY_HEADER),
/// [`POSITION_HEADER`](crate::POSITION_HEADER) and
/// [`ENQUEUED_AT_HEADER`](crate::ENQUEUED_AT_HEADER), and a `Nats-Msg-Id`
/// of the store's schema and the message's position, so JetStream's
/// duplicate window drops what a crash makes it publish again. While NATS
/// is down the runner retries with bounded backoff, and
/// [`status`](Self::status) reports the outage.
#[derive(Debug)]
pub struct JetStreamOutbox {
    name: String,
    jetstream: jetstream::Context,
    prefix: Prefix,
    /// The store's part of message ids.
    store: String,
    status: Status,
}

impl JetStreamOutbox {
    /// A publisher named `name` of `store`'s outbox to `jetstream`, on
    /// subjects under `prefix`.
    pub fn new(
        name: impl Into<String>,
        store: &PgEventStore,
        jetstream: jetstream::Context,
        prefix: &str,
    ) -> Result<Self, ConfigError> {
        Ok(JetStreamOutbox {
            name: name.into(),
            jetstream,
            prefix: Prefix::new(prefix)?,
            store: store_id(store.schema()),
            status: Status::default(),
        })
    }

    /// A receiver of the publisher's status.
    pub fn status(&self) -> watch::Receiver<PublisherStatus> {
        self.status.subscribe()
    }

    /// A runner of this publisher over `store`'s outbox, retrying without
    /// end from [`INITIAL_BACKOFF`](crate::INITIAL_BACKOFF) up to
    /// [`MAX_BACKOFF`](crate::MAX_BACKOFF) while NATS is down.
    pub fn runner(self, store: PgEventStore) -> PgOutboxRunner<Self> {
        PgOutboxRunner::new(store, self).retry(OUTAGE_RETRY)
    }
}

impl PgOutboxHandler for JetStreamOutbox {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&mut self, _tx: &PgTransaction<'_>, messages: &[PgOutboxMessage]) -> Result<(), BoxError> {
        let outcome = publish(&self.jetstream, &self.prefix, &self.store, messages).await;
        self.status.report(messages.last().map(|m| m.position), &outcome);
        Ok(outcome?)
    }
}
