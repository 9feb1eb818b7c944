//! [`Error`]: why a page could not be shown or an action not taken, and
//! the status it answers with (the pages render it).

use axum::http::StatusCode;
use es_core::admin::{AdminError, FoldError};
use es_core::{DecodeError, ErrorReport, ProjectionError, StoreError};

/// Why the console could not serve a request or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store refused a read or a write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store refused an operator's action, or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A projection refused an action on its parked events.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A stored event does not decode with the application's types.
    #[error("event {version} of stream `{stream_id}` does not decode with the application's types")]
    Decode {
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// A stream could not be folded with its aggregate.
    #[error(transparent)]
    Fold(#[from] FoldError),
    /// Nothing is stored under what the request names.
    #[error("{0}")]
    NotFound(String),
    /// The request's parameters make no sense.
    #[error("{0}")]
    BadRequest(String),
    /// An action that changes the store, on a console started without a token.
    #[error("the console is read-only: start it with a token (`Console::token`) to retry, discard or reset")]
    ReadOnly,
    /// An action whose request carries no token, or the wrong one.
    #[error("the token is missing or wrong: type the token the console was started with")]
    Forbidden,
    /// The console could not listen or serve.
    #[error("the console could not serve on {address}")]
    Serve {
        /// The address it was to listen on.
        address: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) | Error::Decode { .. } | Error::Fold(FoldError::Decode { .. }) => {
                StatusCode::BAD_REQUEST
            }
            Error::ReadOnly | Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Admin(AdminError::UnknownProjection { .. } | AdminError::NotParked { .. }) => StatusCode::NOT_FOUND,
            Error::Projection(_) | Error::Admin(AdminError::Running { .. }) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message with each cause not already in it.
    pub(crate) fn report(&self) -> String {
        ErrorReport::new(self).to_string()
    }
}
