//! Publishing messages and waiting for JetStream's acknowledgments, in
//! order per key; and the status a publisher reports.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use es_core::Position;
use tokio::sync::watch;

use crate::error::PublishError;
use crate::message::Outgoing;

/// The most acknowledgments a publisher waits for at once; the JetStream
/// context's `max_ack_inflight` must be at least this.
pub const IN_FLIGHT: usize = 512;

/// Where a publisher stands, as its `status()` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublisherStatus {
    /// Nothing acknowledged yet.
    Starting,
    /// JetStream acknowledged everything through `position`.
    Publishing {
        /// The position of the last message acknowledged.
        position: Position,
    },
    /// JetStream has not acknowledged since `since`; the publisher keeps
    /// trying with backoff, and its checkpoint stays before what was not
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

/// The sending side of a publisher's status.
#[derive(Debug)]
pub(crate) struct Status(watch::Sender<PublisherStatus>);

impl Default for Status {
    fn default() -> Self {
        Status(watch::Sender::new(PublisherStatus::Starting))
    }
}

impl Status {
    pub(crate) fn subscribe(&self) -> watch::Receiver<PublisherStatus> {
        self.0.subscribe()
    }

    /// Reports what publishing through `last` came to.
    pub(crate) fn report(&self, last: Option<Position>, outcome: &Result<(), PublishError>) {
        self.0.send_modify(|status| {
            *status = match (outcome, &*status, last) {
                (Ok(()), _, Some(position)) => PublisherStatus::Publishing { position },
                (Ok(()), _, None) => return,
                (Err(error), PublisherStatus::Outage { since, failures, .. }, _) => {
                    PublisherStatus::Outage { since: *since, failures: failures + 1, error: error.to_string() }
                }
                (Err(error), _, _) => {
                    PublisherStatus::Outage { since: SystemTime::now(), failures: 1, error: error.to_string() }
                }
            }
        });
    }
}

/// Publishes `outgoing` and waits until JetStream acknowledged each: in
/// waves (the first message of each key, then the second of each, ...), so
/// that a message goes out only once the one before it of its key was
/// acknowledged, and a reconnect cannot reorder a key's messages.
pub(crate) async fn publish(jetstream: &jetstream::Context, outgoing: Vec<Outgoing>) -> Result<(), PublishError> {
    for wave in waves(outgoing) {
        let mut acks = VecDeque::with_capacity(wave.len().min(IN_FLIGHT));
        for Outgoing { subject, message, what, .. } in wave {
            if acks.len() == IN_FLIGHT {
                if let Some((ack, what, subject)) = acks.pop_front() {
                    acknowledged(ack, what, subject).await?;
                }
            }
            match jetstream.send_publish(subject.clone(), message).await {
                Ok(ack) => acks.push_back((ack, what, subject)),
                Err(cause) => return Err(PublishError { what, subject, cause }),
            }
        }
        for (ack, what, subject) in acks {
            acknowledged(ack, what, subject).await?;
        }
    }
    Ok(())
}

/// Waits for JetStream's acknowledgment of one message.
async fn acknowledged(ack: PublishAckFuture, what: String, subject: String) -> Result<(), PublishError> {
    ack.await.map(drop).map_err(|cause| PublishError { what, subject, cause })
}

/// `outgoing` in waves: the first message of each key, then the second of
/// each, and so on, each wave in the given order.
fn waves(outgoing: Vec<Outgoing>) -> Vec<Vec<Outgoing>> {
    let mut waves: Vec<Vec<Outgoing>> = Vec::new();
    let mut depth: HashMap<String, usize> = HashMap::new();
    for message in outgoing {
        let wave = depth.entry(message.key.clone()).or_default();
        if *wave == waves.len() {
            waves.push(Vec::new());
        }
        waves[*wave].push(message);
        *wave += 1;
    }
    waves
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream::message::PublishMessage;

    use super::*;

    fn message(key: &str, n: u32) -> Outgoing {
        Outgoing {
            key: key.into(),
            subject: format!("s.{key}"),
            message: PublishMessage::build(),
            what: format!("{key}{n}"),
        }
    }

    #[test]
    fn a_key_has_one_message_per_wave_in_its_order() {
        let outgoing =
            vec![message("a", 1), message("b", 1), message("a", 2), message("a", 3), message("c", 1), message("b", 2)];
        let waves: Vec<Vec<String>> =
            waves(outgoing).into_iter().map(|w| w.into_iter().map(|m| m.what).collect()).collect();
        assert_eq!(waves, vec![vec!["a1", "b1", "c1"], vec!["a2", "b2"], vec!["a3"]]);
    }
}
