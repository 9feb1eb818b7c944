//! Loading aggregates and executing commands against them.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::field::Empty;
use tracing::{Instrument, Span, info_span, warn};

use crate::aggregate::Aggregate;
use crate::cache::StateCache;
use crate::envelope::{Metadata, Position};
use crate::error::{Error, ExecuteError, StoreError};
use crate::event::{EncodedEvent, Event};
use crate::expected_version::ExpectedVersion;
use crate::payload::Payload;
use crate::report::ErrorReport;
use crate::store::validate_stream_id;
use crate::store::{Appended, EventStore, Snapshot, SnapshotAndEvents, StreamRange};
use crate::telemetry::{self, Outcome};

/// How many times [`Repository::execute`] runs a command before giving up on
/// concurrency conflicts, unless set with [`Repository::with_max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// An aggregate's state as loaded from a store.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The state after the last event applied.
    pub state: A,
    /// The stream version of that event (0 for an empty stream).
    pub version: u64,
    /// The stream version of the snapshot the load started from, if one was
    /// used.
    pub snapshot_at: Option<u64>,
}

/// What a successful command committed, so that the caller needs no second
/// read.
#[derive(Debug)]
pub struct Committed<A: Aggregate> {
    /// The stream's version after the commit.
    pub version: u64,
    /// The global position of the last event committed; `None` when the
    /// command produced no events. A projection that has reached it
    /// reflects this command.
    pub position: Option<Position>,
    /// The events the command produced.
    pub events: Vec<A::Event>,
    /// The aggregate's state after those events.
    pub state: A,
    /// How many times the command ran (more than 1 after conflicts, or
    /// after a run on a cached state that had fallen behind the stream, see
    /// [`Repository::with_cache`]; 0 when its
    /// [command id](Metadata::command_id) was committed before and this is
    /// that first commit, returned again).
    pub attempts: u32,
    /// Whether this commit took a snapshot.
    pub snapshot: SnapshotOutcome,
}

/// What happened to the snapshot after a commit. Snapshots are best effort:
/// a failure here never fails the command.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotOutcome {
    /// The commit did not cross a multiple of the snapshot interval.
    NotDue,
    /// A snapshot of the new state was saved.
    Saved {
        /// The stream version of the snapshot.
        version: u64,
    },
    /// Saving failed; the events are committed all the same.
    Failed(Error),
}

/// Loads aggregates of type `A` from a store and executes commands on them
/// with optimistic concurrency.
///
/// ```
/// # use es_core::{Aggregate, Apply, Event, InMemoryEventStore, Repository};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Incremented;
/// # #[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone)]
/// # #[aggregate(name = "counter", event = Incremented)]
/// # struct Counter { value: u64 }
/// # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) { self.value += 1 } }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let repository = Repository::<Counter, _>::new(InMemoryEventStore::new());
/// let committed = repository
///     .execute("c-1", |_counter| Ok::<_, std::convert::Infallible>(vec![Incremented]))
///     .await?;
/// assert_eq!((committed.version, committed.state.value), (1, 1));
/// assert_eq!(repository.load("c-1").await?.state.value, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Repository<A, S> {
    store: S,
    max_attempts: u32,
    cache: Option<Arc<StateCache<A>>>,
}

