//! The MariaDB/MySQL sink of the projection engine: a unit of work is a
//! transaction on the runner's own connection to the target, which also
//! locks the projection's checkpoint row; a unit dropped uncommitted closes
//! its connection, and the server rolls the transaction back.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use es_core::backend::{Failed, Sink};
use es_core::projection::{Envelope, ParkedEvent};
use es_core::{BoxError, Position, RecordedEvent, StoreError};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::error::{Error, caused_by_outage};
use crate::projection::{MySqlProjection, MySqlTransaction};
use crate::statements;
use crate::target::MySqlTarget;

/// The runner's connection for units of work, between units; empty until
/// the first and after a unit was dropped uncommitted.
pub(crate) type Idle = Arc<Mutex<Option<Conn>>>;

/// The sink of one runner.
pub(crate) struct MySqlSink<P> {
    pub(crate) target: MySqlTarget,
    pub(crate) name: String,
    pub(crate) idle: Idle,
    pub(crate) projection: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for MySqlSink<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlSink").field("target", &self.target).field("name", &self.name).finish_non_exhaustive()
    }
}

impl<P> MySqlSink<P> {
    /// The runner's idle connection, or a new one.
    pub(crate) async fn connection(&self) -> Result<Conn, Error> {
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        match idle {
            Some(c) => Ok(c),
            None => self.target.own_connection().await,
        }
    }

    /// Keeps `c` for the next unit.
    pub(crate) fn keep(idle: &Idle, c: Conn) {
        *idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(c);
    }
}

/// A transaction of the runner.
pub(crate) struct MySqlUnit<'u> {
    /// Locked by a handler while it writes: the engine hands units over
    /// shared.
    connection: tokio::sync::Mutex<Conn>,
    idle: &'u Idle,
    target: &'u MySqlTarget,
    name: &'u str,
}

impl MySqlUnit<'_> {
    async fn run<T>(&mut self, work: impl AsyncFnOnce(&mut Conn, &str) -> Result<T, Error>) -> Result<T, StoreError> {
        Ok(work(self.connection.get_mut(), self.name).await?)
    }
}

impl<P: MySqlProjection> Sink for MySqlSink<P> {
    const ATOMIC: bool = true;

    type Projection = P;
    type Event = P::Event;
    type Unit<'u> = MySqlUnit<'u>;

    async fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedEvent>, StoreError> {
        self.target.on_pool(async |c| statements::parked(c, &self.name, after, limit).await).await
    }

    async fn begin(&mut self) -> Result<Self::Unit<'_>, StoreError> {
        let mut c = self.connection().await?;
        c.query_drop("START TRANSACTION").await.map_err(Error::from)?;
        statements::lock_checkpoint(&mut c, &self.name).await?;
        Ok(MySqlUnit {
            connection: tokio::sync::Mutex::new(c),
            idle: &self.idle,
            target: &self.target,
            name: &self.name,
        })
    }

    async fn handle<'a>(
        projection: &'a mut P,
        unit: &'a Self::Unit<'_>,
        events: &'a [Envelope<'a, P::Event>],
    ) -> Result<(), Failed> {
        let mut c = unit.connection.lock().await;
        projection
            .handle_batch(&mut MySqlTransaction(&mut c), events)
            .await
            .map_err(|source| Failed { index: None, source })
    }

    async fn reset<'a>(projection: &'a mut P, unit: &'a mut Self::Unit<'_>) -> Result<(), BoxError> {
        projection.reset(&mut MySqlTransaction(unit.connection.get_mut())).await
    }

    async fn forget_parked(unit: &mut Self::Unit<'_>) -> Result<(), StoreError> {
        unit.run(async |c, name| statements::forget(c, name).await).await
    }

    async fn park<'a>(
        unit: &'a mut Self::Unit<'_>,
        event: &'a RecordedEvent,
        error: String,
        attempts: u32,
    ) -> Result<(), StoreError> {
        unit.run(async |c, name| statements::park(c, name, event, &error, attempts).await).await
    }

    async fn unpark(unit: &mut Self::Unit<'_>, id: u64) -> Result<bool, StoreError> {
        unit.run(async |c, name| statements::unpark(c, name, id).await).await
    }

    fn is_outage(error: &BoxError) -> bool {
        caused_by_outage(error.as_ref())
    }

    async fn note_failed_retry(&self, id: u64, error: String) -> Result<(), StoreError> {
        self.target.on_pool(async |c| statements::failed_again(c, &self.name, id, &error).await).await
    }

    async fn commit(unit: Self::Unit<'_>, checkpoint: Option<(Position, Position)>) -> Result<Option<u64>, StoreError> {
        let MySqlUnit { connection, idle, target, name } = unit;
        let mut c = connection.into_inner();
        let mut revision = Some(0);
        if let Some((from, to)) = checkpoint {
            revision = statements::save(&mut c, target.mariadb, name, from, to).await?;
        }
        let end = if revision.is_some() { "COMMIT" } else { "ROLLBACK" };
        c.query_drop(end).await.map_err(Error::from)?;
        MySqlSink::<()>::keep(idle, c);
        Ok(revision)
    }
}
