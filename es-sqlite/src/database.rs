//! [`Database`]: one SQLite file, its connections and how statements run on
//! them — never on the async runtime's workers: each call runs on Tokio's
//! blocking pool.
//!
//! A file has one writing connection (SQLite has one writer at a time;
//! within a process the writes queue on it) and a few reading ones, which
//! WAL mode lets read while the writer writes. An in-memory database has
//! one connection for both, since every connection to `:memory:` is a
//! database of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, SqliteError, is_busy};

/// How the connections of a file are set up.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long a statement waits for another connection's lock.
    pub(crate) busy_timeout: Duration,
    /// `synchronous=FULL` (true) or `NORMAL`.
    pub(crate) full_sync: bool,
    /// How many reading connections a file gets.
    pub(crate) readers: usize,
    /// Whether a missing file is created.
    pub(crate) create: bool,
    /// The largest event payload appends take, in bytes.
    pub(crate) max_event_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            busy_timeout: Duration::from_secs(5),
            full_sync: true,
            readers: 4,
            create: true,
            max_event_size: es_core::DEFAULT_MAX_EVENT_SIZE,
        }
    }
}

/// One migration of a file.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// The newest migration's version.
pub(crate) fn latest_migration() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "events", sql: include_str!("../migrations/0001_events.sql") },
    Migration { version: 2, name: "checkpoints", sql: include_str!("../migrations/0002_checkpoints.sql") },
    Migration { version: 3, name: "subject_keys", sql: include_str!("../migrations/0003_subject_keys.sql") },
    Migration {
        version: 4,
        name: "commands_per_store",
        sql: include_str!("../migrations/0004_commands_per_store.sql"),
    },
];

/// Which tables a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// An event store's: every table, read models' included.
    Store,
    /// A target's, where read models live apart from the store: the
    /// checkpoints and parked events.
    ReadModels,
}

impl Tables {
    fn include(self, migration: &Migration) -> bool {
        self == Tables::Store || migration.name == "checkpoints"
    }
}

/// A SQLite file (or an in-memory database) and its connections.
#[derive(Debug)]
pub(crate) struct Database {
    path: Option<PathBuf>,
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Arc<Mutex<Connection>>>,
    next: AtomicUsize,
    pub(crate) settings: Settings,
    /// Counts the commits of this process, to wake its runners and waiters
    /// at once; other processes' commits are seen by polling.
    commits: tokio::sync::watch::Sender<u64>,
}

fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A statement that panicked cannot leave the connection half-changed:
    // SQLite rolls an unfinished transaction back before the next one.
    connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Database {
    /// Opens (creating when missing) the file at `path`, or an in-memory
    /// database when `path` is `None`, and applies the migrations of
    /// `tables` it lacks.
    pub(crate) fn open(path: Option<&Path>, settings: &Settings, tables: Tables) -> Result<Self, SqliteError> {
        let shown = path.map_or_else(|| PathBuf::from(":memory:"), Path::to_path_buf);
        let failed = |cause| SqliteError::Open { path: shown.clone(), cause };
        if path.is_some_and(|path| !settings.create && !path.exists()) {
            return Err(SqliteError::Missing { path: shown });
        }
        let open = |read_only| connect(path, settings, read_only);
        let mut writer = open(false).map_err(failed)?;
        migrate(&mut writer, &shown, tables)?;
        let readers = match path {
            Some(_) => (0..settings.readers.max(1))
                .map(|_| open(true).map(|c| Arc::new(Mutex::new(c))))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?,
            None => Vec::new(),
        };
        Ok(Database {
            path: path.map(Path::to_path_buf),
            writer: Arc::new(Mutex::new(writer)),
            readers,
            next: AtomicUsize::new(0),
            settings: settings.clone(),
            commits: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The file, `None` in memory.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Notes that a transaction of this process committed.
    pub(crate) fn committed(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Resolves at the next commit of this process, or after `timeout`.
    pub(crate) async fn next_commit(&self, timeout: Duration) {
        let mut commits = self.commits.subscribe();
        let _ = tokio::time::timeout(timeout, commits.changed()).await;
    }

    /// Runs `write` in a write transaction (`BEGIN IMMEDIATE`: it holds the
    /// file's write lock from its start, so that what it reads stays true
    /// until it commits) on the blocking pool, committing when it returns
    /// `Ok`.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            let mut connection = lock(&writer);
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let written = write(&tx)?;
            tx.commit()?;
            Ok(written)
        })
        .await
    }

    /// Runs `read` in a read transaction (one snapshot of the file) on a
    /// reading connection, on the blocking pool.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let connection = self.reader();
        blocking(move || {
            let mut connection = lock(&connection);
            let tx = connection.transaction_with_behavior(TransactionBehavior::Deferred)?;
            read(&tx)
        })
        .await
    }

    /// Runs `work` with the writing connection itself, outside any
    /// transaction the store opens, on the blocking pool.
    pub(crate) async fn with_writer<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let writer = Arc::clone(&self.writer);
        blocking(move || work(&mut lock(&writer))).await
    }

    /// A writing connection of its own, for a runner whose units of work
    /// keep a transaction open across calls; `None` in memory, where every
    /// connection is a database of its own.
    pub(crate) async fn own_connection(&self) -> Result<Option<Connection>, Error> {
        let Some(path) = self.path.clone() else { return Ok(None) };
        let settings = self.settings.clone();
        let connection = blocking(move || Ok(connect(Some(&path), &settings, false)?)).await?;
        Ok(Some(connection))
    }

    fn reader(&self) -> Arc<Mutex<Connection>> {
        if self.readers.is_empty() {
            return Arc::clone(&self.writer);
        }
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        Arc::clone(&self.readers[at])
    }
}

