//! [`Error`]: why a page could not be shown or an action not taken, and the
//! page that says so.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use es_core::{DecodeError, ProjectionError, StoreError};
use es_postgres::PgError;
use es_postgres::tokio_postgres;
use maud::html;

use crate::pages::layout;

/// Why the console could not serve a request or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store refused a read or a write.
    #[error("the event store failed: {0}")]
    Store(#[from] StoreError),
    /// No connection could be had from the store's pool.
    #[error("no connection to the database: {0}")]
    Connection(#[from] PgError),
    /// A query of the console's own failed.
    #[error("a query of the console failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// A projection refused an action on its parked events.
    #[error("the projection refused: {0}")]
    Projection(#[from] ProjectionError),
    /// A stored event does not decode with the application's types.
    #[error("event {version} of stream `{stream_id}` does not decode with the application's types: {source}")]
    Decode {
        /// The event's stream.
        stream_id: String,
        /// The event's version in its stream.
        version: u64,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// An aggregate's state does not serialize to JSON.
    #[error("the aggregate's state does not serialize to JSON: {source}")]
    State {
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// A column held a value out of its range (a negative count).
    #[error("column `{column}` holds {value}, which is out of range: is this an es event store?")]
    OutOfRange {
        /// The column.
        column: &'static str,
        /// What it holds.
        value: i64,
    },
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
    #[error("the console could not serve on {address}: {source}")]
    Serve {
        /// The address it was to listen on.
        address: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) | Error::Decode { .. } => StatusCode::BAD_REQUEST,
            Error::ReadOnly | Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Projection(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message with each cause not already in it.
    fn report(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        message
    }

    /// The error as a fragment of a page, for htmx to swap in where the
    /// request was made.
    pub(crate) fn into_fragment(self) -> Response {
        (self.status(), html! { p.error role="alert" { (self.report()) } }).into_response()
    }
}

/// The error as a page of its own.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        (status, layout::error(status, &self.report())).into_response()
    }
}
