//! [`PgEventStore`]: the [`EventStore`] on PostgreSQL.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use es_core::projection::{CheckpointWaiter, CheckpointWatch, ParkedEvent, ProjectionError, WaitError};
use es_core::{
    Appended, Categories, EncodedEvent, EventStore, ExpectedVersion, Metadata, Page, Position, RecordedEvent, Snapshot,
    SnapshotAndEvents, StoreError, StreamRange, check_aggregate_type, validate_stream_id,
};
use futures_util::TryStreamExt;
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::append::{self, Append, Session, invalid_input};
use crate::error::{PgError, store_error};
use crate::feed::{self, Feed};
use crate::json::JsonParam;
use crate::notify::Notifier;
use crate::partition::PgPartition;
use crate::row::SnapshotOrEvent;
use crate::schema::{Schema, Statements};
use crate::tls::{PgSslMode, Roots, TlsOptions};
use crate::{migrate, row, url};

/// The schema the store lives in unless [`PgEventStoreBuilder::schema`] says otherwise.
pub const DEFAULT_SCHEMA: &str = "es";

/// The pool size unless [`PgEventStoreBuilder::pool_size`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// An [`EventStore`] on PostgreSQL, sharing a connection pool by cloning.
///
/// Build it with [`PgEventStore::connect`] or [`PgEventStore::builder`], then
/// call [`migrate`](PgEventStore::migrate) once at startup.
#[derive(Clone)]
pub struct PgEventStore {
    pool: Pool,
    config: Arc<tokio_postgres::Config>,
    tls: MakeRustlsConnect,
    schema: Arc<Schema>,
    sql: Arc<Statements>,
    feed: Arc<Feed>,
    notifier: Option<Arc<Notifier>>,
}

