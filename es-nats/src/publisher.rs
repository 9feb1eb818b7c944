//! The publisher: a projection of the store whose read model is a
//! JetStream stream.

use std::time::Duration;

use async_nats::jetstream;
use es_core::projection::{Envelope, RetryPolicy, RunnerOptions};
use es_core::{AggregateTypes, BoxError, DecodeError, EncodedEvent, Event, Payload, RecordedEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use tokio::sync::watch;

use crate::error::ConfigError;
use crate::message::store_id;
use crate::send::{PublisherStatus, Status, publish};
use crate::subject::Prefix;

/// The first wait after NATS failed to acknowledge, doubled on each
/// failure in a row up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two tries while NATS is down.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The events a publisher reads, publishes and checkpoints at once
/// ([`JetStreamPublisher::runner_options`]).
///
/// Between two pages JetStream has nothing to do: the publisher waits for
/// the last acknowledgments, commits the checkpoint and starts the next
/// page. With pages of 1,000 (the runners' default) these pauses take
/// about a third of a catch-up; with 5,000 they are few. Larger pages gain
/// little more: the first page is read before anything goes out, every
/// page is held in memory, and a crash publishes the page again (for
/// JetStream's duplicate window to drop).
pub const PAGE_SIZE: usize = 5_000;

/// Retry without end, with bounded backoff: an outage is waited out,
/// never turned into a poison event.
pub(crate) const OUTAGE_RETRY: RetryPolicy =
    RetryPolicy { attempts: u32::MAX, initial_backoff: INITIAL_BACKOFF, max_backoff: MAX_BACKOFF };

/// What the publisher decodes an event to: nothing, since it forwards the
/// stored payload as it is. Every event decodes, whatever its name, so no
/// event is poison to the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent;

impl Event for StoredEvent {
    fn event_name(&self) -> &'static str {
        "stored event"
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        Ok(EncodedEvent { name: self.event_name().into(), schema_version: 1, payload: Payload::default() })
    }

    fn decode(_name: &str, _schema_version: u32, _payload: &Payload) -> Result<Self, DecodeError> {
        Ok(StoredEvent)
    }
}

/// Publishes the global order of a [`PgEventStore`] (all of it, or some
/// aggregate types) to JetStream, exactly once per event.
///
/// It is a [`PgProjection`] run by a [`PgProjectionRunner`]
/// ([`runner`](Self::runner) builds one): its checkpoint lives in the
/// store's checkpoints table under its name, and only one runner per name
/// publishes at a time, the others standing by.
///
/// For each page of events it publishes every event, waits for JetStream's
/// acknowledgments, and only then lets the runner commit the checkpoint.
/// The events of one stream go out one after the other (the next only
/// after the previous was acknowledged), events of different streams in
/// parallel, so each stream's order holds even across reconnects. Each
/// message carries a `Nats-Msg-Id` made of the store's schema and the
/// event's position: after a crash between an acknowledgment and the
/// checkpoint's commit, the republished events fall in JetStream's
/// duplicate window and are dropped. The window (two minutes by default)
/// must outlast the longest time between the two, which is the time
/// PostgreSQL may be unreachable.
///
/// When NATS does not acknowledge, the page is rolled back and the runner
/// tries again with backoff ([`runner_options`](Self::runner_options):
/// from [`INITIAL_BACKOFF`] to [`MAX_BACKOFF`], without end), waiting
/// outside any transaction; [`status`](Self::status) reports the outage.
/// An outage never makes an event poison unless the runner is given a
/// retry policy that ends.
#[derive(Debug)]
pub struct JetStreamPublisher {
    name: String,
    categories: AggregateTypes,
    jetstream: jetstream::Context,
    prefix: Prefix,
    /// The store's part of message ids.
    store: String,
    status: Status,
}

impl JetStreamPublisher {
    /// A publisher named `name` of `store`'s events to `jetstream`, on
    /// subjects `<prefix>.<aggregate type>.<stream id>` (see
    /// [`subject_token`](crate::subject_token) for how both are written).
    /// A JetStream stream must capture the subjects (`<prefix>.>`).
    pub fn new(
        name: impl Into<String>,
        store: &PgEventStore,
        jetstream: jetstream::Context,
        prefix: &str,
    ) -> Result<Self, ConfigError> {
        Ok(JetStreamPublisher {
            name: name.into(),
            categories: AggregateTypes::All,
            jetstream,
            prefix: Prefix::new(prefix)?,
            store: store_id(store.schema()),
            status: Status::default(),
        })
    }

    /// Publishes only the events of `categories` (default: all).
    pub fn with_categories(mut self, categories: AggregateTypes) -> Self {
        self.categories = categories;
        self
    }

    /// A receiver of the publisher's status: what was acknowledged last, or
    /// the outage going on.
    pub fn status(&self) -> watch::Receiver<PublisherStatus> {
        self.status.subscribe()
    }

    /// The runner options a publisher needs: retry without end, waiting
    /// from [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`], and pages of
    /// [`PAGE_SIZE`] events. Change the page size or polling on these, not
    /// on defaults.
    pub fn runner_options() -> RunnerOptions {
        RunnerOptions::default().retry(OUTAGE_RETRY).page_size(PAGE_SIZE)
    }

    /// A runner of this publisher over `store`, with
    /// [`runner_options`](Self::runner_options).
    pub fn runner(self, store: PgEventStore) -> PgProjectionRunner<Self> {
        PgProjectionRunner::new(store, self).with_options(Self::runner_options())
    }
}

impl PgProjection for JetStreamPublisher {
    type Event = StoredEvent;

    fn name(&self) -> &str {
        &self.name
    }

    fn aggregate_types(&self) -> AggregateTypes {
        self.categories.clone()
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &StoredEvent,
        recorded: &RecordedEvent,
    ) -> Result<(), BoxError> {
        self.handle_batch(tx, &[Envelope { event, recorded }]).await
    }

    async fn handle_batch(
        &mut self,
        _tx: &PgTransaction<'_>,
        events: &[Envelope<'_, StoredEvent>],
    ) -> Result<(), BoxError> {
        let recorded: Vec<&RecordedEvent> = events.iter().map(|e| e.recorded).collect();
        let outcome = publish(&self.jetstream, &self.prefix, &self.store, &recorded).await;
        self.status.report(events.last().map(|e| e.recorded.position), &outcome);
        Ok(outcome?)
    }

    /// A rebuild publishes every event again; JetStream drops those still
    /// in its duplicate window.
    async fn reset(&mut self, _tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}
