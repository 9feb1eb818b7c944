//! The one projection loop every runner shares: read a page, decode it,
//! hand it to the projection, retry or park what fails, commit the
//! checkpoint.
//!
//! A runner is the engine over a [`Source`] (where events are read: any
//! store's global order) and a [`Sink`] (where the read model, its
//! checkpoint and its parked events commit, in one unit of work: process
//! memory, the store's own database, another database). Applications use
//! the runners, not this module.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{FutureExt, TryFutureExt};
use tracing::field::{Empty, display};
use tracing::{Instrument, error, info_span, warn};

use crate::envelope::{Position, RecordedEvent};
use crate::error::{BoxError, DecodeError, StoreError};
use crate::event::Event;
use crate::projection::Envelope;
use crate::projection::checkpoint::{CheckpointState, CheckpointWatch};
use crate::projection::error::ProjectionError;
use crate::projection::health::{Health, HealthSender, RunnerState};
use crate::projection::held::HeldStreams;
use crate::projection::options::{PoisonPolicy, Progress, RunnerOptions};
use crate::projection::parked::ParkedEvent;
use crate::registry;
use crate::report::ErrorReport;
use crate::store::{AggregateTypes, EventStore, Page, StreamRange};
use crate::telemetry;

/// Where a projection reads events from: a store's gapless global order,
/// of the aggregate types the projection reads.
pub trait Source: Send + Sync + 'static {
    /// Reads a page of the aggregate types `types` after `after`. The read
    /// holds no borrow of the source, so that the engine reads the next
    /// page while it hands the current one over.
    fn read(
        &self,
        after: Position,
        limit: usize,
        types: AggregateTypes,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + 'static;

    /// The number of events of the aggregate types `types`, for progress
    /// reports.
    fn count(&self, types: &AggregateTypes) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// One event, by stream and version.
    fn read_event(
        &self,
        stream_id: &str,
        version: u64,
    ) -> impl Future<Output = Result<Option<RecordedEvent>, StoreError>> + Send;
}

/// Every store is a source, shared by `Arc`.
impl<S: EventStore + 'static> Source for Arc<S> {
    fn read(
        &self,
        after: Position,
        limit: usize,
        types: AggregateTypes,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + 'static {
        let store = Arc::clone(self);
        async move { store.read_types(after, limit, &types).await }
    }

    async fn count(&self, types: &AggregateTypes) -> Result<u64, StoreError> {
        if *types == AggregateTypes::All {
            return EventStore::count(&**self).await;
        }
        let (mut count, mut after) = (0, Position::START);
        loop {
            let page = self.read_types(after, 1000, types).await?;
            if page.through <= after {
                return Ok(count);
            }
            count += page.events.len() as u64;
            after = page.through;
        }
    }

    async fn read_event(&self, stream_id: &str, version: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let range = StreamRange::after(version.saturating_sub(1)).up_to_version(version);
        Ok(self.read_stream(stream_id, range).await?.into_iter().next())
    }
}