impl fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEventStore").field("schema", &self.schema.name()).field("pool", &self.pool.status()).finish()
    }
}

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
    /// with [`StoreError::Unavailable`] (default: 30 s; `None` waits forever).
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
        let sql = Statements::new(&schema);
        let notifier = self
            .notify_appends
            .then(|| Arc::new(Notifier::new(pool.clone(), events_channel(schema.lock_key("events")))));
        Ok(PgEventStore {
            pool,
            config: Arc::new(config),
            tls,
            schema: Arc::new(schema),
            sql: Arc::new(sql),
            feed: Arc::default(),
            notifier,
        })
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
        Ok(PgEventStoreBuilder { tls, ..Self::builder(config) })
    }

    /// A builder for a store on the database `config` points at.
    pub fn builder(config: tokio_postgres::Config) -> PgEventStoreBuilder {
        PgEventStoreBuilder {
            config,
            pool_size: DEFAULT_POOL_SIZE,
            schema: DEFAULT_SCHEMA.to_owned(),
            wait_timeout: Some(Duration::from_secs(30)),
            tls: TlsOptions::default(),
            notify_appends: true,
        }
    }

    /// Creates the schema and applies the migrations it lacks; returns the
    /// versions applied (none when it is up to date).
    ///
    /// Safe to call from every process at startup: concurrent calls on one
    /// schema wait for each other, and each migration applies once.
    pub async fn migrate(&self) -> Result<Vec<u32>, PgError> {
        let mut client = self.connection().await?;
        migrate::migrate(&mut client, &self.schema).await
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

    /// The connection settings, for connections outside the pool.
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS connector, for connections outside the pool.
    pub(crate) fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// The store's statements, rendered for its schema.
    pub(crate) fn sql(&self) -> &Statements {
        &self.sql
    }

    /// A stable advisory lock key for `purpose` in this store's schema.
    pub(crate) fn lock_key(&self, purpose: &str) -> i64 {
        self.schema.lock_key(purpose)
    }

    /// The channel appends notify and projection runners listen on: fixed
    /// length whatever the schema name, so it is always a valid identifier.
    pub(crate) fn channel(&self) -> String {
        events_channel(self.lock_key("events"))
    }

    /// The channel projection runners notify when their checkpoint moves
    /// or they stop.
    pub(crate) fn checkpoint_channel(&self) -> String {
        format!("es_checkpoints_{:016x}", self.lock_key("checkpoints"))
    }

    /// The watch of `projection`'s checkpoint in this process, shared by
    /// its runners and waiters.
    pub(crate) fn local_checkpoint_watch(&self, projection: &str) -> CheckpointWatch {
        self.feed.watch(projection)
    }

    /// Keeps the watched checkpoints of this process current from the
    /// database while waiters wait.
    pub(crate) fn follow_checkpoints(&self) {
        self.feed.follow(|| feed::Source {
            pool: self.pool.clone(),
            config: Arc::clone(&self.config),
            tls: self.tls(),
            sql: Arc::clone(&self.sql),
            channel: self.checkpoint_channel(),
            application_name: format!("es checkpoints {}", self.schema()),
        });
    }

    /// A handle to wait until projection `projection` has committed a
    /// position, in any process that holds the store: the runner may run
    /// here, in another process, or nowhere yet. It is woken when a runner
    /// commits (a notification), and reads the checkpoints every 250 ms as
    /// a fallback. Call it within the Tokio runtime.
    pub fn checkpoint_waiter(&self, projection: &str) -> CheckpointWaiter {
        let waiter = self.local_checkpoint_watch(projection).waiter();
        self.follow_checkpoints();
        waiter
    }

    /// Waits until projection `projection` has committed `position` (read
    /// your own writes: pass the position a command returned), failing
    /// with [`WaitError::Stopped`] as soon as the projection stops on an
    /// error before it, or with [`WaitError::Timeout`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn f(store: es_postgres::PgEventStore, position: es_core::Position) -> Result<(), Box<dyn std::error::Error>> {
    /// // In a web replica that does not run the projection itself:
    /// store.wait_for_projection("account_balances", position, Duration::from_secs(5)).await?;
    /// // ... now query the read model.
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_projection(
        &self,
        projection: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        self.checkpoint_waiter(projection).wait_for(position, timeout).await
    }

    /// Waits until every one of the `count` partitions of projection
    /// `projection` (see [`PgPartition`]) has committed `position`, like
    /// [`wait_for_projection`](Self::wait_for_projection) for one.
    pub async fn wait_for_partitions(
        &self,
        projection: &str,
        count: std::num::NonZeroU32,
        position: Position,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let waits = PgPartition::all(count).map(|partition| {
            let waiter = self.checkpoint_waiter(&partition.projection_name(projection));
            async move { waiter.wait_for(position, timeout).await }
        });
        futures_util::future::try_join_all(waits).await.map(drop)
    }

    /// The events projection `projection` parked, oldest first, discarded
    /// ones included (marked).
    pub async fn parked_events(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        self.query_parked(projection, None).await
    }

    /// Parked events of `projection`: all, or the one with id `id`.
    pub(crate) async fn query_parked(&self, projection: &str, id: Option<u64>) -> Result<Vec<ParkedEvent>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.parked).await.map_err(store_error)?;
        let id = id.map(|id| i64::try_from(id).unwrap_or(i64::MAX));
        let rows = client.query(&statement, &[&projection, &id]).await.map_err(store_error)?;
        rows.iter().map(row::parked).collect()
    }

    /// Marks parked event `id` of `projection` as discarded, with the
    /// reason; it stays listed as the record of that decision.
    pub async fn discard_parked(&self, projection: &str, id: u64, reason: &str) -> Result<(), ProjectionError> {
        let failed = |e| ProjectionError::store(projection, e);
        let client = self.client().await.map_err(failed)?;
        let statement = client.prepare_cached(&self.sql.discard).await.map_err(|e| failed(store_error(e)))?;
        let id_sql = i64::try_from(id).unwrap_or(i64::MAX);
        let discarded =
            client.execute(&statement, &[&projection, &id_sql, &reason]).await.map_err(|e| failed(store_error(e)))?;
        if discarded == 0 {
            return Err(ProjectionError::NotParked { projection: projection.to_owned(), id });
        }
        Ok(())
    }

    /// Moves `projection`'s checkpoint back to the start, so that its next
    /// runner replays every event, and clears why it stopped; waiters in
    /// every process see it. `false` when the store has no such
    /// projection. The read model is left as it is: a runner's
    /// [`rebuild`](crate::PgProjectionRunner::rebuild) empties it too.
    /// Check first that no runner holds the projection: one that does
    /// stops on its next commit, as its checkpoint moved under it.
    pub async fn reset_projection(&self, projection: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.reset_checkpoint).await.map_err(store_error)?;
        let row = client.query_opt(&statement, &[&projection, &self.checkpoint_channel()]).await;
        Ok(row.map_err(store_error)?.is_some())
    }

    /// Records that `projection` stopped on `error`, for waiters and
    /// operators in every process.
    /// Returns the checkpoint's new revision.
    pub(crate) async fn record_stop(&self, projection: &str, error: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.stop_checkpoint).await.map_err(store_error)?;
        let row = client.query_one(&statement, &[&projection, &error, &self.checkpoint_channel()]).await;
        Ok(row.map_err(store_error)?.try_get::<_, i64>(0).map_err(store_error)?.unsigned_abs())
    }

    /// The number of events of `categories` in `partition`.
    pub(crate) async fn count_filtered(
        &self,
        categories: &Categories,
        partition: Option<PgPartition>,
    ) -> Result<u64, StoreError> {
        let (names, (count, index)) = (category_names(categories), partition_params(partition));
        if names.is_none() && count.is_none() {
            return self.count().await;
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.count_filtered).await.map_err(store_error)?;
        let row = client.query_one(&statement, &[&names, &count, &index]).await.map_err(store_error)?;
        let count: i64 = row.try_get(0).map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// A page of the events of `categories` in `partition` after `after`;
    /// see [`EventStore::read_categories`].
    pub(crate) async fn read_filtered(
        &self,
        after: Position,
        limit: usize,
        categories: &Categories,
        partition: Option<PgPartition>,
    ) -> Result<Page, StoreError> {
        let (names, (count, index)) = (category_names(categories), partition_params(partition));
        if names.is_none() && count.is_none() {
            let events = self.read_all(after, limit).await?;
            let through = events.last().map_or(after, |e| e.position);
            return Ok(Page { events, through });
        }
        if limit == 0 {
            return Ok(Page { events: Vec::new(), through: after });
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.read_filtered).await.map_err(store_error)?;
        let commit = i64::try_from(after.commit).unwrap_or(i64::MAX);
        let sequence = i64::try_from(after.sequence).unwrap_or(i64::MAX);
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let params: [&(dyn ToSql + Sync); 6] = [&commit, &sequence, &limit_sql, &names, &count, &index];
        let rows = client.query_raw(&statement, params).await.map_err(store_error)?;
        let mut rows = std::pin::pin!(rows);
        let (mut events, mut through) = (Vec::new(), after);
        while let Some(row) = rows.try_next().await.map_err(store_error)? {
            through = through.max(row::through(&row)?);
            if row::has_event(&row) {
                events.push(row::event(&row)?);
            }
        }
        // A full page may be followed by more events it reads: only its
        // last event is known to be read through.
        if events.len() == limit {
            through = events.last().map_or(after, |e| e.position);
        }
        Ok(Page { events, through })
    }

    /// Runs a read of one stream (`sql` takes the stream id, the version to
    /// read after, the version and the time to stop at, then `more`) and
    /// decodes its rows.
    ///
    /// Rows are decoded as they arrive, while the server still sends: on a
    /// 10,000-event stream this is about a quarter faster than collecting
    /// every row first.
    async fn query_stream<T>(
        &self,
        sql: &str,
        stream_id: &str,
        range: StreamRange,
        more: &[&(dyn ToSql + Sync)],
        decode: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        validate_stream_id(stream_id)?;
        let client = self.client().await?;
        query_stream(&client, sql, stream_id, range, more, decode).await
    }

    /// How far [`read_all`](EventStore::read_all) lags behind the committed
    /// events, for monitoring.
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
        let statement = client.prepare_cached(&self.sql.held_back).await.map_err(store_error)?;
        let row = client.query_one(&statement, &[]).await.map_err(store_error)?;
        let held_back: i64 = row.try_get(0).map_err(store_error)?;
        let age: Option<f64> = row.try_get(1).map_err(store_error)?;
        Ok(PgReadLag {
            held_back: u64::try_from(held_back).unwrap_or(0),
            oldest_transaction: age.and_then(|secs| Duration::try_from_secs_f64(secs.max(0.0)).ok()),
        })
    }

    pub(crate) async fn client(&self) -> Result<Client, StoreError> {
        Ok(self.connection().await?)
    }

    /// A connection from the pool, for queries of your own; a failure to
    /// open one names the server and the cause.
    pub async fn connection(&self) -> Result<Client, PgError> {
        self.pool.get().await.map_err(|e| PgError::pool(e, &self.config, self.pool.status().max_size))
    }
}

