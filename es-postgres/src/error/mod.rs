//! Errors of configuration, connection and migration, and how driver and
//! pool errors map onto them and onto [`StoreError`].
//!
//! Every message says what happened, carries the server's words (message,
//! detail, hint, SQLSTATE) and says what to do. A message that includes its
//! cause's text does not also return the cause as `source()`, so printing
//! the chain never repeats a line.

mod classify;
mod internal;

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

use deadpool_postgres::{PoolError, TimeoutType};
use es_core::{BoxError, StoreError};
use tokio_postgres::error::SqlState;

use classify::{Kind, connection_lost, describe, endpoint, not_ready, tls_advice};
pub(crate) use classify::{is_outage, is_unique_violation};
pub(crate) use internal::Error;

/// What went wrong configuring, connecting to or migrating a
/// [`PgEventStore`](crate::PgEventStore). Reading and writing events fail
/// with [`es_core::StoreError`], which carries this error:
/// [`StoreError::Unavailable`] when [`is_unavailable`](Self::is_unavailable),
/// [`StoreError::Backend`] otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection string or configuration is wrong.
    #[error("invalid connection string{}: {reason}", option.as_ref().map(|o| format!(" (option `{o}`)")).unwrap_or_default())]
    InvalidConfig {
        /// The option at fault, when one is.
        option: Option<String>,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// The schema name cannot be used.
    #[error("invalid schema name {name:?}: {reason}")]
    InvalidSchema {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A partition index not below the number of partitions.
    #[error("there is no partition {index} of {count}: partitions are numbered from 0 to {count} - 1")]
    InvalidPartition {
        /// The index asked for.
        index: u32,
        /// The number of partitions.
        count: u32,
    },
    /// The certificate authority file cannot be used.
    #[error("cannot use CA file {}: {reason}; give a readable PEM file of the server's certificate authority", path.display())]
    InvalidCaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection pool cannot be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    /// No connection to the server could be opened.
    #[error("cannot reach PostgreSQL at {endpoint}: {reason}")]
    Unreachable {
        /// The host(s) and port(s) tried.
        endpoint: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An open connection broke.
    #[error("the connection to PostgreSQL was lost: {reason}; the server restarted or the network dropped, retry")]
    ConnectionLost {
        /// What the driver or server said.
        reason: String,
    },
    /// Every connection of the pool stayed in use past the wait timeout.
    #[error(
        "all {pool_size} connections of the pool stayed busy past the wait timeout; \
         raise `pool_size` or `wait_timeout` on the builder, or hold connections for shorter"
    )]
    PoolExhausted {
        /// The pool's size.
        pool_size: usize,
    },
    /// The TLS handshake failed or TLS cannot be set up.
    #[error("TLS {}failed: {reason}", endpoint.as_ref().map(|e| format!("with {e} ")).unwrap_or_default())]
    Tls {
        /// The host and port, when connecting.
        endpoint: Option<String>,
        /// Why, and what to do.
        reason: String,
    },
    /// The server refused the credentials.
    #[error(
        "authentication failed for user `{user}`: {server}; check the user and password in the connection \
         string and the server's pg_hba.conf"
    )]
    Authentication {
        /// The user connected as.
        user: String,
        /// The server's (or driver's) words.
        server: String,
    },
    /// The database named in the connection string does not exist.
    #[error(
        "database `{database}` does not exist ({server}); create it (`CREATE DATABASE`) or fix the \
         database name in the connection string"
    )]
    DatabaseMissing {
        /// The database's name.
        database: String,
        /// The server's words.
        server: String,
    },
    /// The role named in the connection string does not exist.
    #[error(
        "role `{role}` does not exist ({server}); create it (`CREATE ROLE … LOGIN`) or fix the user in the \
         connection string"
    )]
    RoleMissing {
        /// The role's name.
        role: String,
        /// The server's words.
        server: String,
    },
    /// The store's schema or tables do not exist.
    #[error("the event store's tables are missing ({server}); call `migrate()` once before using the store")]
    NotMigrated {
        /// The server's words, naming the missing relation or schema.
        server: String,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} ({name}) of schema {schema} failed")]
    Migration {
        /// The schema being migrated.
        schema: String,
        /// The migration's version.
        version: i32,
        /// The migration's name.
        name: &'static str,
        /// The database's complaint.
        #[source]
        cause: Box<PgError>,
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
    /// The server refused a statement for another reason.
    #[error("PostgreSQL refused a statement: {}", describe(.0))]
    Database(tokio_postgres::Error),
}