/// Where a projection commits: its read model's writes, its checkpoint and
/// its parked events, and how its handler is called inside a unit of work.
///
/// A unit of work commits the handler's writes, the parked events and the
/// checkpoint together, or none of them; dropping it uncommitted discards
/// them. The checkpoint's compare-and-set in the unit is the fence that
/// keeps a page exactly-once, even if two runners are ever active at once.
pub trait Sink: Send + 'static {
    /// Whether dropping a unit uncommitted undoes what the projection wrote
    /// in it (a database transaction does; a read model in memory does
    /// not). A sink that is not atomic reports which event failed.
    const ATOMIC: bool;

    /// The user's projection.
    type Projection: Send + Sync;
    /// The events the projection reads.
    type Event: Event;
    /// One unit of work (a transaction).
    type Unit<'u>: Send + Sync;

    /// This projection's parked events by id after `after`, at most
    /// `limit`, oldest first, discarded ones included.
    fn parked(&self, after: u64, limit: usize) -> impl Future<Output = Result<Vec<ParkedEvent>, StoreError>> + Send;

    /// Starts a unit of work.
    fn begin(&mut self) -> impl Future<Output = Result<Self::Unit<'_>, StoreError>> + Send;

    /// Hands `events` to the projection inside `unit`.
    fn handle<'a>(
        projection: &'a mut Self::Projection,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, Self::Event>],
    ) -> impl Future<Output = Result<(), Failed>> + Send + 'a;

    /// Empties the read model inside `unit`.
    fn reset<'a>(
        projection: &'a mut Self::Projection,
        unit: &'a mut Self::Unit<'_>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'a;

    /// Creates what the read model needs (its tables), inside `unit`: before
    /// the first page a runner commits, and after the read model was reset
    /// for a rebuild. The default does nothing, for sinks that set their
    /// read models up another way.
    fn setup<'a>(
        projection: &'a mut Self::Projection,
        unit: &'a mut Self::Unit<'_>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'a {
        let _ = (projection, unit);
        async { Ok(()) }
    }

    /// Forgets the projection's parked events inside `unit`: a replay from
    /// the start handles them again.
    fn forget_parked<'a>(unit: &'a mut Self::Unit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Records `event` as parked inside `unit`.
    fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Takes parked event `id` out of the parked events inside `unit`;
    /// `false` when it is not parked (any more).
    fn unpark<'a>(unit: &'a mut Self::Unit<'_>, id: u64) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Whether `error`, returned by the projection, comes from losing the
    /// connection rather than from the projection itself. The engine then
    /// reports the store as unavailable instead of counting the failure
    /// against the event: an outage never parks or stops on an event.
    fn is_outage(error: &BoxError) -> bool {
        let _ = error;
        false
    }

    /// Notes that a retry of parked event `id` failed again.
    fn note_failed_retry(&self, id: u64, error: String) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Commits `unit`, moving the checkpoint `from` → `to` when given, and
    /// returns the checkpoint's [revision](CheckpointState::revision)
    /// after it (the revision it had when no checkpoint is given). `Ok(None)`
    /// when the stored checkpoint is not at `from`: another runner moved
    /// it, and nothing was committed.
    fn commit(
        unit: Self::Unit<'_>,
        checkpoint: Option<(Position, Position)>,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
}

/// The projection failed on a batch of events.
#[derive(Debug)]
pub struct Failed {
    /// The index of the event it failed on, when known. A sink that is
    /// not [`ATOMIC`](Sink::ATOMIC) always knows it: the events before
    /// it took effect.
    pub index: Option<usize>,
    /// The projection's error.
    pub source: BoxError,
}

/// What the projection does with one event of a page.
enum Item<E> {
    /// Hand it over.
    Handle(E),
    /// An event the program knows that this projection does not read.
    Skip,
    /// An event that does not decode, or that no code knows.
    Poison(DecodeError),
}

/// Why an event could not be handled.
enum Failure {
    Decode(DecodeError),
    Handler { attempts: u32, source: BoxError },
}

/// The projection loop over a [`Source`] and a [`Sink`].
pub struct Engine<S: Source, K: Sink> {
    source: S,
    sink: K,
    projection: K::Projection,
    categories: AggregateTypes,
    options: RunnerOptions,
    cursor: Cursor,
    health: HealthSender,
    /// The streams held back under [`PoisonPolicy::ParkStream`]; `None`
    /// until read from the sink.
    held: Option<HeldStreams>,
}

/// Where the projection stands, apart from the sink so that it can move
/// while a unit of work borrows the sink.
#[derive(Debug)]
struct Cursor {
    name: String,
    watch: CheckpointWatch,
    checkpoint: Position,
}

impl Cursor {
    fn store_error(&self, source: StoreError) -> ProjectionError {
        ProjectionError::store(&self.name, source)
    }

    /// Runs the projection's setup in `unit`; a lost connection is an
    /// outage, not a failure of the setup.
    async fn set_up<K: Sink>(
        &self,
        projection: &mut K::Projection,
        unit: &mut K::Unit<'_>,
    ) -> Result<(), ProjectionError> {
        match K::setup(projection, unit).await {
            Ok(()) => Ok(()),
            Err(source) if K::is_outage(&source) => Err(self.store_error(StoreError::Unavailable(source))),
            // The sink's own failure around the projection's setup.
            Err(source) => match source.downcast::<StoreError>() {
                Ok(store) => Err(self.store_error(*store)),
                Err(source) => Err(ProjectionError::Setup { projection: self.name.clone(), source }),
            },
        }
    }

