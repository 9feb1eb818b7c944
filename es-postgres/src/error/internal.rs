//! [`Error`]: what the crate's own functions fail with. Driver errors turn
//! into it with `?`; it turns into es-core's [`StoreError`] once, where a
//! trait method (`EventStore`, the admin traits, the projection backend)
//! returns.

use es_core::{ExpectedVersion, StoreError};

use super::PgError;
use super::classify::describe;

/// Why an operation of the store failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// A statement failed: classified when converted.
    Statement(tokio_postgres::Error),
    /// No connection could be had, or the configuration is wrong.
    Pg(PgError),
    /// What es-core decided: an invalid stream id, a stream of another
    /// aggregate type.
    Core(StoreError),
    /// The stream is not at the expected version.
    Conflict { stream_id: String, expected: ExpectedVersion, actual: u64 },
    /// The stream's head is from a transaction that started writing after
    /// the appending one.
    OutOfOrder { stream_id: String, actual: u64 },
    /// A command with this id was committed on the stream before.
    DuplicateCommand { stream_id: String, command_id: String },
    /// A command with this id was committed on another stream.
    CommandIdTaken { stream_id: String, command_id: String, committed_on: String },
    /// A value the store cannot hold, and why.
    InvalidInput(String),
    /// A stored row that cannot be read back.
    Corrupt { stream_id: String, version: u64, cause: String },
    /// The database went away under a runner.
    Unavailable(es_core::BoxError),
    /// The server answered in a shape the statement cannot give.
    Unexpected(String),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Statement(e)
    }
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Self {
        Error::Pg(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Core(e)
    }
}

/// The one conversion. A data exception (SQLSTATE class 22) is a value the
/// server cannot store, such as a payload string holding `\u0000`, which
/// `jsonb` refuses: invalid input, named with the server's words.
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Statement(e) if e.code().is_some_and(|code| code.code().starts_with("22")) => {
                StoreError::InvalidInput { reason: format!("PostgreSQL cannot store a value: {}", describe(&e)) }
            }
            Error::Statement(e) => PgError::from(e).into(),
            Error::Pg(e) if e.is_unavailable() => StoreError::Unavailable(Box::new(e)),
            Error::Pg(e) => StoreError::Backend(Box::new(e)),
            Error::Core(e) => e,
            Error::Conflict { stream_id, expected, actual } => StoreError::Conflict { stream_id, expected, actual },
            Error::OutOfOrder { stream_id, actual } => StoreError::OutOfOrder { stream_id, actual },
            Error::DuplicateCommand { stream_id, command_id } => StoreError::DuplicateCommand { stream_id, command_id },
            Error::CommandIdTaken { stream_id, command_id, committed_on } => {
                StoreError::CommandIdTaken { stream_id, command_id, committed_on }
            }
            Error::InvalidInput(reason) => StoreError::InvalidInput { reason },
            Error::Corrupt { stream_id, version, cause } => StoreError::Corrupt { stream_id, version, cause },
            Error::Unavailable(cause) => StoreError::Unavailable(cause),
            Error::Unexpected(what) => StoreError::Backend(what.into()),
        }
    }
}
