//! The routes, the headers every response carries, the console's own
//! static files, and the token that guards actions.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq as _;

use crate::console::Console;
use crate::error::Error;
use crate::pages::{freeze, projections, stream, streams, tail, upcast};

/// Scripts, styles, and requests only from the console's own routes;
/// nothing inline, no frames, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The htmx release the pages use, shipped in the crate and served from its
/// own route, so that the console needs nothing from elsewhere.
pub(crate) const HTMX: &str = "/static/htmx-2.0.8.min.js";

/// The shared state of the handlers.
pub(crate) type Shared = Arc<Console>;

pub(crate) fn router(console: Shared) -> Router {
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

/// Admits an action that changes the store: the console has a token and
/// the request carries the same, compared in constant time.
pub(crate) fn authorize(console: &Console, given: Option<&str>) -> Result<(), Error> {
    let Some(token) = &console.token else { return Err(Error::ReadOnly) };
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => Ok(()),
        _ => Err(Error::Forbidden),
    }
}
