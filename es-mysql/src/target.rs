//! [`MySqlTarget`]: a MariaDB or MySQL database where projections keep
//! their read models, checkpoints and parked events.

use std::time::Duration;

use es_core::admin::{AdminError, AdminFuture, Location, ProjectionAdmin, ProjectionStatus};
use es_core::backend::poll_checkpoint;
use es_core::projection::{ParkedEvent, WaitError};
use es_core::{Position, StoreError};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool};

use crate::error::{Error, MySqlError};
use crate::statements;

/// How often a wait reads the checkpoint: the latency of a wait for a
/// runner that is not in the waiting process.
pub const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A MariaDB or MySQL database for read models, shared by cloning: the
/// runners' checkpoints and parked events live in its tables
/// `es_checkpoints` and `es_parked_events`, which [`connect`](Self::connect)
/// creates.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let target = es_mysql::MySqlTarget::connect("mysql://app@127.0.0.1:3306/read_models").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MySqlTarget {
    pub(crate) pool: Pool,
    pub(crate) opts: Opts,
    pub(crate) database: String,
    /// Whether the server is MariaDB, which tells whether a transaction is
    /// still open (`@@in_transaction`).
    pub(crate) mariadb: bool,
}

impl std::fmt::Debug for MySqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlTarget")
            .field("address", &address(&self.opts))
            .field("database", &self.database)
            .field("mariadb", &self.mariadb)
            .finish_non_exhaustive()
    }
}

/// Where the server is, for messages.
fn address(opts: &Opts) -> String {
    format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())
}

/// `url` without its password, for messages.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl MySqlTarget {
    /// Connects to the database `url` names (`mysql://user:password@host:3306/database`)
    /// and creates the tables of checkpoints and parked events when
    /// missing.
    pub async fn connect(url: &str) -> Result<Self, MySqlError> {
        let opts = Opts::from_url(url).map_err(|cause| MySqlError::Url { url: shown(url), cause })?;
        Self::with_opts(opts).await
    }

    /// Connects with the driver's options, as [`connect`](Self::connect)
    /// does.
    pub async fn with_opts(opts: impl Into<Opts>) -> Result<Self, MySqlError> {
        let opts: Opts = opts.into();
        let database = opts.db_name().filter(|db| !db.is_empty()).ok_or(MySqlError::NoDatabase)?.to_owned();
        let pool = Pool::new(opts.clone());
        let connect = |cause| MySqlError::Connect { address: address(&opts), cause };
        let mut c = pool.get_conn().await.map_err(connect)?;
        let version: Option<String> = c.query_first("SELECT VERSION()").await.map_err(connect)?;
        let setup = |cause| MySqlError::Setup { database: database.clone(), cause };
        statements::create_tables(&mut c).await.map_err(setup)?;
        refuse_non_transactional(&mut c).await.map_err(|e| match e {
            Refused::Table(e) => e,
            Refused::Driver(cause) => setup(cause),
        })?;
        let mariadb = version.is_some_and(|v| v.contains("MariaDB"));
        Ok(MySqlTarget { pool, opts, database, mariadb })
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The pool of connections to the database, for queries of the read
    /// models.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection of its own, outside the pool, as a runner's units of
    /// work use: a connection dropped in the middle of a transaction is
    /// closed, and the server rolls the transaction back.
    pub(crate) async fn own_connection(&self) -> Result<Conn, Error> {
        Ok(Conn::new(OptsBuilder::from_opts(self.opts.clone())).await?)
    }

    /// Runs `work` on a pooled connection.
    pub(crate) async fn on_pool<T>(
        &self,
        work: impl AsyncFnOnce(&mut Conn) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        let mut c = self.pool.get_conn().await.map_err(Error::from)?;
        Ok(work(&mut c).await?)
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
        let read = || async { self.on_pool(async |c| statements::state(c, projection).await).await.ok().flatten() };
        poll_checkpoint(projection, position, timeout, read, |left| tokio::time::sleep(WAIT_POLL_INTERVAL.min(left)))
            .await
    }

    /// The events projection `projection` parked here, oldest first,
    /// discarded ones included.
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        self.on_pool(async |c| statements::parked(c, projection, 0, u32::MAX as usize).await).await
    }
}

/// Why the tables were refused.
pub(crate) enum Refused {
    /// A table cannot roll back.
    Table(MySqlError),
    /// Reading the tables failed.
    Driver(mysql_async::Error),
}

/// Refuses a database holding a table whose engine has no transactions.
pub(crate) async fn refuse_non_transactional(c: &mut Conn) -> Result<(), Refused> {
    match statements::not_transactional(c).await.map_err(Refused::Driver)?.into_iter().next() {
        Some((table, engine)) => Err(Refused::Table(MySqlError::NotTransactional { table, engine })),
        None => Ok(()),
    }
}

impl ProjectionAdmin for MySqlTarget {
    fn location(&self) -> Location {
        Location { kind: "database", name: format!("{}/{}", address(&self.opts), self.database) }
    }

    fn projections<'a>(&'a self, after: Option<&'a str>, limit: usize) -> AdminFuture<'a, Vec<ProjectionStatus>> {
        Box::pin(async move {
            Ok(self.on_pool(async |c| statements::projections(c, &self.database, after, limit).await).await?)
        })
    }

    fn parked<'a>(&'a self, projection: &'a str, after: u64, limit: usize) -> AdminFuture<'a, Vec<ParkedEvent>> {
        Box::pin(
            async move { Ok(self.on_pool(async |c| statements::parked(c, projection, after, limit).await).await?) },
        )
    }

    fn discard_parked<'a>(&'a self, projection: &'a str, id: u64, reason: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            match self.on_pool(async |c| statements::discard(c, projection, id, reason).await).await? {
                true => Ok(()),
                false => Err(AdminError::NotParked { projection: projection.to_owned(), id }),
            }
        })
    }

    /// Refused while a runner holds the projection's lock.
    fn reset<'a>(&'a self, projection: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            let listed = self.projections(Some(""), usize::MAX).await?;
            let Some(status) = listed.into_iter().find(|p| p.name == projection) else {
                return Err(AdminError::UnknownProjection { location: self.location(), name: projection.to_owned() });
            };
            if let Some(runner) = status.runner {
                return Err(AdminError::Running { projection: projection.to_owned(), runner: Box::new(runner) });
            }
            match self.on_pool(async |c| statements::reset(c, projection).await).await? {
                true => Ok(()),
                false => Err(AdminError::UnknownProjection { location: self.location(), name: projection.to_owned() }),
            }
        })
    }
}
