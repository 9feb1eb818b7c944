//! Errors of configuration and migration, and how driver errors map onto
//! [`StoreError`].

use std::error::Error as StdError;
use std::io;

use deadpool_postgres::{BuildError, PoolError};
use es_core::{BoxError, StoreError};
use tokio_postgres::error::SqlState;

/// An error while configuring, connecting or migrating a [`PgEventStore`](crate::PgEventStore).
///
/// Reading and writing events fail with [`es_core::StoreError`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection string does not parse.
    #[error("invalid connection string: {0}")]
    Config(#[source] tokio_postgres::Error),
    /// The schema name cannot be used.
    #[error("invalid schema name {name:?}: {reason}")]
    InvalidSchema {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The connection pool cannot be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(#[source] BuildError),
    /// The database cannot be reached.
    #[error("the database is unreachable: {0}")]
    Unavailable(#[source] BoxError),
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} ({name}) of schema {schema} failed: {source}")]
    Migration {
        /// The schema being migrated.
        schema: String,
        /// The migration's version.
        version: i32,
        /// The migration's name.
        name: &'static str,
        /// The database's complaint.
        source: tokio_postgres::Error,
    },
    /// The schema holds a migration this version of the crate does not know:
    /// it was migrated by a newer release.
    #[error(
        "schema {schema} has migration {version} applied, which this release of es-postgres does not know; upgrade es-postgres"
    )]
    UnknownMigration {
        /// The schema.
        schema: String,
        /// The unknown migration's version.
        version: i32,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] tokio_postgres::Error),
}

impl From<PoolError> for PgError {
    fn from(e: PoolError) -> Self {
        PgError::Unavailable(Box::new(e))
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_unavailable(&e) { PgError::Unavailable(Box::new(e)) } else { PgError::Database(e) }
    }
}

/// A pool error: the database could not be reached in time.
pub(crate) fn pool_error(e: PoolError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// A driver error: [`StoreError::Unavailable`] when the connection is gone,
/// [`StoreError::Backend`] otherwise.
pub(crate) fn store_error(e: tokio_postgres::Error) -> StoreError {
    if is_unavailable(&e) { StoreError::Unavailable(Box::new(e)) } else { StoreError::Backend(Box::new(e)) }
}

/// Whether the error means the server cannot be reached (rather than that it
/// refused a statement).
pub(crate) fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
        }
        None => e.source().is_some_and(|s| s.is::<io::Error>()),
    }
}

/// Whether the error is the unique violation of `constraint`.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint))
}
