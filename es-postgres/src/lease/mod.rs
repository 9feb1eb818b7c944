//! The elected-runner lifecycle, written once for every runner (projection,
//! outbox, publisher): connect on a connection of its own, take the lease
//! (a session advisory lock) or stand by, listen, resume from the
//! checkpoint, work and follow new events, reconnect with backoff after an
//! outage, and release the lease explicitly, so that a standby takes over
//! at once.
//!
//! The lease only saves wasted work: exactly-once never rests on it. Every
//! runner commits its checkpoint with a compare-and-set in the transaction
//! of its work, so a runner that lost the lease without noticing cannot
//! commit a page twice.

pub(crate) mod identity;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use es_core::projection::ReconnectBackoff;
use futures_util::future::Either;
use tracing::warn;

use crate::connection::listener::Listener;
use crate::error::Error;
use crate::store::PgEventStore;
use identity::RunnerKind;

/// One runner's hold on its work: a connection of its own, named for the
/// runner, holding the runner's advisory lock while it works.
#[derive(Debug)]
pub(crate) struct Lease {
    store: PgEventStore,
    application_name: String,
    key: i64,
    /// Whether taking the lease takes the lock: without, every runner holds
    /// it at once (the fence still keeps pages exactly-once).
    elect: bool,
    session: Option<Listener>,
}

/// How a wait for new work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A notification came, or the poll interval passed.
    Work,
    /// The runner was told to stop.
    Stop,
}

impl Lease {
    /// The lease of the runner of `kind` for `name` in `store`'s schema.
    pub(crate) fn new(store: &PgEventStore, kind: RunnerKind, name: &str) -> Self {
        // The keys of earlier releases, so that old and new runners of one
        // projection exclude each other during a rolling deploy.
        let purpose = format!("{}\0{name}", kind.lock_purpose());
        Lease {
            store: store.clone(),
            application_name: identity::application_name(kind, store.schema(), name),
            key: store.schema.lock_key(&purpose),
            elect: true,
            session: None,
        }
    }

    /// Takes the lease without the lock from now on.
    pub(crate) fn without_election(&mut self) {
        self.elect = false;
    }

    /// The connection holding the lease, while it is held.
    pub(crate) fn session(&self) -> Option<&Listener> {
        self.session.as_ref()
    }

    /// The connection holding the lease, to open transactions on.
    pub(crate) fn session_mut(&mut self) -> Option<&mut Listener> {
        self.session.as_mut()
    }

    /// Tries once to take the lease; `false` when another runner holds it.
    pub(crate) async fn try_take(&mut self) -> Result<bool, Error> {
        let session = self.connect().await?;
        if self.elect && !session.try_lock(self.key).await? {
            return Ok(false);
        }
        self.session = Some(session);
        Ok(true)
    }