    /// Commits `unit` with the checkpoint moved to `to`, and publishes it.
    async fn commit<K: Sink>(&mut self, unit: K::Unit<'_>, to: Position) -> Result<(), ProjectionError> {
        let moved = K::commit(unit, Some((self.checkpoint, to))).await.map_err(|e| self.store_error(e))?;
        let Some(revision) = moved else {
            return Err(ProjectionError::Busy { projection: self.name.clone() });
        };
        self.checkpoint = to;
        self.watch.publish(CheckpointState { position: to, stopped: None, revision });
        Ok(())
    }
}

impl<S: Source, K: Sink> std::fmt::Debug for Engine<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("projection", &self.cursor.name)
            .field("checkpoint", &self.cursor.checkpoint)
            .field("categories", &self.categories)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: Source, K: Sink> Engine<S, K> {
    /// An engine for `projection` (stored as `name`, reading `categories`),
    /// publishing its checkpoints to `watch`.
    pub fn new(
        source: S,
        sink: K,
        projection: K::Projection,
        name: String,
        categories: AggregateTypes,
        watch: CheckpointWatch,
    ) -> Self {
        Engine {
            source,
            sink,
            projection,
            categories,
            options: RunnerOptions::default(),
            cursor: Cursor { name, watch, checkpoint: Position::START },
            health: HealthSender::default(),
            held: None,
        }
    }

    /// The projection's name.
    pub fn name(&self) -> &str {
        &self.cursor.name
    }

    /// Where it reads.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Where it commits.
    pub fn sink(&self) -> &K {
        &self.sink
    }

    /// Where it commits, to change it.
    pub fn sink_mut(&mut self) -> &mut K {
        &mut self.sink
    }

    /// The projection.
    pub fn projection(&self) -> &K::Projection {
        &self.projection
    }

    /// The projection, to change it.
    pub fn projection_mut(&mut self) -> &mut K::Projection {
        &mut self.projection
    }

    /// How the engine reads, retries and treats poison events.
    pub fn options(&self) -> &RunnerOptions {
        &self.options
    }

    /// Sets how the engine reads, retries and treats poison events.
    pub fn set_options(&mut self, options: RunnerOptions) {
        self.options = options;
    }

    /// The watch the engine publishes its checkpoints to.
    pub fn watch(&self) -> &CheckpointWatch {
        &self.cursor.watch
    }

    /// The last checkpoint this engine committed or resumed from.
    pub fn checkpoint(&self) -> Position {
        self.cursor.checkpoint
    }

    /// Continues from `position`, the checkpoint as the sink stores it
    /// at `revision`.
    pub fn resume_at(&mut self, position: Position, revision: u64) {
        self.held = None;
        self.cursor.checkpoint = position;
        self.cursor.watch.publish(CheckpointState { position, stopped: None, revision });
    }

    /// A handle to read the runner's health while it runs.
    pub fn health(&self) -> Health {
        self.health.reader()
    }

    /// Publishes what the runner is doing.
    pub fn set_state(&self, state: RunnerState) {
        self.health.set(state);
    }

    /// Publishes what the runner is doing after `error`, and records it.
    pub fn set_failed(&self, state: RunnerState, error: &(dyn std::error::Error + 'static)) {
        self.health.fail(state, report(error));
    }

    /// Tells waiters that the projection stopped on `error`: stored at
    /// `revision`, or in this process only when the stop could not be
    /// stored.
    pub fn publish_stop(&self, error: &ProjectionError, revision: Option<u64>) {
        let (position, stopped) = (self.cursor.checkpoint, Some(report(error)));
        match revision {
            Some(revision) => self.cursor.watch.publish(CheckpointState { position, stopped, revision }),
            None => self.cursor.watch.publish_stop(report(error)),
        }
    }

    /// The error for a store failure of this projection.
    pub fn store_error(&self, source: StoreError) -> ProjectionError {
        self.cursor.store_error(source)
    }

    /// Handles every event after the checkpoint, page by page; returns how
    /// many events of the projection's aggregate types were read, and calls
    /// `on_page` with that count after each page.
    // The declared `Send` lets a runner's future be proven `Send` where it
    // is spawned; with `async fn` the compiler cannot prove it there.
    #[expect(clippy::manual_async_fn, reason = "the explicit `Send` bound is the point")]
    pub fn catch_up<'a>(
        &'a mut self,
        mut on_page: impl FnMut(u64) + Send + 'a,
    ) -> impl Future<Output = Result<u64, ProjectionError>> + Send + 'a {
        async move {
            let (size, mut read) = (self.options.page_size, 0);
            let first = self.source.read(self.cursor.checkpoint, size, self.categories.clone());
            let mut page = first.await.map_err(|e| self.store_error(e))?;
            loop {
                // The page's events are those read and not handled yet.
                telemetry::lag(&self.cursor.name, page.events.len(), page.events.first().map(|e| e.recorded_at));
                let reached = page.events.last().map_or(page.through, |e| e.position.max(page.through));
                if reached <= self.cursor.checkpoint {
                    return Ok(read);
                }
                // The next page is read while this one is handled: where it
                // starts does not depend on how this one goes.
                let next = self.source.read(reached, size, self.categories.clone());
                let span = info_span!(
                    "project",
                    projection = %self.cursor.name,
                    events = page.events.len(),
                    checkpoint = Empty
                );
                let next = async {
                    let (handled, next) = futures_util::future::join(self.handle_page(&page.events), next).await;
                    handled?;
                    if reached > self.cursor.checkpoint {
                        // Events of other aggregate types follow the last one read.
                        self.commit_events(&[], reached).await?.map_err(|failed| self.unexpected(failed.source))?;
                    }
                    Ok::<_, ProjectionError>(next)
                }
                .instrument(span.clone())
                .await?;
                span.record("checkpoint", display(self.cursor.checkpoint));
                read += page.events.len() as u64;
                on_page(read);
                page = next.map_err(|e| self.store_error(e))?;
            }
        }
    }

    /// Empties the read model, moves the checkpoint to the start and
    /// replays every event, reporting progress after each page.
    // The declared `Send` lets a runner's future be proven `Send` where it
    // is spawned; with `async fn` the compiler cannot prove it there.
    #[expect(clippy::manual_async_fn, reason = "the explicit `Send` bound is the point")]
    pub fn rebuild<'a>(
        &'a mut self,
        mut progress: impl FnMut(Progress) + Send + 'a,
    ) -> impl Future<Output = Result<u64, ProjectionError>> + Send + 'a {
        async move {
            let total = self.count().await?;
            self.rewind(true).await?;
            let started = Instant::now();
            self.catch_up(|done| progress(Progress::since(started, done, total))).await
        }
    }

    /// The number of events the projection reads, for progress reports.
    pub fn count(&self) -> impl Future<Output = Result<u64, ProjectionError>> + Send + '_ {
        let name = self.cursor.name.clone();
        self.source.count(&self.categories).map_err(move |e| ProjectionError::store(&name, e))
    }

    /// Sets the read model up ([`Sink::setup`]) in a unit of its own.
    // The declared `Send` lets a runner's future be proven `Send` where it
    // is spawned; with `async fn` the compiler cannot prove it there.
    #[expect(clippy::manual_async_fn, reason = "the explicit `Send` bound is the point")]
    pub fn set_up(&mut self) -> impl Future<Output = Result<(), ProjectionError>> + Send + '_ {
        async move {
            let mut unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
            self.cursor.set_up::<K>(&mut self.projection, &mut unit).await?;
            K::commit(unit, None).await.map_err(|e| self.cursor.store_error(e))?;
            Ok(())
        }
    }

    /// Moves the checkpoint back to the start and forgets the parked
    /// events, in one unit; with `reset_read_model`, the read model is
    /// emptied and set up again in the same unit.
    // The declared `Send` lets a runner's future be proven `Send` where it
    // is spawned; with `async fn` the compiler cannot prove it there.
    #[expect(clippy::manual_async_fn, reason = "the explicit `Send` bound is the point")]
    pub fn rewind(&mut self, reset_read_model: bool) -> impl Future<Output = Result<(), ProjectionError>> + Send + '_ {
        async move {
            let mut unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
            if reset_read_model {
                if let Err(source) = K::reset(&mut self.projection, &mut unit).await {
                    return Err(ProjectionError::Reset { projection: self.cursor.name.clone(), source });
                }
                self.cursor.set_up::<K>(&mut self.projection, &mut unit).await?;
            }
            K::forget_parked(&mut unit).await.map_err(|e| self.cursor.store_error(e))?;
            self.held = None;
            self.cursor.commit::<K>(unit, Position::START).await
        }
    }

    /// Hands parked event `id` to the projection once more, in a unit of
    /// its own that also takes it out of the parked events: on success it
    /// has been handled exactly once. On failure it stays parked, with the
    /// new error. The parked events of its stream before it (those not
    /// discarded) go first, oldest first, each in its own unit, so that a
    /// stream's events are never handled out of order by a retry: a
    /// failure leaves the failing event and those after it parked. Discard
    /// an earlier event that is not to be handled.
    // The declared `Send` lets a runner's future be proven `Send` where it
    // is spawned; with `async fn` the compiler cannot prove it there.
    #[expect(clippy::manual_async_fn, reason = "the explicit `Send` bound is the point")]
    pub fn retry_parked(&mut self, id: u64) -> impl Future<Output = Result<(), ProjectionError>> + Send + '_ {
        async move {
            let parked = self.sink.parked(0, usize::MAX).await.map_err(|e| self.store_error(e))?;
            let Some(target) = parked.iter().find(|p| p.id == id) else {
                return Err(ProjectionError::NotParked { projection: self.cursor.name.clone(), id });
            };
            let stream = target.stream_id.clone();
            let before = |p: &&ParkedEvent| p.stream_id == stream && p.id < id && p.discarded.is_none();
            let due = parked.iter().filter(|p| p.id == id || before(p));
            for parked in due {
                self.retry_one(parked).await?;
            }
            // Read again at the next page: the stream may be free.
            self.held = None;
            Ok(())
        }
    }

    /// Hands `parked` to the projection in a unit that also takes it out of
    /// the parked events.
    async fn retry_one(&mut self, parked: &ParkedEvent) -> Result<(), ProjectionError> {
        let id = parked.id;
        let recorded = self
            .source
            .read_event(&parked.stream_id, parked.version)
            .await
            .map_err(|e| self.store_error(e))?
            .ok_or_else(|| {
                self.store_error(StoreError::Corrupt {
                    stream_id: parked.stream_id.clone(),
                    version: parked.version,
                    cause: format!("parked event {id} of projection `{}` is not in the store", self.cursor.name),
                })
            })?;
        let event = match classify::<K::Event>(&recorded) {
            Item::Handle(event) => Some(event),
            Item::Skip => None,
            Item::Poison(source) => return Err(ProjectionError::decode(&self.cursor.name, &recorded, source)),
        };
        let mut unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
        if !K::unpark(&mut unit, id).await.map_err(|e| self.cursor.store_error(e))? {
            return Err(ProjectionError::NotParked { projection: self.cursor.name.clone(), id });
        }
        if let Some(event) = &event {
            let envelopes = [Envelope { event, recorded: &recorded }];
            let handled = hand_over::<K>(&mut self.projection, &self.cursor, &unit, &envelopes).await?;
            if let Err(Failed { source, .. }) = handled {
                drop(unit);
                let error = ProjectionError::handler(&self.cursor.name, &recorded, parked.attempts + 1, source);
                let noted = self.sink.note_failed_retry(id, report_source(&error)).await;
                noted.map_err(|e| self.store_error(e))?;
                return Err(error);
            }
        }
        K::commit(unit, None).await.map_err(|e| self.cursor.store_error(e))?;
        telemetry::projected(&self.cursor.name, usize::from(event.is_some()));
        Ok(())
    }

    /// Handles one page: runs of events separated by poison events and by
    /// events of held streams, each run committed in as few units as
    /// possible.
    async fn handle_page(&mut self, page: &[RecordedEvent]) -> Result<(), ProjectionError> {
        self.read_held().await?;
        let mut items: Vec<Item<K::Event>> = page.iter().map(classify).collect();
        let mut start = 0;
        while start < page.len() {
            let end = (start..page.len()).find(|&i| self.stands_apart(&page[i], &items[i])).unwrap_or(page.len());
            if end > start {
                start += self.handle_run(&page[start..end], &items[start..end]).await?;
                continue;
            }
            let item = std::mem::replace(&mut items[start], Item::Skip);
            match item {
                _ if self.holds(&page[start].stream_id) => self.park_behind(&page[start]).await?,
                Item::Poison(error) => self.poison(&page[start], Failure::Decode(error)).await?,
                Item::Handle(_) | Item::Skip => unreachable!("a run ends at a poison event or a held stream's"),
            }
            start += 1;
        }
        Ok(())
    }

    /// Whether `recorded` ends a run: it does not decode, or its stream is
    /// held back (and the projection reads it).
    fn stands_apart(&self, recorded: &RecordedEvent, item: &Item<K::Event>) -> bool {
        match item {
            Item::Poison(_) => true,
            Item::Handle(_) => self.holds(&recorded.stream_id),
            Item::Skip => false,
        }
    }

    /// Whether `stream` is held back.
    fn holds(&self, stream: &str) -> bool {
        self.held.as_ref().is_some_and(|held| held.holds(stream))
    }

    /// Reads the held streams from the sink under
    /// [`PoisonPolicy::ParkStream`]: after taking over, and before each
    /// page while any stream is held (a retry beside this runner may have
    /// freed it).
    async fn read_held(&mut self) -> Result<(), ProjectionError> {
        let known_free = self.held.as_ref().is_some_and(|held| held.len() == 0);
        if self.options.poison != PoisonPolicy::ParkStream || known_free {
            return Ok(());
        }
        let parked = self.sink.parked(0, usize::MAX).await.map_err(|e| self.store_error(e))?;
        let held = HeldStreams::of(&parked);
        telemetry::parked_streams(&self.cursor.name, held.len());
        self.held = Some(held);
        Ok(())
    }

    /// Commits a run of decodable events in one unit. When the projection
    /// fails on it, finds the failing event (handing the events over one at
    /// a time if the sink cannot tell), commits those before it, and
    /// retries it alone. Returns how many events of the run it handled: all
    /// of them, or up to an event it parked that now holds its stream back
    /// (the stream's later events must park behind it).
    async fn handle_run(&mut self, run: &[RecordedEvent], items: &[Item<K::Event>]) -> Result<usize, ProjectionError> {
        let mut start = 0;
        while start < run.len() {
            let (records, items) = (&run[start..], &items[start..]);
            let (envelopes, at) = envelopes(records, items);
            let last = records[records.len() - 1].position;
            let Err(failed) = self.commit_events(&envelopes, last).await? else { return Ok(run.len()) };
            let (index, source) = match failed.index {
                Some(index) => (index, failed.source),
                None => match self.find_failing(&envelopes, last).await? {
                    Some(found) => found,
                    // It went through one at a time: the failure has passed.
                    None => return Ok(run.len()),
                },
            };
            let failing = at[index];
            warn!(
                stream = %records[failing].stream_id,
                version = records[failing].version,
                position = %records[failing].position,
                correlation_id = records[failing].metadata.correlation_id.as_deref(),
                error = %report(source.as_ref()),
                "the projection failed on an event; retrying it alone"
            );
            if failing > 0 {
                // A sink that is not atomic kept the events before it.
                let before = if K::ATOMIC { &envelopes[..index] } else { &[] };
                if self.commit_events(before, records[failing - 1].position).await?.is_err() {
                    continue;
                }
                if !K::ATOMIC {
                    telemetry::projected(&self.cursor.name, index);
                }
            }
            self.retry_alone(&records[failing], envelopes[index].event, source).await?;
            start += failing + 1;
            if self.holds(&records[failing].stream_id) {
                return Ok(start);
            }
        }
        Ok(run.len())
    }

    /// Hands the events over one at a time in one unit; the index and error
    /// of the first that fails, or `None` when none did and all committed
    /// up to `last`.
    async fn find_failing(
        &mut self,
        envelopes: &[Envelope<'_, K::Event>],
        last: Position,
    ) -> Result<Option<(usize, BoxError)>, ProjectionError> {
        let unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
        for (index, envelope) in envelopes.iter().enumerate() {
            let single = [Envelope { event: envelope.event, recorded: envelope.recorded }];
            if let Err(Failed { source, .. }) =
                hand_over::<K>(&mut self.projection, &self.cursor, &unit, &single).await?
            {
                return Ok(Some((index, source)));
            }
        }
        self.cursor.commit::<K>(unit, last).await?;
        telemetry::projected(&self.cursor.name, envelopes.len());
        Ok(None)
    }

    /// Retries an event that failed once, alone, with backoff, until it
    /// commits or the retry policy is spent; then applies the poison policy.
    async fn retry_alone(
        &mut self,
        recorded: &RecordedEvent,
        event: &K::Event,
        first: BoxError,
    ) -> Result<(), ProjectionError> {
        let (mut failures, mut last) = (1, first);
        while failures < self.options.retry.attempts() {
            tokio::time::sleep(self.options.retry.backoff(failures)).await;
            match self.commit_events(&[Envelope { event, recorded }], recorded.position).await? {
                Ok(()) => return Ok(()),
                Err(failed) => (failures, last) = (failures + 1, failed.source),
            }
        }
        self.poison(recorded, Failure::Handler { attempts: failures, source: last }).await
    }

    /// Applies the poison policy to an event that cannot be handled.
    async fn poison(&mut self, recorded: &RecordedEvent, failure: Failure) -> Result<(), ProjectionError> {
        let error = match failure {
            Failure::Decode(source) => ProjectionError::decode(&self.cursor.name, recorded, source),
            Failure::Handler { attempts, source } => {
                ProjectionError::handler(&self.cursor.name, recorded, attempts, source)
            }
        };
        let (stream, version, position) = (&recorded.stream_id, recorded.version, &recorded.position);
        let correlation_id = recorded.metadata.correlation_id.as_deref();
        if self.options.poison == PoisonPolicy::Stop {
            error!(%stream, version, %position, correlation_id, error = %report(&error), "the projection stops on an event it cannot handle");
            return Err(error);
        }
        let attempts = match &error {
            ProjectionError::Handler { attempts, .. } => *attempts,
            _ => 0,
        };
        self.park(recorded, report_source(&error), attempts).await?;
        warn!(%stream, version, %position, correlation_id, error = %report(&error), "the projection parked an event it cannot handle");
        Ok(())
    }

    /// Parks an event of a held stream behind the stream's first parked
    /// event.
    async fn park_behind(&mut self, recorded: &RecordedEvent) -> Result<(), ProjectionError> {
        let (stream, version) = (&recorded.stream_id, recorded.version);
        let first = self.held.as_ref().and_then(|held| held.first(stream)).unwrap_or(version);
        let error = format!(
            "parked behind event {first} of stream `{stream}`, which the projection could not handle: \
             retrying this event retries those before it, in order"
        );
        self.park(recorded, error, 0).await?;
        warn!(%stream, version, first, "the projection parked an event behind its stream's parked event");
        Ok(())
    }

    /// Parks `recorded` with `error` in the unit that moves the checkpoint
    /// past it; a held stream's count grows, within the options' limits.
    async fn park(&mut self, recorded: &RecordedEvent, error: String, attempts: u32) -> Result<(), ProjectionError> {
        let (stream, version) = (recorded.stream_id.as_str(), recorded.version);
        let held = match self.options.poison {
            PoisonPolicy::ParkStream => self.held.as_ref(),
            PoisonPolicy::Park | PoisonPolicy::Stop => None,
        };
        if let Some(held) = held {
            if let Err(limit) = held.admit(&self.cursor.name, (stream, version), self.options.park_limits) {
                error!(%stream, version, error = %report(&limit), "the projection stops: too much is parked");
                return Err(limit);
            }
        }
        let mut unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
        K::park(&mut unit, recorded, error, attempts).await.map_err(|e| self.cursor.store_error(e))?;
        self.cursor.commit::<K>(unit, recorded.position).await?;
        telemetry::parked(&self.cursor.name);
        if self.options.poison == PoisonPolicy::ParkStream {
            let held = self.held.get_or_insert_with(HeldStreams::default);
            held.add(stream, version);
            telemetry::parked_streams(&self.cursor.name, held.len());
        }
        Ok(())
    }

    /// Hands `events` over and moves the checkpoint to `to` in one unit.
    /// The inner error is the projection's: the unit was rolled back.
    async fn commit_events(
        &mut self,
        events: &[Envelope<'_, K::Event>],
        to: Position,
    ) -> Result<Result<(), Failed>, ProjectionError> {
        let unit = self.sink.begin().await.map_err(|e| self.cursor.store_error(e))?;
        if !events.is_empty() {
            if let Err(failed) = hand_over::<K>(&mut self.projection, &self.cursor, &unit, events).await? {
                return Ok(Err(failed));
            }
        }
        self.cursor.commit::<K>(unit, to).await?;
        telemetry::projected(&self.cursor.name, events.len());
        Ok(Ok(()))
    }

    /// A projection error where no event is involved (a commit with no
    /// events cannot fail in the projection).
    fn unexpected(&self, source: BoxError) -> ProjectionError {
        self.store_error(StoreError::Backend(source))
    }
}

/// Hands `events` to the projection inside `unit`. Its failure is the
/// inner error; a failure that is an outage of the sink is the outer
/// one, a store error.
async fn hand_over<K: Sink>(
    projection: &mut K::Projection,
    cursor: &Cursor,
    unit: &K::Unit<'_>,
    events: &[Envelope<'_, K::Event>],
) -> Result<Result<(), Failed>, ProjectionError> {
    match call(None, K::handle(projection, unit, events)).await {
        Err(failed) if K::is_outage(&failed.source) => Err(cursor.store_error(StoreError::Unavailable(failed.source))),
        handled => Ok(handled),
    }
}

/// Decodes an event for a projection reading `E`.
///
/// An event of a type `E` does not read is skipped only when some event
/// type of the program knows its name; an event no code knows is poison,
/// like one that does not decode.
fn classify<E: Event>(recorded: &RecordedEvent) -> Item<E> {
    let event = &recorded.event;
    match E::decode(&event.name, event.schema_version, &event.payload) {
        Ok(decoded) => Item::Handle(decoded),
        Err(DecodeError::UnknownEvent { .. }) if registry::is_registered(&event.name) => Item::Skip,
        Err(error) => Item::Poison(error),
    }
}

/// The envelopes of the events to hand over among `records`, and the index
/// in `records` of each.
fn envelopes<'a, E>(records: &'a [RecordedEvent], items: &'a [Item<E>]) -> (Vec<Envelope<'a, E>>, Vec<usize>) {
    records
        .iter()
        .zip(items)
        .enumerate()
        .filter_map(|(index, (recorded, item))| match item {
            Item::Handle(event) => Some((Envelope { event, recorded }, index)),
            Item::Skip | Item::Poison(_) => None,
        })
        .unzip()
}

/// Runs a projection's future, turning a panic into its error, reported at
/// `index`.
pub(crate) async fn call(index: Option<usize>, future: impl Future<Output = Result<(), Failed>>) -> Result<(), Failed> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(Failed { index, source: format!("the handler panicked: {message}").into() })
        }
    }
}

/// An error and its causes, on one line.
fn report(error: &(dyn std::error::Error + 'static)) -> String {
    ErrorReport::new(error).to_string()
}

/// The cause of a projection error (without the projection's own words),
/// with its causes: what a parked event records.
fn report_source(error: &ProjectionError) -> String {
    match std::error::Error::source(error) {
        Some(source) => report(source),
        None => error.to_string(),
    }
}
