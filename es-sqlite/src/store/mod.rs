//! [`SqliteEventStore`]: the [`EventStore`](es_core::EventStore) in one
//! SQLite file, and the statements of its event log.

mod append;
mod event_store;
pub(crate) mod read;
mod url;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use es_core::StoreError;

use crate::database::{Database, Settings, Tables};
use crate::error::SqliteError;

/// An [`EventStore`](es_core::EventStore) in one SQLite file, shared by
/// cloning; projections can keep their read models in the same file,
/// exactly once (see [`SqliteTarget`](crate::SqliteTarget)).
///
/// ```
/// use es_core::{EncodedEvent, EventStore, ExpectedVersion, Metadata, StreamRange};
/// use es_sqlite::SqliteEventStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteEventStore::open_in_memory().await?; // or open("bank.sqlite3")
/// let opened = EncodedEvent { name: "Opened".into(), schema_version: 1, payload: serde_json::json!({}).into() };
/// store.append("account", "acc-1", ExpectedVersion::NoStream, vec![opened], &Metadata::default()).await?;
/// assert_eq!(store.read_stream("acc-1", StreamRange::all()).await?.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Durability and concurrency
///
/// The file is in WAL mode with `synchronous=FULL` by default: an append
/// is acknowledged once its commit is on disk, and survives a power loss.
/// [`SqliteEventStoreBuilder::synchronous_full`] with `false` sets
/// `NORMAL`, which survives a crash of the process but may lose the last
/// commits on a power loss (a `kill -9` cannot tell the two apart).
///
/// SQLite has one writer at a time: each append takes the file's write
/// lock for its transaction (`BEGIN IMMEDIATE`), so appends of every
/// process using the file follow each other and the global order is the
/// commit order, without gaps. Another process's lock is waited for up to
/// the busy timeout (5 s by default), then the append fails as
/// [`StoreError::Unavailable`](es_core::StoreError::Unavailable). Readers
/// read a snapshot each, beside the writer; keep read transactions short,
/// as a long one keeps the log from being checkpointed into the file.
///
/// Not for network file systems: SQLite's locks are only as good as the
/// file system's. Back a live store up with [`backup_to`](Self::backup_to).
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    pub(crate) db: Arc<Database>,
}

impl SqliteEventStore {
    /// Opens the store in the file at `path`, creating it (and its tables)
    /// when missing, with the default settings.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        Self::builder(path).open().await
    }

    /// Opens the store `url` names: `sqlite://relative/path`,
    /// `sqlite:///absolute/path` or `sqlite::memory:`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), es_sqlite::SqliteError> {
    /// let store = es_sqlite::SqliteEventStore::connect("sqlite::memory:").await?;
    /// assert_eq!(store.path(), None);
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, SqliteError> {
        Self::builder_from_url(url)?.open().await
    }

    /// A builder for the store `url` names (see [`connect`](Self::connect)).
    pub fn builder_from_url(url: &str) -> Result<SqliteEventStoreBuilder, SqliteError> {
        Ok(SqliteEventStoreBuilder { path: url::parse(url)?, settings: Settings::default() })
    }

    /// A store in memory, for tests: nothing survives the process.
    pub async fn open_in_memory() -> Result<Self, SqliteError> {
        SqliteEventStoreBuilder { path: None, settings: Settings::default() }.open().await
    }

    /// A builder for the store in the file at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteEventStoreBuilder {
        SqliteEventStoreBuilder { path: Some(path.as_ref().to_path_buf()), settings: Settings::default() }
    }

    /// The version of the newest migration this release ships; opening a
    /// file applies the ones it lacks.
    pub fn latest_migration() -> u32 {
        crate::database::latest_migration()
    }

    /// The file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.db.path()
    }

    /// Copies the whole store, consistent as of one instant, to a new file
    /// at `path` (`VACUUM INTO`), while the store goes on being used: the
    /// documented way to back it up.
    pub async fn backup_to(&self, path: impl AsRef<Path>) -> Result<(), StoreError> {
        let target = path.as_ref().to_string_lossy().into_owned();
        let copied = self.db.with_writer(move |c| Ok(c.execute("VACUUM INTO ?1", [target]).map(drop)?)).await;
        Ok(copied?)
    }
}

/// Configures a [`SqliteEventStore`].
///
/// ```no_run
/// # async fn f() -> Result<(), es_sqlite::SqliteError> {
/// let store = es_sqlite::SqliteEventStore::builder("orders.sqlite3")
///     .busy_timeout(std::time::Duration::from_secs(10))
///     .open()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteEventStoreBuilder {
    path: Option<PathBuf>,
    settings: Settings,
}

impl SqliteEventStoreBuilder {
    /// The largest event payload an append takes, in bytes (default
    /// [`DEFAULT_MAX_EVENT_SIZE`](es_core::DEFAULT_MAX_EVENT_SIZE), 960 KiB);
    /// a larger one is refused with
    /// [`StoreError::EventTooLarge`](es_core::StoreError::EventTooLarge)
    /// before anything is written.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.settings.max_event_size = bytes;
        self
    }

    /// How long a write waits for another process's write lock before it
    /// fails as unavailable (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.settings.busy_timeout = timeout;
        self
    }

    /// Whether a commit waits until it is on disk (`synchronous=FULL`, the
    /// default: it survives a power loss) or only until it is in the
    /// operating system (`NORMAL`: it survives a crash of the process).
    pub fn synchronous_full(mut self, full: bool) -> Self {
        self.settings.full_sync = full;
        self
    }

    /// Whether a missing file is created with its tables (the default) or
    /// refused as [`SqliteError::Missing`], as a tool that only inspects a
    /// store wants.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.settings.create = create;
        self
    }

    /// How many connections read beside the writing one (default 4).
    pub fn readers(mut self, readers: usize) -> Self {
        self.settings.readers = readers.max(1);
        self
    }

    /// Opens the file, creating it and its tables when missing, off the
    /// async runtime's workers.
    pub async fn open(self) -> Result<SqliteEventStore, SqliteError> {
        let (path, settings) = (self.path, self.settings);
        let opened =
            tokio::task::spawn_blocking(move || Database::open(path.as_deref(), &settings, Tables::Store)).await;
        let db = opened.unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))?;
        Ok(SqliteEventStore { db: Arc::new(db) })
    }
}
