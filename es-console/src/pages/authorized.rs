//! [`Authorized`]: the extractor that admits the actions that change the
//! store.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::response::Response;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::console::Shared;
use crate::error::Error;
use crate::pages::layout;

/// A request that may change the store: the console has a token, and the
/// request's form carries the same, compared in constant time. A handler
/// that takes one runs only for such requests; any other is answered with
/// the fragment that says why.
#[derive(Debug)]
pub(crate) struct Authorized;

/// What an action's form carries.
#[derive(Debug, Default, Deserialize)]
struct ActionForm {
    token: Option<String>,
}

impl FromRequest<Shared> for Authorized {
    type Rejection = Response;

    async fn from_request(request: Request, console: &Shared) -> Result<Self, Response> {
        let Some(token) = &console.token else { return Err(layout::fragment(Error::ReadOnly)) };
        let Form(form) = Form::<ActionForm>::from_request(request, console)
            .await
            .map_err(|e| layout::fragment(Error::BadRequest(e.body_text())))?;
        match form.token {
            Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => Ok(Authorized),
            _ => Err(layout::fragment(Error::Forbidden)),
        }
    }
}