impl PgError {
    /// Whether the server could not be reached or the connection broke:
    /// worth retrying later, unlike a refused statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PgError::Unreachable { .. } | PgError::ConnectionLost { .. } | PgError::PoolExhausted { .. })
    }

    /// The SQLSTATE of a server error, when the server sent one.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            PgError::Database(e) => e.code(),
            PgError::Migration { cause, .. } => cause.code(),
            _ => None,
        }
    }

    /// A connection string tokio-postgres refused; the option it names, if any.
    pub(crate) fn config(e: tokio_postgres::Error) -> PgError {
        let cause = e.source().map_or_else(|| e.to_string(), ToString::to_string);
        let option = cause.split('`').nth(1).map(str::to_owned);
        let reason = format!(
            "{cause}; correct it (the forms are postgres://user:password@host:5432/database?option=value \
             and host=… port=… user=… dbname=…)"
        );
        PgError::InvalidConfig { option, reason }
    }

    /// A pool error, with the driver's error inside it classified as
    /// [`connecting`](Self::connecting) to the server `config` points at.
    pub(crate) fn pool(e: PoolError, config: &tokio_postgres::Config, pool_size: usize) -> PgError {
        match e {
            PoolError::Backend(e) => PgError::connecting(e, config),
            PoolError::Timeout(TimeoutType::Wait) => PgError::PoolExhausted { pool_size },
            PoolError::Timeout(TimeoutType::Create) => PgError::Unreachable {
                endpoint: endpoint(config),
                reason: "the server did not answer in time; check that it runs and the network lets you through"
                    .to_owned(),
            },
            other => PgError::ConnectionLost { reason: other.to_string() },
        }
    }

    /// An error while opening a connection to the server `config` points at.
    pub(crate) fn connecting(e: tokio_postgres::Error, config: &tokio_postgres::Config) -> PgError {
        let server = || describe(&e);
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let user = || config.get_user().unwrap_or("(default)").to_owned();
            if *code == SqlState::INVALID_CATALOG_NAME {
                let database = config.get_dbname().or(config.get_user()).unwrap_or("(default)").to_owned();
                return PgError::DatabaseMissing { database, server: server() };
            }
            if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION && db.message().ends_with("does not exist") {
                return PgError::RoleMissing { role: user(), server: server() };
            }
            if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
                return PgError::Authentication { user: user(), server: server() };
            }
            if let Some(state) = not_ready(code) {
                return PgError::Unreachable {
                    endpoint: endpoint(config),
                    reason: format!("the server {state} ({}); retry shortly", server()),
                };
            }
            return PgError::from(e);
        }
        match Kind::of(&e) {
            Kind::Connect => {
                let refused = e
                    .source()
                    .and_then(|s| s.downcast_ref::<io::Error>())
                    .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused);
                let reason = if refused {
                    "it refused the connection; check that the server runs and listens on that host and port".to_owned()
                } else {
                    format!("{}; check the host name and that the network lets you through", server())
                };
                PgError::Unreachable { endpoint: endpoint(config), reason }
            }
            Kind::Timeout | Kind::Closed | Kind::Io => PgError::Unreachable {
                endpoint: endpoint(config),
                reason: format!("{}; check that the server runs and the network lets you through", server()),
            },
            Kind::Tls => PgError::Tls { endpoint: Some(endpoint(config)), reason: tls_advice(&e) },
            Kind::Authentication => {
                PgError::Authentication { user: config.get_user().unwrap_or("(default)").to_owned(), server: server() }
            }
            Kind::Config => PgError::config(e),
            Kind::Other => PgError::from(e),
        }
    }
}

/// A driver error on an open connection.
/// An error of a projection's own code as the runner records it: a
/// statement the server refused becomes [`PgError::Database`], whose text
/// carries the server's message, detail, hint and SQLSTATE instead of the
/// driver's bare "db error". A lost connection stays as it is, for the
/// runner to wait it out.
pub(crate) fn of_projection(error: BoxError) -> BoxError {
    match error.downcast::<tokio_postgres::Error>() {
        Ok(e) if !connection_lost(&e) => Box::new(PgError::Database(*e)),
        Ok(e) => e,
        Err(other) => other,
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(code) = e.code() {
            if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::INVALID_SCHEMA_NAME {
                // Every statement that reaches here is the store's own, on
                // its own tables.
                return PgError::NotMigrated { server: describe(&e) };
            }
        }
        if connection_lost(&e) { PgError::ConnectionLost { reason: describe(&e) } } else { PgError::Database(e) }
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        Error::Pg(e).into()
    }
}
