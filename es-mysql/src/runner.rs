//! [`MySqlProjectionRunner`]: one projection's runner, reading any store
//! and committing in a MariaDB or MySQL database.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use es_core::backend::Engine;
use es_core::projection::{
    CheckpointWaiter, Health, ParkedEvent, Progress, ProjectionError, RunnerOptions, RunnerState,
};
use es_core::{ErrorReport, EventStore, Position, StoreError};
use futures_util::future::Either;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tracing::{error, warn};

use crate::error::{Error, caused_by_outage};
use crate::projection::MySqlProjection;
use crate::sink::MySqlSink;
use crate::statements;
use crate::target::{MySqlTarget, Refused, refuse_non_transactional};

/// Runs a [`MySqlProjection`]: reads the events of `store` (any
/// [`EventStore`]) from the projection's checkpoint in pages, hands them
/// over, and commits each page with the checkpoint in one transaction of
/// the target database; then follows new events, polling.
///
/// One runner of a projection works at a time: it holds a lock of the
/// server (`GET_LOCK`) on a connection of its own, and the others stand
/// by until that connection ends. Exactly-once does not rest on the lock:
/// each page commits only by a compare-and-set of the checkpoint in its
/// transaction, so two runners working at once (see
/// [`without_election`](Self::without_election)) still apply each page
/// once.
///
/// ```no_run
/// # use es_core::{BoxError, RecordedEvent, Event};
/// # use es_mysql::{MySqlProjection, MySqlTransaction};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
/// # struct Balances;
/// # impl MySqlProjection for Balances {
/// #     type Event = Deposited;
/// #     fn name(&self) -> &str { "balances" }
/// #     async fn handle(&mut self, _: &mut MySqlTransaction<'_>, _: &Deposited, _: &RecordedEvent) -> Result<(), BoxError> { Ok(()) }
/// #     async fn reset(&mut self, _: &mut MySqlTransaction<'_>) -> Result<(), BoxError> { Ok(()) }
/// # }
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let store = es_postgres::PgEventStore::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
/// let target = es_mysql::MySqlTarget::connect("mysql://root@127.0.0.1:3306/read_models").await?;
/// let mut runner = es_mysql::MySqlProjectionRunner::new(store, target, Balances);
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop);
/// runner.run(async { stopped.await.unwrap_or_default() }).await?; // until `stop` is sent or dropped
/// # Ok(()) }
/// ```
pub struct MySqlProjectionRunner<P: MySqlProjection, S: EventStore + 'static> {
    engine: Engine<Arc<S>, MySqlSink<P>>,
    target: MySqlTarget,
    /// Whether runners of the projection elect one (the default).
    elect: bool,
    /// The connection holding the projection's lock, while it is held.
    lease: Option<Conn>,
    /// Whether this runner took the checkpoint over and set the read model
    /// up since it last stopped.
    resumed: bool,
}

impl<P: MySqlProjection, S: EventStore + 'static> std::fmt::Debug for MySqlProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlProjectionRunner")
            .field("engine", &self.engine)
            .field("holds_lock", &self.lease.is_some())
            .finish_non_exhaustive()
    }
}

