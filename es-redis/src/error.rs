//! [`RedisTargetError`], what connecting to a target can fail with, and
//! [`Error`], what the crate's own functions fail with; it turns into
//! es-core's [`StoreError`] once, where a trait method returns.

use es_core::StoreError;

/// Why a Redis target could not be reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisTargetError {
    /// The URL does not parse.
    #[error("`{url}` is not a Redis URL; write redis://host:6379 (or redis://host:6379/<db number>)")]
    Url {
        /// The URL.
        url: String,
        /// The client's complaint.
        #[source]
        cause: redis::RedisError,
    },
    /// The server could not be reached.
    #[error("cannot connect to Redis at {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The client's complaint.
        #[source]
        cause: redis::RedisError,
    },
}

/// Why an operation of a target failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// Redis refused or failed a command, or the connection broke.
    Redis(redis::RedisError),
    /// A stored value that cannot be read back.
    Corrupt(String),
    /// A command of a page failed inside its script: Redis keeps the
    /// writes the script made before it.
    PartlyApplied(redis::RedisError),
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        Error::Redis(e)
    }
}

/// A lost connection or a timeout is an outage (retry later); anything
/// else Redis refuses is a failure.
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Redis(e) if is_outage(&e) => StoreError::Unavailable(Box::new(e)),
            Error::Redis(e) => StoreError::Backend(Box::new(e)),
            Error::Corrupt(cause) => StoreError::Corrupt { stream_id: "<checkpoints>".into(), version: 0, cause },
            Error::PartlyApplied(e) => StoreError::Backend(Box::new(PartlyApplied(e))),
        }
    }
}

/// A command of a page failed inside the script.
#[derive(Debug, thiserror::Error)]
#[error(
    "a command of the page failed inside its script, and Redis keeps the writes the script made before it: the \
     read model may hold part of the page, and its checkpoint did not move; fix the command and rebuild the \
     projection"
)]
pub(crate) struct PartlyApplied(#[source] redis::RedisError);

/// Whether `e` comes from the connection rather than from the command.
pub(crate) fn is_outage(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}