    /// Stands by until the lease is free and takes it, trying every `poll`;
    /// `false` when `stop` resolved first. Once taken, the connection
    /// listens for new work.
    pub(crate) async fn take(
        &mut self,
        poll: Duration,
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<bool, Error> {
        let session = self.connect().await?;
        while self.elect && !session.try_lock(self.key).await? {
            if tokio::time::timeout(poll, stop.as_mut()).await.is_ok() {
                return Ok(false);
            }
        }
        session.listen().await?;
        self.session = Some(session);
        Ok(true)
    }

    /// Waits for a notification, at most `poll`, or for `stop`. Fails when
    /// the connection closed: the lease went with it, and another runner
    /// may already have taken over.
    pub(crate) async fn wait(&self, poll: Duration, stop: Pin<&mut impl Future<Output = ()>>) -> Result<Woken, Error> {
        let Some(session) = &self.session else { return Ok(Woken::Stop) };
        if session.client().is_closed() {
            return Err(Error::Unavailable("the runner's connection closed, and its lease with it".into()));
        }
        let notified = std::pin::pin!(tokio::time::timeout(poll, session.notified()));
        match futures_util::future::select(notified, stop).await {
            Either::Left(_) => Ok(Woken::Work),
            Either::Right(_) => Ok(Woken::Stop),
        }
    }

    /// Releases the lease and closes its connection.
    pub(crate) async fn release(&mut self) {
        if let Some(session) = self.session.take() {
            session.close().await;
        }
    }

    /// A connection of the runner's own, with the application process it
    /// runs in recorded beside it.
    async fn connect(&self) -> Result<Listener, Error> {
        let store = &self.store;
        let channel = store.schema.events_channel();
        let session = Listener::connect(&store.config, store.tls.clone(), channel, &self.application_name).await?;
        let process = &store.process;
        let register = store.schema.sql(include_str!("sql/register.sql"));
        let pid = i64::from(process.pid);
        let registered = session.client().execute(&*register, &[&process.label, &pid, &process.started]).await;
        if let Err(error) = registered {
            // The tools then show the runner's server session instead.
            warn!(error = %es_core::ErrorReport::new(&error), "the runner could not record its process beside its session");
        }
        Ok(session)
    }
}

/// What a runner is doing, for [`Elected::report`].
#[derive(Debug)]
pub(crate) enum Lifecycle<'a, E> {
    /// Connected, waiting for the lease.
    StandingBy,
    /// Holding the lease, working.
    Running,
    /// Lost the database; trying again after a pause.
    Reconnecting { since: SystemTime, attempts: u32, error: &'a E },
    /// Stopped because it was told to.
    Idle,
    /// Stopped on an error that retrying cannot fix.
    Stopped(&'a E),
}

/// A runner under a [`Lease`]: what [`run`] needs of it.
pub(crate) trait Elected: Send {
    /// What the runner fails with.
    type Error: Send;

    /// Its lease.
    fn lease(&mut self) -> &mut Lease;

    /// How often it looks for work when no notification comes, and tries
    /// the lease while standing by.
    fn poll_interval(&self) -> Duration;

    /// The pauses between reconnection attempts.
    fn backoff(&self) -> ReconnectBackoff;

    /// Loads its checkpoint on the lease's connection, after taking it.
    fn resume(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Does the work there is (a catch-up), then returns.
    fn work(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The runner's error for a failure of the lease.
    fn lease_error(&self, error: Error) -> Self::Error;

    /// Whether `error` is an outage to ride out rather than a stop.
    fn is_outage(error: &Self::Error) -> bool;

    /// Called after the lease is released, with how the work ended: a
    /// runner records a stop where other processes see it.
    fn released(&mut self, outcome: &Result<(), Self::Error>) -> impl Future<Output = ()> + Send;

    /// Tells what the runner is doing (health, logs).
    fn report(&mut self, lifecycle: Lifecycle<'_, Self::Error>);
}

/// Runs `runner` until `stop` resolves: stands by until it holds the lease,
/// resumes, works whenever notified or every poll interval, and rides out
/// outages by reconnecting with backoff (taking the lease again, or
/// standing by if another runner took over). Returns an error only for what
/// retrying cannot fix. The lease is released however it ends.
pub(crate) async fn run<R: Elected>(runner: &mut R, stop: impl Future<Output = ()> + Send) -> Result<(), R::Error> {
    let mut stop = std::pin::pin!(stop);
    let mut outage: Option<(SystemTime, u32)> = None;
    loop {
        let connected = connected(runner, stop.as_mut(), &mut outage).await;
        runner.lease().release().await;
        runner.released(&connected).await;
        match connected {
            Ok(()) => {
                runner.report(Lifecycle::Idle);
                return Ok(());
            }
            Err(error) if R::is_outage(&error) => {
                let (since, attempts) = outage.map_or((SystemTime::now(), 1), |(since, n)| (since, n + 1));
                outage = Some((since, attempts));
                runner.report(Lifecycle::Reconnecting { since, attempts, error: &error });
                if tokio::time::timeout(runner.backoff().pause(attempts), stop.as_mut()).await.is_ok() {
                    runner.report(Lifecycle::Idle);
                    return Ok(());
                }
            }
            Err(error) => {
                runner.report(Lifecycle::Stopped(&error));
                return Err(error);
            }
        }
    }
}

/// One connection's life: stand by until the lease is free, then resume and
/// work until `stop` resolves or the connection fails. Clears `outage` once
/// the runner works again.
async fn connected<R: Elected>(
    runner: &mut R,
    mut stop: Pin<&mut impl Future<Output = ()>>,
    outage: &mut Option<(SystemTime, u32)>,
) -> Result<(), R::Error> {
    runner.report(Lifecycle::StandingBy);
    let poll = runner.poll_interval();
    let taken = runner.lease().take(poll, stop.as_mut()).await;
    if !taken.map_err(|e| runner.lease_error(e))? {
        return Ok(());
    }
    runner.resume().await?;
    *outage = None;
    runner.report(Lifecycle::Running);
    loop {
        runner.work().await?;
        let woken = runner.lease().wait(poll, stop.as_mut()).await;
        if woken.map_err(|e| runner.lease_error(e))? == Woken::Stop {
            return Ok(());
        }
    }
}
