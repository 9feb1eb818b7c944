//! [`RedisProjection`], a read model in Redis, and the [`RedisWrites`] its
//! handlers queue.

use es_core::projection::Envelope;
use es_core::{AggregateTypes, BoxError, Event, RecordedEvent};
use redis::ToRedisArgs;

/// The writes of a page, queued by the handlers and run by the runner in
/// one script with the checkpoint's compare-and-set: they take effect
/// together with the checkpoint, or not at all.
///
/// Handlers only queue; they cannot read what they queued (read the
/// model on a connection of your own, outside the page, if needed).
#[derive(Debug, Default)]
pub struct RedisWrites {
    /// The queued operations, as the commit script reads them.
    pub(crate) words: Vec<Vec<u8>>,
}

impl RedisWrites {
    /// Queues the command `name` with `args` (anything the redis crate
    /// turns into arguments: strings, numbers, tuples, slices).
    ///
    /// ```
    /// let mut writes = es_redis::RedisWrites::default();
    /// writes.command("HINCRBY", ("balances", "acc-1", 100));
    /// writes.command("SADD", ("accounts", "acc-1"));
    /// ```
    pub fn command(&mut self, name: &str, args: impl ToRedisArgs) -> &mut Self {
        let mut words = vec![name.as_bytes().to_vec()];
        words.extend(args.to_redis_args());
        self.words.push(b"c".to_vec());
        self.words.push(words.len().to_string().into_bytes());
        self.words.extend(words);
        self
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Queues the parking of an event: its position and its record.
    pub(crate) fn park(&mut self, at: String, record: Vec<u8>) {
        self.words.extend([b"p".to_vec(), at.into_bytes(), record]);
    }
}

/// A read model in Redis, fed by any store's events.
///
/// The handlers queue the page's writes in [`RedisWrites`]; the runner runs
/// them in one script that first checks and then moves the projection's
/// checkpoint, which Redis runs alone. After a crash no event is applied
/// twice or lost, as long as Redis keeps what it acknowledged (see the
/// crate documentation on persistence).
///
/// ```
/// use es_core::{BoxError, RecordedEvent};
/// use es_redis::{RedisProjection, RedisWrites};
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
///
/// struct Balances;
///
/// impl RedisProjection for Balances {
///     type Event = Deposited;
///     fn name(&self) -> &str { "balances" }
///     fn handle(&mut self, writes: &mut RedisWrites, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
///         writes.command("HINCRBY", ("balances", &env.stream_id, e.amount));
///         Ok(())
///     }
///     fn reset(&mut self, writes: &mut RedisWrites) -> Result<(), BoxError> {
///         writes.command("DEL", "balances");
///         Ok(())
///     }
/// }
/// ```
pub trait RedisProjection: Send + Sync + 'static {
    /// The events this projection reads. Events of its aggregate types that the
    /// program knows but this type does not are skipped; see
    /// [`es_core::projection`] for what is never skipped.
    type Event: Event;

    /// The projection's stable name, under which its checkpoint is kept.
    fn name(&self) -> &str;

    /// The aggregate types whose events the projection reads (default:
    /// all).
    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::All
    }

    /// Queues the writes of one event. An error discards what the page
    /// queued; the runner retries per its
    /// [`RetryPolicy`](es_core::projection::RetryPolicy).
    fn handle(
        &mut self,
        writes: &mut RedisWrites,
        event: &Self::Event,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError>;

    /// Queues the writes of several events, in order: a page of the global
    /// order. The default calls [`handle`](Self::handle) for each.
    fn handle_batch(&mut self, writes: &mut RedisWrites, events: &[Envelope<'_, Self::Event>]) -> Result<(), BoxError> {
        for envelope in events {
            self.handle(writes, envelope.event, envelope.recorded)?;
        }
        Ok(())
    }

    /// Queues the writes that empty the read model, before a rebuild.
    fn reset(&mut self, writes: &mut RedisWrites) -> Result<(), BoxError>;
}
