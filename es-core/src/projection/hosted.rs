//! [`Hosted`]: the runner loop every store's projection runner shares
//! around the [`Engine`]: taking the projection over, catching up,
//! following with backoff through outages, standing by while another
//! runner holds it, recording stops where other processes see them, and
//! the operator's view of parked events. A backend says how it takes a
//! projection over and where it records a stop, as a [`Host`].

use std::future::Future;
use std::time::{Duration, SystemTime};

use futures_util::future::Either;
use tracing::{error, warn};

use crate::Position;
use crate::admin::{AdminError, ProjectionAdmin};
use crate::error::StoreError;
use crate::projection::checkpoint::CheckpointState;
use crate::projection::engine::{Engine, Sink, Source};
use crate::projection::{ParkedEvent, Progress, ProjectionError, RunnerState, WaitError};
use crate::report::ErrorReport;

/// What a backend's runner does around the engine.
pub trait Host<S: Source, K: Sink>: Send {
    /// Takes the projection over: sets its read model up and loads its
    /// checkpoint into `engine` ([`Engine::resume_at`]), clearing the error
    /// it last stopped on. `Ok(false)` while another runner holds it.
    fn take_over(&mut self, engine: &mut Engine<S, K>) -> impl Future<Output = Result<bool, ProjectionError>> + Send;

    /// Lets the projection go (its lock, if the backend elects runners).
    fn release(&mut self) {}

    /// Whether the runner still holds the projection it took over; `false`
    /// makes the next run take it over again.
    fn holds(&mut self) -> impl Future<Output = bool> + Send {
        async { true }
    }

    /// Records that projection `name` stopped on `error` where every process
    /// sees it; the checkpoint's revision after it, `None` when it could
    /// not be recorded.
    fn record_stop(&self, name: &str, error: &str) -> impl Future<Output = Option<u64>> + Send;

    /// Waits up to `poll` for new events before the next catch-up (a
    /// backend woken by its own commits resolves sooner).
    fn idle(&self, poll: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(poll)
    }

    /// Where operators read and discard the projection's parked events.
    fn admin(&self) -> &dyn ProjectionAdmin;
}

/// An [`Engine`] run by a [`Host`].
#[derive(Debug)]
pub struct Hosted<S: Source, K: Sink, H> {
    engine: Engine<S, K>,
    host: H,
    /// Whether the projection was taken over since it last stopped.
    held: bool,
}

impl<S: Source, K: Sink, H: Host<S, K>> Hosted<S, K, H> {
    /// `engine` run by `host`.
    pub fn new(engine: Engine<S, K>, host: H) -> Self {
        Hosted { engine, host, held: false }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<S, K> {
        &self.engine
    }

    /// The engine, to change it.
    pub fn engine_mut(&mut self) -> &mut Engine<S, K> {
        &mut self.engine
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The host, to change it.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// Takes the projection over afresh (failing with
    /// [`ProjectionError::Busy`] while another runner holds it), handles
    /// every event after its checkpoint, lets it go, and returns how many
    /// events were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let caught_up = match self.take_over().await {
            Ok(()) => self.engine.catch_up(|_| {}).await,
            Err(error) => Err(error),
        };
        self.let_go();
        self.settle(caught_up).await
    }

