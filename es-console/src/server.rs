//! How the console is served: its routes, the headers every response
//! carries, and its own static files.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::console::{Console, Shared};
use crate::error::Error;
use crate::pages::layout::HTMX;
use crate::pages::{freeze, projections, stream, streams, tail, upcast};

impl Console {
    /// The console's routes, to serve or to merge into an application's own
    /// axum router at its root (the pages link to each other by absolute
    /// paths).
    pub fn router(self) -> axum::Router {
        router(Arc::new(self))
    }

    /// Serves the console on `address` (such as [`DEFAULT_ADDRESS`](crate::DEFAULT_ADDRESS)) until
    /// the process ends.
    pub async fn serve(self, address: &str) -> Result<(), Error> {
        let serve_error = |source| Error::Serve { address: address.to_owned(), source };
        let listener = TcpListener::bind(address).await.map_err(serve_error)?;
        self.serve_on(listener).await
    }

    /// Serves the console on a listener the caller bound (on port 0, say,
    /// to let the system pick a free one).
    pub async fn serve_on(self, listener: TcpListener) -> Result<(), Error> {
        let address = listener.local_addr().map_or_else(|_| "?".to_owned(), |a: SocketAddr| a.to_string());
        axum::serve(listener, self.router()).await.map_err(|source| Error::Serve { address, source })
    }
}

/// Scripts, styles, and requests only from the console's own routes;
/// nothing inline, no frames, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn router(console: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/streams") }))
        .route("/streams", get(streams::list))
        .route("/streams/{id}", get(stream::page))
        .route("/streams/{id}/state/{version}", get(stream::state))
        .route("/streams/{id}/events/{version}/upcast", get(upcast::page))
        .route("/streams/{id}/freeze", get(freeze::page))
        .route("/projections", get(projections::list))
        .route("/projections/{name}/reset", post(projections::reset))
        .route("/projections/{name}/parked", get(projections::parked))
        .route("/projections/{name}/parked/{id}/retry", post(projections::retry))
        .route("/projections/{name}/parked/{id}/discard", post(projections::discard))
        .route("/tail", get(tail::page))
        .route("/tail/events", get(tail::events))
        .route(HTMX, get(|| static_file("text/javascript", include_str!("../static/htmx-2.0.8.min.js"))))
        .route("/static/console.js", get(|| static_file("text/javascript", include_str!("../static/console.js"))))
        .route("/static/console.css", get(|| static_file("text/css", include_str!("../static/console.css"))))
        .layer(middleware::from_fn(secure_headers))
        .with_state(console)
}

async fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Adds the Content-Security-Policy and its companions to every response.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