/// A connection to `path` (in memory when `None`) set up as `settings` say.
fn connect(path: Option<&Path>, settings: &Settings, read_only: bool) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = match path {
        Some(path) => Connection::open_with_flags(path, flags)?,
        None => Connection::open_in_memory()?,
    };
    connection.busy_timeout(settings.busy_timeout)?;
    if path.is_some() {
        // WAL: readers read while the writer writes, and a commit is one
        // append to the log.
        connection.pragma_update(None, "journal_mode", "WAL")?;
    }
    connection.pragma_update(None, "synchronous", if settings.full_sync { "FULL" } else { "NORMAL" })?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // What is deleted (a forgotten subject's key) is overwritten with
    // zeros, not left in a free page.
    connection.pragma_update(None, "secure_delete", "ON")?;
    if read_only {
        connection.pragma_update(None, "query_only", "ON")?;
    }
    Ok(connection)
}

/// Runs `work` on Tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.map_err(Error::Task)?
}

/// Applies the migrations the file lacks, in one write transaction, so
/// that processes opening the file at once wait for each other.
fn migrate(connection: &mut Connection, path: &Path, tables: Tables) -> Result<(), SqliteError> {
    let failed = |cause: rusqlite::Error| match is_busy(&cause) {
        true => SqliteError::Busy { path: path.to_path_buf() },
        false => SqliteError::Open { path: path.to_path_buf(), cause },
    };
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL DEFAULT (unixepoch())
         ) STRICT;",
    )
    .map_err(failed)?;
    let applied: Vec<i64> = {
        let mut statement = tx.prepare("SELECT version FROM schema_migrations ORDER BY version").map_err(failed)?;
        statement.query_map([], |row| row.get(0)).map_err(failed)?.collect::<Result<_, _>>().map_err(failed)?
    };
    if let Some(&unknown) = applied.iter().find(|v| !MIGRATIONS.iter().any(|m| i64::from(m.version) == **v)) {
        let version = u32::try_from(unknown).unwrap_or(u32::MAX);
        return Err(SqliteError::UnknownMigration { path: path.to_path_buf(), version });
    }
    for migration in MIGRATIONS.iter().filter(|m| tables.include(m) && !applied.contains(&i64::from(m.version))) {
        let failed = |cause| SqliteError::Migration {
            path: path.to_path_buf(),
            version: migration.version,
            name: migration.name,
            cause,
        };
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            (migration.version, migration.name),
        )
        .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}
