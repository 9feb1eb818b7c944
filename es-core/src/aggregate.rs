//! Aggregates: consistency boundaries whose state is a fold of their events.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::event::Event;

/// A consistency boundary whose state is rebuilt by applying its events in
/// order, starting from [`Default`].
///
/// Commands are plain methods that check invariants against the current
/// state and return new events; only [`Aggregate::apply`] changes state.
/// `#[derive(Aggregate)]` writes this impl from `#[aggregate(...)]`.
///
/// ```
/// use es_core::{Aggregate, Apply, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// struct Incremented;
///
/// #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
/// #[aggregate(name = "counter", event = Incremented)]
/// struct Counter { value: u64 }
///
/// impl Apply<Incremented> for Counter {
///     fn apply(&mut self, _: &Incremented) { self.value += 1 }
/// }
///
/// let mut counter = Counter::default();
/// Aggregate::apply(&mut counter, &Incremented);
/// assert_eq!(counter.value, 1);
/// assert_eq!(Counter::TYPE, "counter");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate",
    note = "add `#[derive(es_core::Aggregate)]` and `#[aggregate(name = \"...\", event = YourEvent)]` to `{Self}`"
)]
pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate type name stored beside every event, such as `"account"`.
    const TYPE: &'static str;

    /// Take a snapshot every this many events; `0` never takes one.
    const SNAPSHOT_EVERY: u64 = 0;

    /// The schema version of the serialized state. Snapshots written with
    /// an older version are ignored and rebuilt from events; raise it for a
    /// change the fingerprint cannot see.
    const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

    /// A hash of the state type's definition, computed by
    /// `#[derive(Aggregate)]` (0 for a hand-written impl). A snapshot stored
    /// with another fingerprint is ignored and replaced, with no manual bump.
    const SNAPSHOT_FINGERPRINT: u64 = 0;

    /// The events of this aggregate, usually an enum deriving `Event`.
    type Event: Event;

    /// Evolves the state by one event.
    fn apply(&mut self, event: &Self::Event);
}