impl<A: Aggregate + Clone, S: EventStore> Repository<A, S> {
    /// Keeps the state and version of the `capacity` most recently
    /// commanded streams in memory (`0` keeps none, as without this call).
    ///
    /// A command on a cached stream runs on the cached state and appends
    /// expecting its version: one round trip instead of two (three with a
    /// snapshot). When another repository or process wrote to the stream
    /// meanwhile, that append fails on the version, and the state is
    /// forgotten, loaded again and the command run again on it; such a run
    /// does not count against [`with_max_attempts`](Self::with_max_attempts).
    /// A rejection on a cached state is not reported before the command has
    /// rejected the freshly loaded state too. So nothing another writer
    /// wrote is lost or overwritten, and every decision is made on the
    /// current state; a stream written by several processes at once just
    /// gains less. Loads, time travel and snapshots do not use the cache.
    ///
    /// The cache is off by default: only the application knows how large
    /// its aggregates are and how many streams are hot, and the state of a
    /// command is kept as the state of its events would be replayed — which
    /// holds when each event decodes to what was encoded, as
    /// [`Committed::state`] assumes too. A few thousand entries suit most
    /// services; the memory used is that many aggregates.
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, InMemoryEventStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # struct Incremented;
    /// # #[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone)]
    /// # #[aggregate(name = "counter", event = Incremented)]
    /// # struct Counter { value: u64 }
    /// # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) { self.value += 1 } }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let counters = Repository::<Counter, _>::new(InMemoryEventStore::new()).with_cache(10_000);
    /// counters.execute("c-1", |_| Ok::<_, std::convert::Infallible>(vec![Incremented])).await?;
    /// // Runs on the cached state: the store is only asked to append.
    /// let committed = counters.execute("c-1", |_| Ok::<_, std::convert::Infallible>(vec![Incremented])).await?;
    /// assert_eq!((committed.version, committed.state.value, committed.attempts), (2, 2, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = NonZeroUsize::new(capacity).map(|capacity| Arc::new(StateCache::new(capacity, A::clone)));
        self
    }
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository over `store`, without a cache.
    pub fn new(store: S) -> Self {
        Repository { store, max_attempts: DEFAULT_MAX_ATTEMPTS, cache: None }
    }

    /// Sets how many times a command runs before conflicts make it give up
    /// (at least once).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Loads the current state: the latest usable snapshot, then the events
    /// after it.
    ///
    /// A snapshot that does not decode, has an older schema version or
    /// another state fingerprint (the state type's definition changed, see
    /// [`Aggregate::SNAPSHOT_FINGERPRINT`]) is ignored; the state is replayed
    /// from the events and, when snapshots are enabled, saved as the new
    /// snapshot (best effort). One with a newer schema version, written by a
    /// newer release, is ignored and kept.
    pub async fn load(&self, stream_id: &str) -> Result<Loaded<A>, Error> {
        self.observe_load(stream_id, async {
            let (loaded, stale_snapshot) = self.load_range(stream_id, None).await?;
            if stale_snapshot && loaded.version > 0 {
                // Best effort: the next snapshot interval retries a failed write.
                if let Err(error) = self.save_snapshot(stream_id, loaded.version, &loaded.state).await {
                    warn!(error = %ErrorReport::new(&error), "could not replace the unusable snapshot; the next one due will");
                }
            }
            Ok(loaded)
        })
        .await
    }

    /// Loads the state as it was right after event `version`;
    /// [`Error::VersionNotReached`] when the stream ends before it.
    pub async fn load_at_version(&self, stream_id: &str, version: u64) -> Result<Loaded<A>, Error> {
        let loaded =
            self.observe_load(stream_id, async { Ok(self.load_range(stream_id, Some(version)).await?.0) }).await?;
        if loaded.version < version {
            return Err(Error::VersionNotReached { stream_id: stream_id.to_owned(), version, head: loaded.version });
        }
        Ok(loaded)
    }

    /// Loads the state as it was at `time`: every event recorded at or before
    /// it, replayed from the start.
    pub async fn load_as_of(&self, stream_id: &str, time: SystemTime) -> Result<Loaded<A>, Error> {
        self.observe_load(stream_id, async {
            validate_stream_id(stream_id)?;
            let events = self.store.read_stream_events(A::TYPE, stream_id, StreamRange::all().up_to_time(time)).await?;
            // Should the clock have stepped back, a later event can carry an
            // earlier time: the history as it stood is the unbroken prefix.
            let prefix = events.into_iter().zip(1..).take_while(|((version, _), n)| version == n).map(|(e, _)| e);
            fold(stream_id, Loaded { state: A::default(), version: 0, snapshot_at: None }, prefix.collect())
        })
        .await
    }

    /// Runs `load` in a `load` span, recording what it read and how long it
    /// took.
    async fn observe_load(
        &self,
        stream_id: &str,
        load: impl Future<Output = Result<Loaded<A>, Error>>,
    ) -> Result<Loaded<A>, Error> {
        let span = info_span!(
            "load",
            aggregate = A::TYPE,
            stream = stream_id,
            version = Empty,
            events = Empty,
            snapshot = Empty
        );
        let started = Instant::now();
        let loaded = load.instrument(span.clone()).await?;
        // The fold applies every version after the snapshot's, one by one.
        let events = loaded.version - loaded.snapshot_at.unwrap_or(0);
        span.record("version", loaded.version).record("events", events);
        if let Some(snapshot) = loaded.snapshot_at {
            span.record("snapshot", snapshot);
        }
        telemetry::loaded(A::TYPE, events, started.elapsed());
        Ok(loaded)
    }

    /// Folds the events up to `up_to_version` onto the latest usable
    /// snapshot; also tells whether a snapshot exists that could not be
    /// used.
    async fn load_range(&self, stream_id: &str, up_to_version: Option<u64>) -> Result<(Loaded<A>, bool), Error> {
        // Refused here too, whatever the store checks.
        validate_stream_id(stream_id)?;
        let range = StreamRange { up_to_version, ..StreamRange::all() };
        let empty = || Loaded { state: A::default(), version: 0, snapshot_at: None };
        if A::SNAPSHOT_EVERY == 0 {
            let events = self.store.read_stream_events(A::TYPE, stream_id, range).await?;
            return Ok((fold(stream_id, empty(), events)?, false));
        }
        // One read for both where the store can, so that a snapshot costs
        // no extra round trip.
        let SnapshotAndEvents { snapshot, events } =
            self.store.read_snapshot_and_events(A::TYPE, stream_id, range, A::SNAPSHOT_SCHEMA_VERSION).await?;
        let Some(snapshot) = snapshot else { return Ok((fold(stream_id, empty(), events)?, false)) };
        // Written by a newer release: replay, but leave it in place.
        if snapshot.schema_version > A::SNAPSHOT_SCHEMA_VERSION {
            return Ok((fold(stream_id, empty(), events)?, false));
        }
        if snapshot.schema_version < A::SNAPSHOT_SCHEMA_VERSION {
            return Ok((fold(stream_id, empty(), events)?, true));
        }
        // At the current schema version, the events read start after the
        // snapshot: one that cannot be used needs them all.
        if snapshot.fingerprint != A::SNAPSHOT_FINGERPRINT {
            let events = self.store.read_stream_events(A::TYPE, stream_id, range).await?;
            return Ok((fold(stream_id, empty(), events)?, true));
        }
        match snapshot.state.deserialize() {
            Ok(state) => {
                let start = Loaded { state, version: snapshot.version, snapshot_at: Some(snapshot.version) };
                Ok((fold(stream_id, start, events)?, false))
            }
            Err(error) => {
                warn!(error = %ErrorReport::new(&error), "the snapshot does not decode; replaying the stream from its first event");
                let events = self.store.read_stream_events(A::TYPE, stream_id, range).await?;
                Ok((fold(stream_id, empty(), events)?, true))
            }
        }
    }

    /// Runs `command` against the current state and appends the events it
    /// returns, expecting the version it was loaded at. On a concurrency
    /// conflict it reloads and runs the command again, up to the
    /// repository's maximum number of attempts. With a
    /// [cache](Self::with_cache), a cached state takes the place of the
    /// first load.
    ///
    /// A command may therefore run more than once: keep it a decision over
    /// the state, and leave effects on the world (emails, payments) to
    /// projections, which see each committed event once.
    ///
    /// A request that may be sent twice (a client retrying after a timeout)
    /// carries a [command id](Metadata::with_command_id) in
    /// [`execute_with`](Self::execute_with)'s metadata: once a command with
    /// that id is committed on the stream, executing it again returns that
    /// first commit (version, position, events, state) and appends
    /// nothing. The store enforces it, so concurrent duplicates append once.
    /// Give the request's fingerprint with the id
    /// ([`Metadata::with_command_id_for`]): the same id sent with another
    /// fingerprint (another body reusing the key) is refused with
    /// [`Error::CommandIdReused`] instead of being answered with the first
    /// commit. A command id names one request in the whole store: sent to
    /// another stream it is refused with
    /// [`StoreError::CommandIdTaken`](crate::StoreError::CommandIdTaken).
    /// Ids are kept for as long as the store; they do not expire.
    pub async fn execute<E, F>(&self, stream_id: &str, command: F) -> Result<Committed<A>, ExecuteError<E>>
    where
        F: FnMut(&A) -> Result<Vec<A::Event>, E>,
    {
        self.execute_with(stream_id, &Metadata::default(), command).await
    }

    /// [`execute`](Self::execute), recording `metadata` with every event.
    ///
    /// The events carry `metadata` as given, and its correlation,
    /// causation and command ids are fields of the `execute` span. Metadata
    /// with a correlation id but no causation id gives events with no
    /// causation id (see [`telemetry`](crate::telemetry#causation)).
    pub async fn execute_with<E, F>(
        &self,
        stream_id: &str,
        metadata: &Metadata,
        mut command: F,
    ) -> Result<Committed<A>, ExecuteError<E>>
    where
        F: FnMut(&A) -> Result<Vec<A::Event>, E>,
    {
        self.run_command(stream_id, metadata, SyncCommand(&mut command)).await
    }

    /// [`execute`](Self::execute) for a command that awaits something
    /// before it decides, such as a uniqueness check or a price. The
    /// command gets a copy of the state and returns a future that owns what
    /// it uses, so the future of `execute_async` is `Send` and can run in a
    /// spawned task or a web handler:
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, InMemoryEventStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # struct Priced { cents: i64 }
    /// # #[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone)]
    /// # #[aggregate(name = "quote", event = Priced)]
    /// # struct Quote { cents: i64 }
    /// # impl Apply<Priced> for Quote { fn apply(&mut self, e: &Priced) { self.cents = e.cents } }
    /// # async fn price_of(_sku: &str) -> Result<i64, String> { Ok(1250) }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let quotes = Repository::<Quote, _>::new(InMemoryEventStore::new());
    /// let committed = quotes
    ///     .execute_async("q-1", |_quote: Quote| async move {
    ///         let cents = price_of("sku-7").await?;
    ///         Ok::<_, String>(vec![Priced { cents }])
    ///     })
    ///     .await?;
    /// assert_eq!(committed.state.cents, 1250);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Like a synchronous one, it may run more than once on conflicts, each
    /// time on the state reloaded.
    pub async fn execute_async<E, F, Fut>(&self, stream_id: &str, command: F) -> Result<Committed<A>, ExecuteError<E>>
    where
        A: Clone,
        F: FnMut(A) -> Fut,
        Fut: Future<Output = Result<Vec<A::Event>, E>>,
    {
        self.execute_async_with(stream_id, &Metadata::default(), command).await
    }

    /// [`execute_async`](Self::execute_async), recording `metadata` with
    /// every event.
    pub async fn execute_async_with<E, F, Fut>(
        &self,
        stream_id: &str,
        metadata: &Metadata,
        mut command: F,
    ) -> Result<Committed<A>, ExecuteError<E>>
    where
        A: Clone,
        F: FnMut(A) -> Fut,
        Fut: Future<Output = Result<Vec<A::Event>, E>>,
    {
        self.run_command(stream_id, metadata, AsyncCommand(&mut command)).await
    }

    /// Runs a command of any `execute` in an `execute` span, counting how
    /// it ended.
    async fn run_command<E>(
        &self,
        stream_id: &str,
        metadata: &Metadata,
        command: impl Decide<A, E>,
    ) -> Result<Committed<A>, ExecuteError<E>> {
        let span = info_span!(
            "execute",
            aggregate = A::TYPE,
            stream = stream_id,
            correlation_id = metadata.correlation_id.as_deref(),
            causation_id = metadata.causation_id.as_deref(),
            command_id = metadata.command_id.as_deref(),
            attempts = Empty,
            version = Empty,
        );
        let executed = self.command_loop(stream_id, metadata, command).instrument(span.clone()).await;
        let outcome = match &executed {
            Ok(committed) => {
                span.record("version", committed.version);
                if committed.attempts == 0 { Outcome::Duplicate } else { Outcome::Committed }
            }
            Err(ExecuteError::Rejected(_)) => Outcome::Rejected,
            Err(ExecuteError::Failed(Error::RetriesExhausted { .. })) => Outcome::Conflict,
            Err(_) => Outcome::Failed,
        };
        telemetry::command(A::TYPE, outcome);
        executed
    }

    /// The command loop of every `execute`: load, decide, append, and on a
    /// conflict the same again.
    async fn command_loop<E>(
        &self,
        stream_id: &str,
        metadata: &Metadata,
        mut command: impl Decide<A, E>,
    ) -> Result<Committed<A>, ExecuteError<E>> {
        let mut cached = self.cache.as_ref().and_then(|cache| cache.get(stream_id));
        // A run on a cached state that fell behind the stream is not an
        // attempt of its own.
        let mut max_attempts = self.max_attempts;
        let mut attempt = 0;
        loop {
            if let Some(command_id) = &metadata.command_id {
                if let Some(committed) = self.committed_before(stream_id, command_id, metadata).await? {
                    return Ok(committed);
                }
            }
            attempt += 1;
            // The `execute` span, which `run_command` runs this in.
            Span::current().record("attempts", attempt);
            let from_cache = cached.is_some();
            let loaded = match cached.take() {
                Some((version, state)) => Loaded { state, version, snapshot_at: None },
                None => self.load(stream_id).await?,
            };
            let events = match command.decide(&loaded.state).await {
                Ok(events) => events,
                // The cached state may be behind the stream: only the
                // current one can reject the command.
                Err(_) if from_cache => {
                    self.forget(stream_id);
                    max_attempts = max_attempts.saturating_add(1);
                    continue;
                }
                Err(rejected) => return Err(ExecuteError::Rejected(rejected)),
            };
            let encoded = encode_readable::<A>(stream_id, &events)?;
            let expected = ExpectedVersion::Exact(loaded.version);
            match self.append(stream_id, expected, encoded, metadata).await {
                Ok(appended) => {
                    let mut state = loaded.state;
                    events.iter().for_each(|e| state.apply(e));
                    if let Some(cache) = &self.cache {
                        cache.put(stream_id, appended.stream_version, &state);
                    }
                    let snapshot =
                        self.snapshot_after(stream_id, loaded.version, appended.stream_version, &state).await;
                    return Ok(Committed {
                        version: appended.stream_version,
                        position: appended.position(),
                        events,
                        state,
                        attempts: attempt,
                        snapshot,
                    });
                }
                Err(e) => {
                    // The stream moved on, or whether the events were
                    // appended is unknown: the cached state may be behind.
                    self.forget(stream_id);
                    match e {
                        StoreError::Conflict { .. } if from_cache => max_attempts = max_attempts.saturating_add(1),
                        StoreError::Conflict { expected, actual, .. } if attempt < max_attempts => {
                            warn!(attempt, %expected, actual, "another writer changed the stream; retrying the command");
                            telemetry::retry(A::TYPE);
                        }
                        // The same command committed meanwhile: the next
                        // round returns that commit.
                        StoreError::DuplicateCommand { .. } => {}
                        StoreError::Conflict { expected, actual, .. } => {
                            let stream_id = stream_id.to_owned();
                            let attempts = attempt;
                            return Err(Error::RetriesExhausted { stream_id, attempts, expected, actual }.into());
                        }
                        e => return Err(Error::Store(e).into()),
                    }
                }
            }
        }
    }

    /// Drops the cached state of `stream_id`, if any.
    fn forget(&self, stream_id: &str) {
        if let Some(cache) = &self.cache {
            cache.evict(stream_id);
        }
    }

    /// Appends a command's events in an `append` span, counting conflicts.
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        let span = info_span!(
            "append",
            aggregate = A::TYPE,
            stream = stream_id,
            events = events.len(),
            version = Empty,
            conflict = Empty
        );
        let started = Instant::now();
        let appended = self.store.append(A::TYPE, stream_id, expected, events, metadata).instrument(span.clone()).await;
        telemetry::append_took(A::TYPE, started.elapsed());
        match &appended {
            Ok(appended) => {
                span.record("version", appended.stream_version);
                telemetry::appended(A::TYPE, appended.events.len());
            }
            Err(StoreError::Conflict { .. }) => {
                span.record("conflict", true);
                telemetry::conflict(A::TYPE);
            }
            Err(_) => {}
        }
        appended
    }

    /// The commit of command `command_id` on the stream, as it was, if the
    /// command was committed before with the fingerprint of `metadata` (or
    /// either has none); refused when the fingerprints differ.
    async fn committed_before(
        &self,
        stream_id: &str,
        command_id: &str,
        metadata: &Metadata,
    ) -> Result<Option<Committed<A>>, Error> {
        let Some(recorded) = self.store.command_events(stream_id, command_id).await? else { return Ok(None) };
        let Some((version, position)) = recorded.last().map(|e| (e.version, e.position)) else { return Ok(None) };
        let committed = recorded[0].metadata.fingerprint.as_deref();
        if let (Some(committed), Some(sent)) = (committed, metadata.fingerprint.as_deref()) {
            if committed != sent {
                return Err(Error::CommandIdReused {
                    stream_id: stream_id.to_owned(),
                    command_id: command_id.to_owned(),
                    committed: committed.to_owned(),
                    sent: sent.to_owned(),
                });
            }
        }
        let events = recorded
            .into_iter()
            .map(|e| {
                A::Event::decode(&e.event.name, e.event.schema_version, &e.event.payload).map_err(|source| {
                    Error::Decode { stream_id: stream_id.to_owned(), version: e.version, cause: source }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let state = self.load_at_version(stream_id, version).await?.state;
        let snapshot = SnapshotOutcome::NotDue;
        Ok(Some(Committed { version, position: Some(position), events, state, attempts: 0, snapshot }))
    }

    /// Saves a snapshot if the commit from `before` to `after` crossed a
    /// multiple of the snapshot interval.
    async fn snapshot_after(&self, stream_id: &str, before: u64, after: u64, state: &A) -> SnapshotOutcome {
        let every = A::SNAPSHOT_EVERY;
        if every == 0 || before / every == after / every {
            return SnapshotOutcome::NotDue;
        }
        match self.save_snapshot(stream_id, after, state).await {
            Ok(()) => SnapshotOutcome::Saved { version: after },
            Err(error) => {
                warn!(version = after, error = %ErrorReport::new(&error), "could not save the snapshot; the command is committed all the same");
                SnapshotOutcome::Failed(error)
            }
        }
    }

    /// Saves `state` as the snapshot of `stream_id` at `version`.
    pub async fn save_snapshot(&self, stream_id: &str, version: u64, state: &A) -> Result<(), Error> {
        validate_stream_id(stream_id)?;
        let state = Payload::serialize(state).map_err(|source| Error::Encode {
            stream_id: stream_id.to_owned(),
            what: "snapshot",
            cause: source,
        })?;
        let snapshot = Snapshot {
            aggregate_type: A::TYPE.to_owned(),
            stream_id: stream_id.to_owned(),
            version,
            schema_version: A::SNAPSHOT_SCHEMA_VERSION,
            fingerprint: A::SNAPSHOT_FINGERPRINT,
            state,
        };
        Ok(self.store.save_snapshot(snapshot).await?)
    }
}

/// A command's decision over the state: a closure, or an async closure.
trait Decide<A: Aggregate, E> {
    fn decide(&mut self, state: &A) -> impl Future<Output = Result<Vec<A::Event>, E>>;
}

/// A synchronous command: its future is ready at once and borrows nothing,
/// so the future of `execute` is `Send` whenever the command's result is.
struct SyncCommand<'f, F>(&'f mut F);

impl<A: Aggregate, E, F: FnMut(&A) -> Result<Vec<A::Event>, E>> Decide<A, E> for SyncCommand<'_, F> {
    fn decide(&mut self, state: &A) -> impl Future<Output = Result<Vec<A::Event>, E>> {
        std::future::ready((self.0)(state))
    }
}

/// An async command, on a copy of the state: its future borrows nothing.
struct AsyncCommand<'f, F>(&'f mut F);

