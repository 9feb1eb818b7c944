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
use crate::subject::Prefix;

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

/// Publishes one message per item of `items` and waits until JetStream
/// acknowledged each. A message goes out only once the one before it of
/// its key was acknowledged, so that a reconnect cannot reorder a key's
/// messages; messages of other keys keep going out meanwhile, up to
/// [`IN_FLIGHT`] awaiting acknowledgment. Each message is built just
/// before it is sent, while earlier ones are on their way.
pub(crate) async fn publish<T: Outgoing>(
    jetstream: &jetstream::Context,
    prefix: &Prefix,
    store: &str,
    items: &[T],
) -> Result<(), PublishError> {
    let failed = |item: &T, cause| PublishError { what: item.what(), subject: item.subject(prefix), cause };
    let mut schedule = Schedule::new(items.iter().map(|item| item.key()));
    let mut acks: VecDeque<(usize, PublishAckFuture)> = VecDeque::with_capacity(items.len().min(IN_FLIGHT));
    loop {
        while acks.len() < IN_FLIGHT {
            let Some(index) = schedule.next() else { break };
            let item = &items[index];
            match jetstream.send_publish(item.subject(prefix), item.message(store)).await {
                Ok(ack) => acks.push_back((index, ack)),
                Err(cause) => return Err(failed(item, cause)),
            }
        }
        // Nothing in flight and nothing to send: every message was
        // acknowledged.
        let Some((index, ack)) = acks.pop_front() else { return Ok(()) };
        ack.await.map_err(|cause| failed(&items[index], cause))?;
        schedule.acknowledged(index);
    }
}

/// The order messages go out in: each key's messages one after the other,
/// the next only once the one before it was acknowledged; the first of
/// each key in the given order, as soon as it comes up.
#[derive(Debug)]
struct Schedule {
    /// For each message, the index of the next message of its key.
    next_of_key: Vec<Option<usize>>,
    /// For each message, whether it is the first of its key.
    first_of_key: Vec<bool>,
    /// The next message to look at in the given order.
    cursor: usize,
    /// Messages whose key's previous message was acknowledged, oldest
    /// first: they go out before any message the cursor comes to.
    released: VecDeque<usize>,
}

impl Schedule {
    fn new<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let mut next_of_key = vec![None; keys.len()];
        let mut first_of_key = vec![true; keys.len()];
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (index, key) in keys.enumerate() {
            if let Some(previous) = last.insert(key, index) {
                next_of_key[previous] = Some(index);
                first_of_key[index] = false;
            }
        }
        Schedule { next_of_key, first_of_key, cursor: 0, released: VecDeque::new() }
    }

    /// A message that may go out now, if any.
    fn next(&mut self) -> Option<usize> {
        if let Some(index) = self.released.pop_front() {
            return Some(index);
        }
        while self.cursor < self.first_of_key.len() {
            let index = self.cursor;
            self.cursor += 1;
            if self.first_of_key[index] {
                return Some(index);
            }
        }
        None
    }

    /// Message `index` was acknowledged: the next of its key may go out.
    fn acknowledged(&mut self, index: usize) {
        if let Some(next) = self.next_of_key[index] {
            self.released.push_back(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What goes out while acknowledgments come back in the order the
    /// messages went out, with at most `in_flight` awaited; checks that no
    /// message goes out before every earlier one of its key was
    /// acknowledged.
    fn sent(keys: &[&str], in_flight: usize) -> Vec<usize> {
        let mut schedule = Schedule::new(keys.iter().copied());
        let (mut flying, mut sent, mut acknowledged) = (VecDeque::new(), Vec::new(), vec![false; keys.len()]);
        loop {
            while flying.len() < in_flight {
                let Some(index) = schedule.next() else { break };
                let waiting = (0..index).find(|&i| keys[i] == keys[index] && !acknowledged[i]);
                assert_eq!(waiting, None, "{index} went out before {waiting:?} of its key was acknowledged");
                flying.push_back(index);
                sent.push(index);
            }
            let Some(index) = flying.pop_front() else { return sent };
            acknowledged[index] = true;
            schedule.acknowledged(index);
        }
    }

    #[test]
    fn a_key_waits_for_its_previous_message_and_others_go_on() {
        let keys = ["a", "b", "a", "a", "c", "b"];
        let mut schedule = Schedule::new(keys.iter().copied());
        assert_eq!((schedule.next(), schedule.next(), schedule.next()), (Some(0), Some(1), Some(4)));
        assert_eq!(schedule.next(), None, "every other message waits for its key's previous one");
        schedule.acknowledged(1);
        assert_eq!(schedule.next(), Some(5));
        schedule.acknowledged(0);
        assert_eq!(schedule.next(), Some(2));
        assert_eq!(schedule.next(), None, "a's third waits for its second");
        schedule.acknowledged(4);
        schedule.acknowledged(5);
        assert_eq!(schedule.next(), None);
        schedule.acknowledged(2);
        assert_eq!((schedule.next(), schedule.next()), (Some(3), None));
    }

    #[test]
    fn every_message_goes_out_once_after_its_keys_previous_one() {
        let keys: Vec<String> = (0..500).map(|_| format!("k{}", fastrand::usize(..20))).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        for in_flight in [1, 3, 64] {
            let sent = sent(&keys, in_flight);
            let mut sorted = sent.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..keys.len()).collect::<Vec<_>>(), "each once");
        }
    }
}
