//! [`PgEventStore`]: the [`EventStore`](es_core::EventStore) on PostgreSQL,
//! and the statements of its event log.

pub(crate) mod append;
mod builder;
pub(crate) mod command;
mod event_store;
mod in_transaction;
pub(crate) mod read;
pub(crate) mod snapshot;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Client, Pool};
use es_core::StoreError;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use builder::PgEventStoreBuilder;
pub use in_transaction::PgStoreInTransaction;

use crate::connection::notify::Notifier;
use crate::connection::tls::TlsOptions;
use crate::connection::url;
use crate::error::PgError;
use crate::lease::identity::ProcessIdentity;
use crate::migrate;
use crate::projection::waits::Feed;
use crate::schema::Schema;

/// The schema the store lives in unless [`PgEventStoreBuilder::schema`] says otherwise.
pub const DEFAULT_SCHEMA: &str = "es";

/// The pool size unless [`PgEventStoreBuilder::pool_size`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// An [`EventStore`](es_core::EventStore) on PostgreSQL, sharing a
/// connection pool by cloning.
///
/// Build it with [`PgEventStore::connect`] or [`PgEventStore::builder`], then
/// call [`migrate`](PgEventStore::migrate) once at startup.
#[derive(Clone)]
pub struct PgEventStore {
    pub(crate) pool: Pool,
    pub(crate) config: Arc<tokio_postgres::Config>,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) schema: Arc<Schema>,
    pub(crate) feed: Arc<Feed>,
    pub(crate) notifier: Option<Arc<Notifier>>,
    /// The application process its runners record themselves as running
    /// in.
    pub(crate) process: Arc<ProcessIdentity>,
    /// The largest event payload appends take, in bytes.
    pub(crate) max_event_size: usize,
}

impl fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEventStore").field("schema", &self.schema.name()).field("pool", &self.pool.status()).finish()
    }
}

impl PgEventStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db` or
    /// `host=… user=…`, see [`builder_from_url`](Self::builder_from_url))
    /// with the default pool size and schema, and checks that it can be
    /// reached.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        let store = Self::builder_from_url(url)?.build()?;
        drop(store.connection().await?);
        Ok(store)
    }

    /// A builder for a store on the database `url` points at: a
    /// `postgres://` URL or a `key=value` string, with every option
    /// tokio-postgres knows plus libpq's `sslmode=verify-ca`,
    /// `sslmode=verify-full` and `sslrootcert=<PEM file>` (or
    /// `sslrootcert=system`).
    pub fn builder_from_url(url: &str) -> Result<PgEventStoreBuilder, PgError> {
        let (config, tls) = url::parse(url)?;
        Ok(PgEventStoreBuilder::new(config, tls))
    }

    /// A builder for a store on the database `config` points at.
    pub fn builder(config: tokio_postgres::Config) -> PgEventStoreBuilder {
        PgEventStoreBuilder::new(config, TlsOptions::default())
    }

    /// Creates the schema and applies the migrations it lacks; returns the
    /// versions applied (none when it is up to date).
    ///
    /// Safe to call from every process at startup: concurrent calls on one
    /// schema wait for each other, and each migration applies once.
    pub async fn migrate(&self) -> Result<Vec<u32>, PgError> {
        let mut client = self.connection().await?;
        migrate::migrate(&mut client, &self.schema, migrate::Tables::Store).await
    }

    /// The version of the newest migration this release ships.
    pub fn latest_migration() -> u32 {
        migrate::latest()
    }

    /// The schema the store lives in.
    pub fn schema(&self) -> &str {
        self.schema.name()
    }

    /// The schema as a quoted SQL identifier, for queries of your own
    /// against the store's tables.
    pub fn quoted_schema(&self) -> &str {
        self.schema.quoted()
    }

    /// The connection pool, for read models that live in the same database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// How far [`read_all`](es_core::EventStore::read_all) lags behind the
    /// committed events, for monitoring.
    ///
    /// `read_all` holds back events of transactions that are not older than
    /// every transaction of this database still running, so that it never
    /// skips one that commits late. A writing transaction left open in this
    /// database therefore delays readers (it never loses events): watch
    /// [`PgReadLag::oldest_transaction`] and set
    /// `idle_in_transaction_session_timeout`. Transactions of other
    /// databases of the cluster do not hold it back.
    pub async fn read_lag(&self) -> Result<PgReadLag, StoreError> {
        let client = self.client().await?;
        Ok(read::lag(&client, &self.schema).await?)
    }

    /// A connection from the pool, for queries of your own; a failure to
    /// open one names the server and the cause.
    pub async fn connection(&self) -> Result<Client, PgError> {
        self.pool.get().await.map_err(|e| PgError::pool(e, &self.config, self.pool.status().max_size))
    }

    /// A connection from the pool, for the crate's own statements.
    pub(crate) async fn client(&self) -> Result<Client, crate::error::Error> {
        Ok(self.connection().await?)
    }
}

/// How far [`EventStore::read_all`](es_core::EventStore::read_all) lags
/// behind the committed events; see [`PgEventStore::read_lag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgReadLag {
    /// Committed events that `read_all` does not return yet.
    pub held_back: u64,
    /// How long the oldest other transaction of this database that has
    /// written anything has been running, if one is.
    pub oldest_transaction: Option<Duration>,
}