    /// Empties the read model, moves the checkpoint to the start and
    /// replays every event, reporting progress after each page.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        let rebuilt = match self.take_over().await {
            Ok(()) => self.engine.rebuild(progress).await,
            Err(error) => Err(error),
        };
        self.let_go();
        self.settle(rebuilt).await
    }

    /// Takes the projection over (standing by while another runner holds
    /// it), then catches up and follows new events until `stop` resolves.
    /// An outage is waited out with the options' backoff; when another
    /// runner moved the checkpoint, the projection is taken over again;
    /// what retrying cannot fix (a poison event under
    /// [`PoisonPolicy::Stop`](crate::projection::PoisonPolicy::Stop)) ends
    /// it.
    pub async fn run(&mut self, stop: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        let mut outage: Option<(SystemTime, u32)> = None;
        loop {
            let worked = match self.hold().await {
                Ok(true) => self.engine.catch_up(|_| {}).await.map(|_| true),
                other => other,
            };
            let pause = match self.settle(worked).await {
                Ok(held) => {
                    outage = None;
                    self.engine.set_state(if held { RunnerState::Running } else { RunnerState::StandingBy });
                    None
                }
                // Another runner moved the checkpoint: take it over again.
                Err(ProjectionError::Busy { .. }) => {
                    self.let_go();
                    continue;
                }
                Err(error @ ProjectionError::Store { source: StoreError::Unavailable(_), .. }) => {
                    self.let_go();
                    let (since, attempts) = outage.map_or((SystemTime::now(), 1), |(since, n)| (since, n + 1));
                    outage = Some((since, attempts));
                    warn!(projection = self.engine.name(), attempts, error = %ErrorReport::new(&error), "the projection runner waits for its database");
                    self.engine.set_failed(RunnerState::Reconnecting { since, attempts }, &error);
                    Some(self.engine.options().reconnect.pause(attempts))
                }
                Err(error) => {
                    self.let_go();
                    error!(projection = self.engine.name(), error = %ErrorReport::new(&error), "the projection runner stops");
                    self.engine.set_failed(RunnerState::Stopped, &error);
                    return Err(error);
                }
            };
            let poll = self.engine.options().poll_interval;
            let waited = async {
                match pause {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => self.host.idle(poll).await,
                }
            };
            let stopped =
                matches!(futures_util::future::select(std::pin::pin!(waited), stop.as_mut()).await, Either::Right(_));
            if stopped {
                self.let_go();
                self.engine.set_state(RunnerState::Idle);
                return Ok(());
            }
        }
    }

    /// The projection's parked events, oldest first, discarded ones
    /// included.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        let parked = self.host.admin().parked(self.engine.name(), 0, usize::MAX).await;
        parked.map_err(|e| self.admin_error(e))
    }

    /// Marks parked event `id` as discarded, with the reason.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let discarded = self.host.admin().discard_parked(self.engine.name(), id, reason).await;
        discarded.map_err(|e| self.admin_error(e))
    }

    fn admin_error(&self, error: AdminError) -> ProjectionError {
        match error {
            AdminError::NotParked { projection, id } => ProjectionError::NotParked { projection, id },
            AdminError::Store(e) => self.engine.store_error(e),
            other => self.engine.store_error(StoreError::Backend(Box::new(other))),
        }
    }

    /// Holds the projection for `run`: `true` once taken over, `false`
    /// while another runner holds it.
    async fn hold(&mut self) -> Result<bool, ProjectionError> {
        if self.held && !self.host.holds().await {
            self.let_go();
        }
        match self.take_over().await {
            Ok(()) => Ok(true),
            Err(ProjectionError::Busy { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Takes the projection over unless it was since it last stopped.
    async fn take_over(&mut self) -> Result<(), ProjectionError> {
        if self.held {
            return Ok(());
        }
        if !self.host.take_over(&mut self.engine).await? {
            return Err(ProjectionError::Busy { projection: self.engine.name().to_owned() });
        }
        self.held = true;
        Ok(())
    }

    fn let_go(&mut self) {
        self.host.release();
        self.held = false;
    }

    /// After a run: an event that stopped the projection is recorded where
    /// other processes see it, and the next run takes it over again.
    async fn settle<T>(&mut self, outcome: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        let Err(error) = &outcome else { return outcome };
        self.held = false;
        if error.stops() {
            let text = ErrorReport::new(error).to_string();
            let revision = self.host.record_stop(self.engine.name(), &text).await;
            self.engine.publish_stop(error, revision);
        }
        outcome
    }
}

/// Waits until `read` (the projection's checkpoint as a target stores it)
/// shows `position` committed, calling `pause` between reads: for targets
/// that other processes' runners commit to, which waiters poll. Fails with
/// [`WaitError::Stopped`] as soon as the projection stopped on an error
/// before it, with [`WaitError::Timeout`] after `timeout`.
pub async fn poll_checkpoint<R, P>(
    projection: &str,
    position: Position,
    timeout: Duration,
    mut read: impl FnMut() -> R,
    mut pause: impl FnMut(Duration) -> P,
) -> Result<(), WaitError>
where
    R: Future<Output = Option<CheckpointState>>,
    P: Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut reached = Position::START;
    loop {
        if let Some(state) = read().await {
            reached = state.position;
            if state.position >= position {
                return Ok(());
            }
            if let Some(error) = state.stopped {
                return Err(WaitError::Stopped { projection: projection.to_owned(), wanted: position, reached, error });
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(WaitError::Timeout { projection: projection.to_owned(), wanted: position, reached, timeout });
        }
        pause(deadline - now).await;
    }
}

/// Whether `error` or one of its causes is an `E` for which `outage` says
/// so: how a sink tells a lost connection from a failure of the projection.
pub fn caused_by<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
    outage: impl Fn(&E) -> bool,
) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<E>().is_some_and(&outage) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The methods every runner built on [`Hosted`] offers its users, for the
/// runner's `impl` block: the runner keeps its [`Hosted`] in a field named
/// `hosted`, and `$wait` names the target's wait for other processes (such
/// as `SqliteTarget::wait_for_projection`).
#[macro_export]
macro_rules! hosted_runner_methods {
    ($wait:literal) => {
        /// Sets how the runner reads, retries, polls and treats poison
        /// events; a page of events is also what one unit of the target
        /// commits.
        pub fn with_options(mut self, options: $crate::projection::RunnerOptions) -> Self {
            self.hosted.engine_mut().set_options(options);
            self
        }

        /// The last checkpoint this runner committed or read.
        pub fn checkpoint(&self) -> $crate::Position {
            self.hosted.engine().checkpoint()
        }

        #[doc = concat!(
            "A handle that waits until this runner has committed a position; from another runner or process, use [`",
            $wait,
            "`]."
        )]
        pub fn waiter(&self) -> $crate::projection::CheckpointWaiter {
            self.hosted.engine().watch().waiter()
        }

        /// A handle to read what the runner is doing while it runs.
        pub fn health(&self) -> $crate::projection::Health {
            self.hosted.engine().health()
        }

        /// Takes the projection over as the target stores it (failing with
        /// [`ProjectionError::Busy`](es_core::ProjectionError::Busy) while
        /// another runner holds it), handles every event after its
        /// checkpoint, lets it go, and returns how many events were read.
        pub async fn catch_up(&mut self) -> Result<u64, $crate::ProjectionError> {
            self.hosted.catch_up().await
        }

        /// Takes the projection over (standing by while another runner
        /// holds it), then catches up and follows new events until `stop`
        /// resolves. An outage of the target is waited out with the
        /// options' backoff; a page another runner committed first makes it
        /// take the projection over again; what retrying cannot fix (a
        /// poison event under
        /// [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop))
        /// ends it.
        pub async fn run(
            &mut self,
            stop: impl ::core::future::Future<Output = ()> + Send,
        ) -> Result<(), $crate::ProjectionError> {
            self.hosted.run(stop).await
        }

        /// Empties the read model, moves the checkpoint to the start and
        /// replays every event, reporting progress after each page.
        pub async fn rebuild(
            &mut self,
            progress: impl FnMut($crate::projection::Progress) + Send,
        ) -> Result<u64, $crate::ProjectionError> {
            self.hosted.rebuild(progress).await
        }

        /// The events this projection parked, oldest first.
        pub async fn parked(&self) -> Result<Vec<$crate::projection::ParkedEvent>, $crate::ProjectionError> {
            self.hosted.parked().await
        }

        /// Hands parked event `id` to the projection once more (after the
        /// earlier parked events of its stream), in a unit of the target
        /// that also takes it out of the parked events.
        pub async fn retry_parked(&mut self, id: u64) -> Result<(), $crate::ProjectionError> {
            self.hosted.engine_mut().retry_parked(id).await
        }

        /// Marks parked event `id` as discarded, with the reason.
        pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), $crate::ProjectionError> {
            self.hosted.discard_parked(id, reason).await
        }
    };
}