/// Reads a stream with `sql` (parameters: stream id, after version, up to
/// version, up to time, then `more`) on `session`, decoding each row as it
/// arrives.
pub(crate) async fn query_stream<S: Session, T>(
    session: &S,
    sql: &str,
    stream_id: &str,
    range: StreamRange,
    more: &[&(dyn ToSql + Sync)],
    decode: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let statement = session.prepare(sql).await.map_err(store_error)?;
    let after = i64::try_from(range.after_version).unwrap_or(i64::MAX);
    let up_to = range.up_to_version.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&stream_id, &after, &up_to, &range.up_to_time];
    params.extend_from_slice(more);
    let rows = session.client().query_raw(&statement, params).await.map_err(store_error)?;
    let mut rows = std::pin::pin!(rows);
    let mut decoded = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(store_error)? {
        decoded.push(decode(&row)?);
    }
    Ok(decoded)
}

/// The channel of appends in the schema whose `events` lock key is `key`.
fn events_channel(key: i64) -> String {
    format!("es_events_{key:016x}")
}

/// The `text[]` parameter of a category filter (`None`: all).
fn category_names(categories: &Categories) -> Option<&[String]> {
    match categories {
        Categories::All => None,
        Categories::Only(names) => Some(names),
    }
}

/// The (count, index) parameters of a partition filter (`None`: all).
fn partition_params(partition: Option<PgPartition>) -> (Option<i64>, Option<i64>) {
    partition.map(|p| (i64::from(p.count().get()), i64::from(p.index()))).unzip()
}

