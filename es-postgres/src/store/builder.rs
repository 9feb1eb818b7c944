//! [`PgEventStoreBuilder`]: connection, pool, schema and TLS of a store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use crate::connection::notify::Notifier;
use crate::connection::tls::{PgSslMode, Roots, TlsOptions};
use crate::error::PgError;
use crate::lease::identity::ProcessIdentity;
use crate::schema::Schema;
use crate::store::{DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, PgEventStore};

/// Configures a [`PgEventStore`]: connection, pool size, schema.
///
/// ```
/// use es_postgres::PgEventStore;
///
/// # fn main() -> Result<(), es_postgres::PgError> {
/// let store = PgEventStore::builder_from_url("postgres://app@db.internal/orders?sslmode=require")?
///     .pool_size(32)
///     .schema("orders_events")
///     .build()?;
/// assert_eq!(store.schema(), "orders_events");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgEventStoreBuilder {
    config: tokio_postgres::Config,
    pool_size: usize,
    schema: String,
    wait_timeout: Option<Duration>,
    tls: TlsOptions,
    notify_appends: bool,
    max_event_size: usize,
    runner_label: Option<String>,
}

impl PgEventStoreBuilder {
    /// The largest number of connections the store opens (at least 1).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The Postgres schema holding the store's tables (default
    /// [`DEFAULT_SCHEMA`]). Any name works: it is always quoted.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// How long an operation waits for a free connection before failing
    /// with [`StoreError::Unavailable`](es_core::StoreError::Unavailable)
    /// (default: 30 s; `None` waits forever).
    pub fn wait_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Whether appends wake the projection runners that wait on this schema
    /// (default: yes). Appends mark that they committed; a task of the
    /// store (shared by its clones) sends one `NOTIFY` for all those marked
    /// since the last one left: the first append after a quiet spell wakes
    /// runners at once, a stream of appends every 20 ms. It costs far less
    /// than a statement per append, for the writers and for the runners.
    ///
    /// Turn it off only where every runner can wait for its poll interval
    /// to see new events, such as in a bulk import that no live projection
    /// follows.
    pub fn notify_appends(mut self, notify: bool) -> Self {
        self.notify_appends = notify;
        self
    }

    /// The largest event payload an append takes, in bytes (default
    /// [`DEFAULT_MAX_EVENT_SIZE`](es_core::DEFAULT_MAX_EVENT_SIZE), 960 KiB);
    /// a larger one is refused with
    /// [`StoreError::EventTooLarge`](es_core::StoreError::EventTooLarge)
    /// before anything is written. Every load of a stream reads all its
    /// events since the last snapshot: keep large content elsewhere and
    /// its reference in the event rather than raising this.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The label this process's projection and outbox runners record
    /// beside their sessions, with its process id and start time, for
    /// `es projections` and the console to name (default: the host's name,
    /// `HOSTNAME` or `/etc/hostname`; give a pod's or a service's name).
    pub fn runner_label(mut self, label: impl Into<String>) -> Self {
        self.runner_label = Some(label.into());
        self
    }

    /// How connections use TLS, overriding the `sslmode` of the
    /// configuration (default: [`PgSslMode::Prefer`], as in libpq).
    /// tokio-postgres' `Config` only knows `disable`, `prefer` and
    /// `require`; the verifying modes are set here or in the URL given to
    /// [`PgEventStore::builder_from_url`].
    pub fn ssl_mode(mut self, mode: PgSslMode) -> Self {
        self.tls.mode = Some(mode);
        self
    }

    /// The PEM file of the certificate authorities that
    /// [`PgSslMode::VerifyCa`] and [`PgSslMode::VerifyFull`] trust, such as
    /// a managed service's CA bundle (`sslrootcert=` in a URL). Without it
    /// they trust the operating system's authorities.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), es_postgres::PgError> {
    /// let store = es_postgres::PgEventStore::builder_from_url("postgres://app@db.example.com/orders")?
    ///     .ssl_mode(es_postgres::PgSslMode::VerifyFull)
    ///     .ca_file("/etc/ssl/db-ca.pem")
    ///     .build()?; // reads the file
    /// # Ok(())
    /// # }
    /// ```
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.roots = Roots::File(path.into());
        self
    }

    /// Builds the store. No connection is opened until one is needed; the
    /// CA file, if any, is read now.
    pub fn build(self) -> Result<PgEventStore, PgError> {
        let schema = Schema::new(&self.schema)?;
        let mut config = self.config;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(PgError::InvalidConfig {
                option: Some("host".to_owned()),
                reason: "no host given; name the server, as in postgres://user@localhost:5432/database".to_owned(),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let tls = self.tls.apply(&mut config)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(self.wait_timeout)
            .build()
            .map_err(|e| PgError::Pool(e.to_string()))?;
        let notifier = self.notify_appends.then(|| Arc::new(Notifier::new(pool.clone(), schema.events_channel())));
        Ok(PgEventStore {
            pool,
            config: Arc::new(config),
            tls,
            schema: Arc::new(schema),
            feed: Arc::default(),
            notifier,
            max_event_size: self.max_event_size,
            process: Arc::new(ProcessIdentity::new(self.runner_label)),
        })
    }
}

impl PgEventStoreBuilder {
    /// A builder for a store on the database `config` points at, with the
    /// defaults.
    pub(crate) fn new(config: tokio_postgres::Config, tls: TlsOptions) -> Self {
        PgEventStoreBuilder {
            config,
            pool_size: DEFAULT_POOL_SIZE,
            schema: DEFAULT_SCHEMA.to_owned(),
            wait_timeout: Some(Duration::from_secs(30)),
            tls,
            notify_appends: true,
            max_event_size: es_core::DEFAULT_MAX_EVENT_SIZE,
            runner_label: None,
        }
    }
}
