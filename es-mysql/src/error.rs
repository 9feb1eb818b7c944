//! [`MySqlError`], what connecting to a target can fail with, and
//! [`Error`], what the crate's own functions fail with: driver errors turn
//! into it with `?`, and it turns into es-core's [`StoreError`] once, where
//! a trait method returns.

use es_core::StoreError;

/// Why a MariaDB or MySQL target could not be reached or set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MySqlError {
    /// The URL does not parse.
    #[error("`{url}` is not a MariaDB/MySQL URL; write mysql://user:password@host:3306/database")]
    Url {
        /// The URL, its password left out.
        url: String,
        /// The driver's complaint.
        #[source]
        cause: mysql_async::UrlError,
    },
    /// The URL names no database for the read models.
    #[error("the URL names no database: add the read models' database, as in mysql://user@host/read_models")]
    NoDatabase,
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to the MariaDB/MySQL server at {address}")]
    Connect {
        /// Host and port.
        address: String,
        /// The driver's complaint.
        #[source]
        cause: mysql_async::Error,
    },
    /// Creating the checkpoint and parked-event tables failed.
    #[error("cannot create the tables of checkpoints and parked events in database `{database}`")]
    Setup {
        /// The database.
        database: String,
        /// The server's complaint.
        #[source]
        cause: mysql_async::Error,
    },
    /// A table of the read models' database cannot roll back, so its writes
    /// would not commit with the checkpoint.
    #[error(
        "table `{table}` uses the {engine} engine, which has no transactions: its writes cannot commit with the \
         checkpoint; convert it with ALTER TABLE `{table}` ENGINE=InnoDB"
    )]
    NotTransactional {
        /// The table.
        table: String,
        /// Its engine.
        engine: String,
    },
}

/// Why an operation of a target failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// The server refused or failed a statement, or the connection broke.
    Driver(mysql_async::Error),
    /// A value the tables cannot hold, and why.
    InvalidInput(String),
    /// A stored row that cannot be read back.
    Corrupt(String),
    /// A handler's statement ended the page's transaction before its
    /// checkpoint could commit with it.
    EndedTransaction,
}

impl From<mysql_async::Error> for Error {
    fn from(e: mysql_async::Error) -> Self {
        Error::Driver(e)
    }
}

/// A lost connection, a deadlock or a lock wait that timed out is an outage
/// (retry later); anything else the server refuses is a failure.
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Driver(e) if is_outage(&e) => StoreError::Unavailable(Box::new(e)),
            Error::Driver(e) => StoreError::Backend(Box::new(e)),
            Error::InvalidInput(reason) => StoreError::InvalidInput { reason },
            Error::Corrupt(cause) => StoreError::Corrupt { stream_id: "<checkpoints>".into(), version: 0, cause },
            Error::EndedTransaction => StoreError::Backend(Box::new(EndedTransaction)),
        }
    }
}

/// A handler committed the page's transaction early.
#[derive(Debug, thiserror::Error)]
#[error(
    "a statement of the projection ended the page's transaction before its checkpoint: DDL (CREATE, ALTER, \
     DROP, TRUNCATE, RENAME) commits implicitly in MariaDB and MySQL; write the read model with DML only (DELETE \
     instead of TRUNCATE) and create tables in `setup`"
)]
pub(crate) struct EndedTransaction;

/// Server errors that retrying the transaction resolves: a deadlock
/// (1213), a lock wait timeout (1205), the server shutting down (1053) or
/// gone (2006, 2013).
const TRANSIENT: [u16; 5] = [1205, 1213, 1053, 2006, 2013];

/// Whether `error`, or a cause of it, is a driver error that
/// [`is_outage`] says is one.
pub(crate) fn caused_by_outage(error: &(dyn std::error::Error + 'static)) -> bool {
    es_core::backend::caused_by(error, is_outage)
}

/// Whether `e` comes from losing the connection or from contention rather
/// than from the statement.
pub(crate) fn is_outage(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        mysql_async::Error::Server(server) => TRANSIENT.contains(&server.code),
        _ => false,
    }
}