/// How far [`EventStore::read_all`] lags behind the committed events; see
/// [`PgEventStore::read_lag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgReadLag {
    /// Committed events that `read_all` does not return yet.
    pub held_back: u64,
    /// How long the oldest other transaction of this database that has
    /// written anything has been running, if one is.
    pub oldest_transaction: Option<Duration>,
}

impl EventStore for PgEventStore {
    async fn append(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<EncodedEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        validate_stream_id(stream_id)?;
        let client = self.client().await?;
        let request = Append { aggregate_type, stream_id, expected, events, metadata };
        let appended = append::append(&client, &self.sql, &self.channel(), request).await;
        // Projection runners are woken once the append has committed, by a
        // notification of the store's notifier: whatever the outcome, as a
        // failure may come after the commit.
        if let Some(notifier) = &self.notifier {
            notifier.appended();
        }
        appended
    }

    async fn read_stream(&self, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, StoreError> {
        self.query_stream(&self.sql.read_stream, stream_id, range, &[], |row| {
            row::stream_event(row, stream_id.to_owned())
        })
        .await
    }

    /// Only what folding needs: about half the bytes per row of
    /// `read_stream`, the fast path for loading aggregates.
    async fn read_stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let more: [&(dyn ToSql + Sync); 1] = [&aggregate_type];
        self.query_stream(&self.sql.read_stream_events, stream_id, range, &more, |row| {
            row::versioned_event(aggregate_type, stream_id, row, 0)
        })
        .await
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.read_all).await.map_err(store_error)?;
        let commit = i64::try_from(after.commit).unwrap_or(i64::MAX);
        let sequence = i64::try_from(after.sequence).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Rows are decoded as they arrive, while the server still sends.
        let params: [&(dyn ToSql + Sync); 3] = [&commit, &sequence, &limit];
        let rows = client.query_raw(&statement, params).await.map_err(store_error)?;
        let mut rows = std::pin::pin!(rows);
        let mut events = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(store_error)? {
            events.push(row::event(&row)?);
        }
        Ok(events)
    }

    /// Filters in SQL: events of other categories never leave the
    /// database.
    async fn read_categories(
        &self,
        after: Position,
        limit: usize,
        categories: &Categories,
    ) -> Result<Page, StoreError> {
        self.read_filtered(after, limit, categories, None).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.count).await.map_err(store_error)?;
        let row = client.query_one(&statement, &[]).await.map_err(store_error)?;
        let count: i64 = row.try_get(0).map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        validate_stream_id(&snapshot.stream_id)?;
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.save_snapshot).await.map_err(store_error)?;
        let version = i64::try_from(snapshot.version).map_err(|_| invalid_input("a snapshot's version", i64::MAX))?;
        let schema_version = i32::try_from(snapshot.schema_version)
            .map_err(|_| invalid_input("a snapshot's schema version", i32::MAX))?;
        let fingerprint = row::fingerprint_to_sql(snapshot.fingerprint);
        let row = client
            .query_one(
                &statement,
                &[
                    &snapshot.stream_id,
                    &snapshot.aggregate_type,
                    &version,
                    &schema_version,
                    &JsonParam(&snapshot.state),
                    &fingerprint,
                ],
            )
            .await
            .map_err(store_error)?;
        match row.try_get::<_, Option<&str>>(0).map_err(store_error)? {
            Some(actual) => check_aggregate_type(&snapshot.aggregate_type, &snapshot.stream_id, actual),
            None => Ok(()),
        }
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        validate_stream_id(stream_id)?;
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.load_snapshot).await.map_err(store_error)?;
        let row = client.query_opt(&statement, &[&stream_id]).await.map_err(store_error)?;
        row.map(|row| row::snapshot(stream_id, &row)).transpose()
    }

    /// Both in one statement: a command on an aggregate with a snapshot
    /// costs one round trip to load.
    async fn read_snapshot_and_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        range: StreamRange,
        schema_version: u32,
    ) -> Result<SnapshotAndEvents, StoreError> {
        // No stored schema version is negative: -1 matches none.
        let schema_version = i32::try_from(schema_version).unwrap_or(-1);
        let sql = &self.sql.read_snapshot_and_events;
        let more: [&(dyn ToSql + Sync); 2] = [&schema_version, &aggregate_type];
        let decode = |row: &tokio_postgres::Row| row::snapshot_or_event(aggregate_type, stream_id, row);
        let rows = self.query_stream(sql, stream_id, range, &more, decode).await?;
        let mut read = SnapshotAndEvents::default();
        for row in rows {
            match row {
                SnapshotOrEvent::Snapshot(snapshot) => read.snapshot = Some(snapshot),
                SnapshotOrEvent::Event(event) => read.events.push(event),
            }
        }
        Ok(read)
    }

    /// Looks the command up in the `commands` table, then reads its events.
    async fn command_events(
        &self,
        stream_id: &str,
        command_id: &str,
    ) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        validate_stream_id(stream_id)?;
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.sql.command_versions).await.map_err(store_error)?;
        let Some(row) = client.query_opt(&statement, &[&stream_id, &command_id]).await.map_err(store_error)? else {
            return Ok(None);
        };
        drop(client);
        let (first, last) = row::versions(stream_id, &row)?;
        let range = StreamRange::after(first.saturating_sub(1)).up_to_version(last);
        Ok(Some(self.read_stream(stream_id, range).await?))
    }
}