impl<A, E, F, Fut> Decide<A, E> for AsyncCommand<'_, F>
where
    A: Aggregate + Clone,
    F: FnMut(A) -> Fut,
    Fut: Future<Output = Result<Vec<A::Event>, E>>,
{
    fn decide(&mut self, state: &A) -> impl Future<Output = Result<Vec<A::Event>, E>> {
        (self.0)(state.clone())
    }
}

/// Encodes `events`, refusing any whose encoded form does not decode back:
/// once appended, such an event would make every later load of the stream
/// fail.
fn encode_readable<A: Aggregate>(stream_id: &str, events: &[A::Event]) -> Result<Vec<EncodedEvent>, Error> {
    events
        .iter()
        .map(|event| {
            let encoded = event.encode().map_err(|source| Error::Encode {
                stream_id: stream_id.to_owned(),
                what: "event",
                cause: source,
            })?;
            match A::Event::decode(&encoded.name, encoded.schema_version, &encoded.payload) {
                Ok(_) => Ok(encoded),
                Err(source) => {
                    Err(Error::Unreadable { stream_id: stream_id.to_owned(), name: encoded.name, cause: source })
                }
            }
        })
        .collect()
}

/// Applies a stream's events, given with their versions, to a starting
/// state, decoding each.
fn fold<A: Aggregate>(
    stream_id: &str,
    mut loaded: Loaded<A>,
    events: Vec<(u64, EncodedEvent)>,
) -> Result<Loaded<A>, Error> {
    for (version, encoded) in events {
        if version != loaded.version + 1 {
            let cause = format!("the stream skips from version {} to {version}", loaded.version);
            return Err(Error::Store(StoreError::Corrupt { stream_id: stream_id.to_owned(), version, cause }));
        }
        let event = A::Event::decode(&encoded.name, encoded.schema_version, &encoded.payload)
            .map_err(|source| Error::Decode { stream_id: stream_id.to_owned(), version, cause: source })?;
        loaded.state.apply(&event);
        loaded.version = version;
    }
    Ok(loaded)
}
