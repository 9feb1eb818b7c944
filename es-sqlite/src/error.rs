//! [`SqliteError`], what opening a store or a target can fail with, and
//! [`Error`], what the crate's own functions fail with: driver errors turn
//! into it with `?`, and it turns into es-core's [`StoreError`] once, where
//! a trait method returns.

use std::path::PathBuf;

use es_core::{ExpectedVersion, StoreError};
use rusqlite::ErrorCode;

/// Why a SQLite store or target could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The URL does not name a SQLite database.
    #[error("`{url}` is not the URL of a SQLite store: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it, and the forms that work.
        reason: String,
    },
    /// There is no file at the path, and the store was told not to create
    /// one.
    #[error("there is no SQLite database at {}; check the path", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The file could not be opened or set up.
    #[error("cannot open the SQLite database {}; check the path and its directory's permissions", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's complaint.
        #[source]
        cause: rusqlite::Error,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} ({name}) of {} failed", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// The migration's version.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// SQLite's complaint.
        #[source]
        cause: rusqlite::Error,
    },
    /// The file holds a migration this release does not know: a newer
    /// release migrated it.
    #[error(
        "{} has migration {version} applied, which this release of es-sqlite does not know; upgrade es-sqlite",
        path.display()
    )]
    UnknownMigration {
        /// The file.
        path: PathBuf,
        /// The unknown migration's version.
        version: u32,
    },
    /// Another process held the database's write lock past the busy
    /// timeout while the file was being set up.
    #[error("{} stayed locked by another connection past the busy timeout", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
    },
}

/// Why an operation of the store failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// SQLite refused or failed a statement.
    Sqlite(rusqlite::Error),
    /// What es-core decided: an invalid stream id or payload, a stream of
    /// another aggregate type.
    Core(StoreError),
    /// The stream is not at the expected version.
    Conflict { stream_id: String, expected: ExpectedVersion, actual: u64 },
    /// A command with this id was committed on the stream before.
    DuplicateCommand { stream_id: String, command_id: String },
    /// A command with this id was committed on another stream.
    CommandIdTaken { stream_id: String, command_id: String, committed_on: String },
    /// A value SQLite cannot hold, and why.
    InvalidInput(String),
    /// A stored row that cannot be read back.
    Corrupt { stream_id: String, version: u64, cause: String },
    /// The blocking task running the statements failed.
    Task(tokio::task::JoinError),
    /// A projection's handler failed, on the blocking pool.
    Handler(es_core::BoxError),
    /// A call of a unit of work whose transaction is no longer open: the
    /// runner gave the unit up.
    Abandoned,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Core(e)
    }
}

/// A lock another connection holds past the busy timeout is an outage
/// (retry later); anything else SQLite refuses is a failure of the store.
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Sqlite(e) if is_busy(&e) => StoreError::Unavailable(Box::new(Busy(e))),
            Error::Sqlite(e) => StoreError::Backend(Box::new(e)),
            Error::Core(e) => e,
            Error::Conflict { stream_id, expected, actual } => StoreError::Conflict { stream_id, expected, actual },
            Error::DuplicateCommand { stream_id, command_id } => StoreError::DuplicateCommand { stream_id, command_id },
            Error::CommandIdTaken { stream_id, command_id, committed_on } => {
                StoreError::CommandIdTaken { stream_id, command_id, committed_on }
            }
            Error::InvalidInput(reason) => StoreError::InvalidInput { reason },
            Error::Corrupt { stream_id, version, cause } => StoreError::Corrupt { stream_id, version, cause },
            Error::Task(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Error::Task(e) => StoreError::Unavailable(Box::new(e)),
            Error::Handler(e) => StoreError::Backend(e),
            Error::Abandoned => StoreError::Unavailable("the unit of work was given up before this call".into()),
        }
    }
}

/// The database stayed locked by another connection past the busy timeout.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite database stayed locked by another connection past the busy timeout; retry, or raise busy_timeout")]
struct Busy(#[source] rusqlite::Error);

/// Whether SQLite refused because another connection holds a lock.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}
