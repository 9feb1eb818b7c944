//! [`RedisTarget`]: a Redis server where projections keep their read
//! models, checkpoints and parked events.

use std::time::Duration;

use es_core::admin::{AdminError, AdminFuture, Location, ProjectionAdmin, ProjectionStatus};
use es_core::backend::poll_checkpoint;
use es_core::projection::{ParkedEvent, WaitError};
use es_core::{Position, StoreError};
use redis::aio::ConnectionManager;

use crate::checkpoints;
use crate::error::{Error, RedisTargetError};
use crate::keys::Keys;

/// How often a wait reads the checkpoint: the latency of a wait for a
/// runner that is not in the waiting process.
pub const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A Redis server (one database of it) for read models, shared by
/// cloning. The checkpoints and parked events live under keys that start
/// with the target's prefix (`es:` unless told otherwise).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let target = es_redis::RedisTarget::connect("redis://127.0.0.1:6379").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTarget {
    pub(crate) connection: ConnectionManager,
    pub(crate) url: String,
    pub(crate) prefix: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget").field("url", &self.url).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// Connects to the server `url` names (`redis://host:6379`, or
    /// `redis://host:6379/<db>`), with the prefix `es:`.
    pub async fn connect(url: &str) -> Result<Self, RedisTargetError> {
        let client = redis::Client::open(url).map_err(|cause| RedisTargetError::Url { url: url.to_owned(), cause })?;
        let connect = |cause| RedisTargetError::Connect { url: url.to_owned(), cause };
        let mut connection = ConnectionManager::new(client).await.map_err(connect)?;
        let () = redis::cmd("PING").query_async(&mut connection).await.map_err(connect)?;
        Ok(RedisTarget { connection, url: url.to_owned(), prefix: "es:".to_owned() })
    }

    /// Keeps the checkpoints and parked events under keys that start with
    /// `prefix`, so that several applications (or tests) share a server.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix of the target's keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection to the server (it reconnects when the connection
    /// breaks), for queries of the read models.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The keys of `projection`.
    pub(crate) fn keys(&self, projection: &str) -> Keys {
        Keys::new(&self.prefix, projection)
    }

    /// Runs `work` on the target's connection.
    pub(crate) async fn on<T>(
        &self,
        work: impl AsyncFnOnce(&mut ConnectionManager) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        Ok(work(&mut self.connection.clone()).await?)
    }

    /// Waits until projection `projection` has committed `position` here,
    /// from any process, reading the checkpoint every
    /// [`WAIT_POLL_INTERVAL`]. Fails with [`WaitError::Stopped`] as soon as
    /// the projection stopped on an error before it, with
    /// [`WaitError::Timeout`] after `timeout`.
    pub async fn wait_for_projection(
        &self,
        projection: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let keys = self.keys(projection);
        let read = || async { self.on(async |c| checkpoints::state(c, &keys).await).await.ok().flatten() };
        poll_checkpoint(projection, position, timeout, read, |left| tokio::time::sleep(WAIT_POLL_INTERVAL.min(left)))
            .await
    }

    /// The events projection `projection` parked here, oldest first,
    /// discarded ones included.
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let keys = self.keys(projection);
        self.on(async |c| checkpoints::parked(c, &keys, projection, 0, usize::MAX).await).await
    }
}

impl ProjectionAdmin for RedisTarget {
    fn location(&self) -> Location {
        Location { kind: "redis", name: format!("{} ({}*)", self.url, self.prefix) }
    }

    fn projections<'a>(&'a self, after: Option<&'a str>, limit: usize) -> AdminFuture<'a, Vec<ProjectionStatus>> {
        Box::pin(
            async move { Ok(self.on(async |c| checkpoints::projections(c, &self.prefix, after, limit).await).await?) },
        )
    }

    fn parked<'a>(&'a self, projection: &'a str, after: u64, limit: usize) -> AdminFuture<'a, Vec<ParkedEvent>> {
        let keys = self.keys(projection);
        Box::pin(
            async move { Ok(self.on(async |c| checkpoints::parked(c, &keys, projection, after, limit).await).await?) },
        )
    }

    fn discard_parked<'a>(&'a self, projection: &'a str, id: u64, reason: &'a str) -> AdminFuture<'a, ()> {
        let keys = self.keys(projection);
        Box::pin(async move {
            match self.on(async |c| checkpoints::update(c, &keys, id, |p| p.discard(reason)).await).await? {
                true => Ok(()),
                false => Err(AdminError::NotParked { projection: projection.to_owned(), id }),
            }
        })
    }

    /// Runners here are not elected, so none is known to hold a projection:
    /// stop the projection's runner before a reset.
    fn reset<'a>(&'a self, projection: &'a str) -> AdminFuture<'a, ()> {
        let keys = self.keys(projection);
        Box::pin(async move {
            match self.on(async |c| checkpoints::reset(c, &keys).await).await? {
                true => Ok(()),
                false => Err(AdminError::UnknownProjection { location: self.location(), name: projection.to_owned() }),
            }
        })
    }
}
