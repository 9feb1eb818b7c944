//! The publisher: a projection of the store whose read model is a
//! JetStream stream.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use es_core::projection::{Envelope, RetryPolicy, RunnerOptions};
use es_core::{BoxError, Categories, DecodeError, EncodedEvent, Event, Position, RecordedEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use tokio::sync::watch;

use crate::error::{ConfigError, PublishError};
use crate::message::{Outgoing, outgoing};
use crate::subject::Prefix;

/// The first wait after NATS failed to acknowledge, doubled on each
/// failure in a row up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two tries while NATS is down.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The most acknowledgments a publisher waits for at once; the JetStream
/// context's `max_ack_inflight` must be at least this.
pub const IN_FLIGHT: usize = 512;

/// Where the publisher stands, as its [`status`](JetStreamPublisher::status)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublisherStatus {
    /// Nothing acknowledged yet.
    Starting,
    /// JetStream acknowledged every event through `position`.
    Publishing {
        /// The position of the last event acknowledged.
        position: Position,
    },
    /// JetStream has not acknowledged since `since`; the publisher keeps
    /// trying with backoff, and its checkpoint stays before the events not
    /// acknowledged.
    Outage {
        /// When the first failure in a row happened.
        since: SystemTime,
        /// Failures in a row.
        failures: u32,
        /// The last failure, in words.
        error: String,
    },
}

/// What the publisher decodes an event to: nothing, since it forwards the
/// stored payload as it is. Every event decodes, whatever its name, so no
/// event is poison to the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent;

impl Event for StoredEvent {
    fn event_name(&self) -> &'static str {
        "stored event"
    }

    fn event_version(&self) -> u32 {
        1
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        Ok(EncodedEvent { name: self.event_name().into(), version: 1, payload: serde_json::Value::Null })
    }

    fn decode(_name: &str, _version: u32, _payload: serde_json::Value) -> Result<Self, DecodeError> {
        Ok(StoredEvent)
    }
}

/// Publishes the global order of a [`PgEventStore`] (all of it, or some
/// categories) to JetStream, exactly once per event.
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
    categories: Categories,
    jetstream: jetstream::Context,
    prefix: Prefix,
    store: String,
    status: watch::Sender<PublisherStatus>,
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
            categories: Categories::All,
            jetstream,
            prefix: Prefix::new(prefix)?,
            store: store.schema().to_owned(),
            status: watch::Sender::new(PublisherStatus::Starting),
        })
    }

    /// Publishes only the events of `categories` (default: all).
    pub fn with_categories(mut self, categories: Categories) -> Self {
        self.categories = categories;
        self
    }

    /// A receiver of the publisher's status: what was acknowledged last, or
    /// the outage going on.
    pub fn status(&self) -> watch::Receiver<PublisherStatus> {
        self.status.subscribe()
    }

    /// The runner options a publisher needs: retry without end, waiting
    /// from [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`]. Change the page size
    /// or polling on these, not on defaults.
    pub fn runner_options() -> RunnerOptions {
        let retry = RetryPolicy { attempts: u32::MAX, initial_backoff: INITIAL_BACKOFF, max_backoff: MAX_BACKOFF };
        RunnerOptions::default().retry(retry)
    }

    /// A runner of this publisher over `store`, with
    /// [`runner_options`](Self::runner_options).
    pub fn runner(self, store: PgEventStore) -> PgProjectionRunner<Self> {
        PgProjectionRunner::new(store, self).with_options(Self::runner_options())
    }

    /// Publishes `events` and waits until JetStream acknowledged each.
    async fn publish(&self, events: &[&RecordedEvent]) -> Result<(), PublishError> {
        for wave in waves(events) {
            let mut acks = VecDeque::with_capacity(wave.len().min(IN_FLIGHT));
            for event in wave {
                if acks.len() == IN_FLIGHT {
                    if let Some((ack, event, subject)) = acks.pop_front() {
                        acknowledged(ack, event, subject).await?;
                    }
                }
                let Outgoing { subject, message } = outgoing(event, &self.prefix, &self.store);
                match self.jetstream.send_publish(subject.clone(), message).await {
                    Ok(ack) => acks.push_back((ack, event, subject)),
                    Err(cause) => return Err(PublishError::of(event, subject, cause)),
                }
            }
            for (ack, event, subject) in acks {
                acknowledged(ack, event, subject).await?;
            }
        }
        Ok(())
    }

    /// Reports what publishing `events` came to.
    fn report(&self, events: &[&RecordedEvent], outcome: &Result<(), PublishError>) {
        self.status.send_modify(|status| {
            *status = match (outcome, &*status) {
                (Ok(()), _) => match events.last() {
                    Some(last) => PublisherStatus::Publishing { position: last.position },
                    None => return,
                },
                (Err(error), PublisherStatus::Outage { since, failures, .. }) => {
                    PublisherStatus::Outage { since: *since, failures: failures + 1, error: error.to_string() }
                }
                (Err(error), _) => {
                    PublisherStatus::Outage { since: SystemTime::now(), failures: 1, error: error.to_string() }
                }
            }
        });
    }
}

/// Waits for JetStream's acknowledgment of `event`.
async fn acknowledged(ack: PublishAckFuture, event: &RecordedEvent, subject: String) -> Result<(), PublishError> {
    ack.await.map(drop).map_err(|cause| PublishError::of(event, subject, cause))
}

/// `events` in waves: the first event of each stream, then the second of
/// each, and so on, each wave in the global order.
fn waves<'e>(events: &[&'e RecordedEvent]) -> Vec<Vec<&'e RecordedEvent>> {
    let mut waves: Vec<Vec<&RecordedEvent>> = Vec::new();
    let mut depth: HashMap<&str, usize> = HashMap::new();
    for &event in events {
        let wave = depth.entry(&event.stream_id).or_default();
        if *wave == waves.len() {
            waves.push(Vec::new());
        }
        waves[*wave].push(event);
        *wave += 1;
    }
    waves
}

impl PgProjection for JetStreamPublisher {
    type Event = StoredEvent;

    fn name(&self) -> &str {
        &self.name
    }

    fn categories(&self) -> Categories {
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
        let events: Vec<&RecordedEvent> = events.iter().map(|e| e.recorded).collect();
        let outcome = self.publish(&events).await;
        self.report(&events, &outcome);
        Ok(outcome?)
    }

    /// A rebuild publishes every event again; JetStream drops those still
    /// in its duplicate window.
    async fn reset(&mut self, _tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use es_core::Metadata;

    use super::*;

    fn event(stream_id: &str, version: u64) -> RecordedEvent {
        RecordedEvent {
            aggregate_type: "account".into(),
            stream_id: stream_id.into(),
            version,
            position: Position::new(1, version),
            recorded_at: SystemTime::UNIX_EPOCH,
            event: EncodedEvent { name: "Opened".into(), version: 1, payload: serde_json::Value::Null },
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn a_stream_has_one_event_per_wave_in_its_order() {
        let events = [event("a", 1), event("b", 1), event("a", 2), event("a", 3), event("c", 1), event("b", 2)];
        let refs: Vec<&RecordedEvent> = events.iter().collect();
        let waves: Vec<Vec<(&str, u64)>> =
            waves(&refs).iter().map(|w| w.iter().map(|e| (e.stream_id.as_str(), e.version)).collect()).collect();
        assert_eq!(waves, vec![vec![("a", 1), ("b", 1), ("c", 1)], vec![("a", 2), ("b", 2)], vec![("a", 3)]]);
    }
}
