//! [`MySqlProjectionRunner`]: one projection's runner, reading any store
//! and committing in a MariaDB or MySQL database.

use std::marker::PhantomData;
use std::sync::Arc;

use es_core::admin::ProjectionAdmin;
use es_core::backend::{Engine, Host, Hosted};
use es_core::projection::ProjectionError;
use es_core::{EventStore, StoreError};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

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
    hosted: Hosted<Arc<S>, MySqlSink<P>, MySqlHost>,
}

/// How a MariaDB or MySQL runner takes its projection over: by the
/// projection's lock, then its setup and checkpoint.
#[derive(Debug)]
struct MySqlHost {
    target: MySqlTarget,
    /// Whether runners of the projection elect one (the default).
    elect: bool,
    /// The connection holding the projection's lock, while it is held.
    lease: Option<Conn>,
}

impl<P: MySqlProjection, S: EventStore + 'static> Host<Arc<S>, MySqlSink<P>> for MySqlHost {
    /// Takes the projection's lock when electing, then sets the read model
    /// up and takes the checkpoint over (clearing the error it last
    /// stopped on).
    async fn take_over(&mut self, engine: &mut Engine<Arc<S>, MySqlSink<P>>) -> Result<bool, ProjectionError> {
        let name = engine.name().to_owned();
        let error = |e: Error| engine.store_error(e.into());
        if self.elect && self.lease.is_none() {
            let mut lease = self.target.own_connection().await.map_err(error)?;
            if !statements::take_lock(&mut lease, &name).await.map_err(error)? {
                return Ok(false);
            }
            self.lease = Some(lease);
        }
        let mut c = engine.sink().connection().await.map_err(|e| engine.store_error(e.into()))?;
        match engine.projection_mut().setup(&mut c).await {
            Ok(()) => {}
            // A lost connection is an outage, not a failure of the setup.
            Err(source) if caused_by_outage(source.as_ref()) => {
                return Err(engine.store_error(StoreError::Unavailable(source)));
            }
            Err(source) => return Err(ProjectionError::Setup { projection: name, source }),
        }
        match refuse_non_transactional(&mut c).await {
            Ok(()) => {}
            Err(Refused::Table(refused)) => {
                return Err(ProjectionError::Setup { projection: name, source: Box::new(refused) });
            }
            Err(Refused::Driver(e)) => return Err(engine.store_error(Error::from(e).into())),
        }
        let taken = statements::take_over(&mut c, &name).await;
        let (position, revision) = taken.map_err(|e| engine.store_error(e.into()))?;
        MySqlSink::<P>::keep(&engine.sink().idle, c);
        engine.resume_at(position, revision);
        Ok(true)
    }

    /// Lets the projection's lock go, by ending its session.
    fn release(&mut self) {
        self.lease = None;
    }

    /// A session's lock lasts as long as the session.
    async fn holds(&mut self) -> bool {
        match &mut self.lease {
            Some(lease) => lease.ping().await.is_ok(),
            None => !self.elect,
        }
    }

    async fn record_stop(&self, name: &str, error: &str) -> Option<u64> {
        self.target.on_pool(async |c| statements::stop(c, name, error).await).await.ok().flatten()
    }

    fn admin(&self) -> &dyn ProjectionAdmin {
        &self.target
    }
}

impl<P: MySqlProjection, S: EventStore + 'static> std::fmt::Debug for MySqlProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlProjectionRunner")
            .field("engine", self.hosted.engine())
            .field("holds_lock", &self.hosted.host().lease.is_some())
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
        let engine = Engine::new(Arc::new(store), sink, projection, name, types, watch);
        MySqlProjectionRunner { hosted: Hosted::new(engine, MySqlHost { target, elect: true, lease: None }) }
    }

    /// Works without taking the projection's lock, beside any other
    /// runner: every page still commits once, by the checkpoint's
    /// compare-and-set, but runners working at once waste each other's
    /// work.
    pub fn without_election(mut self) -> Self {
        self.hosted.host_mut().elect = false;
        self
    }

    es_core::hosted_runner_methods!("MySqlTarget::wait_for_projection");

    /// The projection.
    pub fn projection(&self) -> &P {
        self.hosted.engine().projection()
    }
}