impl<P: MySqlProjection, S: EventStore + 'static> MySqlProjectionRunner<P, S> {
    /// A runner that reads `store` and keeps `projection`'s read model,
    /// checkpoint and parked events in `target`.
    pub fn new(store: S, target: MySqlTarget, projection: P) -> Self {
        let name = projection.name().to_owned();
        let types = projection.aggregate_types();
        let sink =
            MySqlSink { target: target.clone(), name: name.clone(), idle: Default::default(), projection: PhantomData };
        let watch = es_core::backend::CheckpointWatch::new(&name);
        MySqlProjectionRunner {
            engine: Engine::new(Arc::new(store), sink, projection, name, types, watch),
            target,
            elect: true,
            lease: None,
            resumed: false,
        }
    }

    /// Works without taking the projection's lock, beside any other
    /// runner: every page still commits once, by the checkpoint's
    /// compare-and-set, but runners working at once waste each other's
    /// work.
    pub fn without_election(mut self) -> Self {
        self.elect = false;
        self
    }

    /// Sets how the runner reads, retries, polls and treats poison events;
    /// a page of events is also what one transaction commits.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.engine.set_options(options);
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        self.engine.projection()
    }

    /// The last checkpoint this runner committed or read.
    pub fn checkpoint(&self) -> Position {
        self.engine.checkpoint()
    }

    /// A handle that waits until this runner has committed a position; from
    /// another runner or process, use [`MySqlTarget::wait_for_projection`].
    pub fn waiter(&self) -> CheckpointWaiter {
        self.engine.watch().waiter()
    }

    /// A handle to read what the runner is doing while it runs.
    pub fn health(&self) -> Health {
        self.engine.health()
    }

    /// Takes the projection's lock (failing with
    /// [`ProjectionError::Busy`] while another runner holds it) and the
    /// checkpoint as the target stores it, handles every event after it,
    /// releases the lock, and returns how many events were read.
    pub async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let caught_up = self.take_over().await;
        let caught_up = match caught_up {
            Ok(()) => self.engine.catch_up(|_| {}).await,
            Err(error) => Err(error),
        };
        self.release();
        self.settle(caught_up).await
    }

    /// Waits for the projection's lock (standing by while another runner
    /// holds it), then catches up and follows new events until `stop`
    /// resolves. A lost connection, a deadlock or a lock wait timeout is
    /// waited out with backoff, the lock taken again; what retrying cannot
    /// fix (a poison event under
    /// [`PoisonPolicy::Stop`](es_core::projection::PoisonPolicy::Stop)) ends
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
                    self.engine.options().poll_interval
                }
                // Another runner moved the checkpoint: take it over again.
                Err(ProjectionError::Busy { .. }) => {
                    self.release();
                    continue;
                }
                Err(error @ ProjectionError::Store { source: StoreError::Unavailable(_), .. }) => {
                    self.release();
                    let (since, attempts) = outage.map_or((SystemTime::now(), 1), |(since, n)| (since, n + 1));
                    outage = Some((since, attempts));
                    warn!(projection = self.engine.name(), attempts, error = %ErrorReport::new(&error), "the projection runner waits for the database");
                    self.engine.set_failed(RunnerState::Reconnecting { since, attempts }, &error);
                    self.engine.options().reconnect.pause(attempts)
                }
                Err(error) => {
                    self.release();
                    error!(projection = self.engine.name(), error = %ErrorReport::new(&error), "the projection runner stops");
                    self.engine.set_failed(RunnerState::Stopped, &error);
                    return Err(error);
                }
            };
            if let Either::Right(_) =
                futures_util::future::select(std::pin::pin!(tokio::time::sleep(pause)), stop.as_mut()).await
            {
                self.release();
                self.engine.set_state(RunnerState::Idle);
                return Ok(());
            }
        }
    }

    /// Empties the read model, moves the checkpoint to the start and
    /// replays every event, reporting progress after each page.
    pub async fn rebuild(&mut self, progress: impl FnMut(Progress) + Send) -> Result<u64, ProjectionError> {
        let rebuilt = match self.take_over().await {
            Ok(()) => self.engine.rebuild(progress).await,
            Err(error) => Err(error),
        };
        self.release();
        self.settle(rebuilt).await
    }

    /// The events this projection parked, oldest first.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        self.target.parked_events(self.engine.name()).await.map_err(|e| self.engine.store_error(e))
    }

    /// Hands parked event `id` to the projection once more, in a
    /// transaction that also takes it out of the parked events.
    pub async fn retry_parked(&mut self, id: u64) -> Result<(), ProjectionError> {
        self.engine.retry_parked(id).await
    }

    /// Marks parked event `id` as discarded, with the reason.
    pub async fn discard_parked(&self, id: u64, reason: &str) -> Result<(), ProjectionError> {
        use es_core::admin::{AdminError, ProjectionAdmin};
        match self.target.discard_parked(self.engine.name(), id, reason).await {
            Ok(()) => Ok(()),
            Err(AdminError::NotParked { projection, id }) => Err(ProjectionError::NotParked { projection, id }),
            Err(AdminError::Store(e)) => Err(self.engine.store_error(e)),
            Err(other) => Err(self.engine.store_error(StoreError::Backend(Box::new(other)))),
        }
    }

    /// Holds the projection for `run`: `true` once this runner holds its
    /// lock (or needs none) and has taken the checkpoint over, `false`
    /// while another runner holds it.
    async fn hold(&mut self) -> Result<bool, ProjectionError> {
        if let Some(lease) = &mut self.lease {
            // A session's lock lasts as long as the session.
            if lease.ping().await.is_err() {
                self.release();
            }
        }
        match self.take_over().await {
            Ok(()) => Ok(true),
            Err(ProjectionError::Busy { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Takes the projection's lock when electing, then sets the read model
    /// up and takes the checkpoint over (clearing the error it last
    /// stopped on), unless this runner already did since it last stopped.
    async fn take_over(&mut self) -> Result<(), ProjectionError> {
        if self.elect && self.lease.is_none() {
            let name = self.engine.name().to_owned();
            let mut lease = self.target.own_connection().await.map_err(|e| self.error(e))?;
            if !statements::take_lock(&mut lease, &name).await.map_err(|e| self.error(e))? {
                return Err(ProjectionError::Busy { projection: name });
            }
            self.lease = Some(lease);
            self.resumed = false;
        }
        if self.resumed {
            return Ok(());
        }
        let mut c = self.engine.sink().connection().await.map_err(|e| self.error(e))?;
        let name = self.engine.name().to_owned();
        match self.engine.projection_mut().setup(&mut c).await {
            Ok(()) => {}
            // A lost connection is an outage, not a failure of the setup.
            Err(source) if caused_by_outage(source.as_ref()) => {
                return Err(self.engine.store_error(StoreError::Unavailable(source)));
            }
            Err(source) => return Err(ProjectionError::Setup { projection: name, source }),
        }
        match refuse_non_transactional(&mut c).await {
            Ok(()) => {}
            Err(Refused::Table(refused)) => {
                return Err(ProjectionError::Setup { projection: name, source: Box::new(refused) });
            }
            Err(Refused::Driver(e)) => return Err(self.error(e.into())),
        }
        let (position, revision) = statements::take_over(&mut c, &name).await.map_err(|e| self.error(e))?;
        MySqlSink::<P>::keep(&self.engine.sink().idle, c);
        self.engine.resume_at(position, revision);
        self.resumed = true;
        Ok(())
    }

    /// Lets the projection's lock go, by ending its session; the next run
    /// takes the checkpoint over again.
    fn release(&mut self) {
        self.lease = None;
        self.resumed = false;
    }

    fn error(&self, e: Error) -> ProjectionError {
        self.engine.store_error(e.into())
    }

    /// After a run: an event that stopped the projection is recorded where
    /// other processes see it, and the next run takes the checkpoint over
    /// again.
    async fn settle<T>(&mut self, outcome: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        let Err(error) = &outcome else { return outcome };
        self.resumed = false;
        if matches!(error, ProjectionError::Handler { .. } | ProjectionError::Decode { .. }) {
            let (name, text) = (self.engine.name(), ErrorReport::new(error).to_string());
            let revision = self.target.on_pool(async |c| statements::stop(c, name, &text).await).await.ok().flatten();
            self.engine.publish_stop(error, revision);
        }
        outcome
    }
}
