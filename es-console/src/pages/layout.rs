//! The frame around every page, and how an error is shown: as a page of
//! its own, or as the fragment htmx swaps in where an action was asked.

use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::error::Error;

/// The htmx release the pages use, shipped in the crate and served from its
/// own route, so that the console needs nothing from elsewhere.
pub(crate) const HTMX: &str = "/static/htmx-2.0.8.min.js";

/// htmx reads its settings from this tag: no `<style>` of its own (the
/// policy refuses inline styles), no `eval`, and responses of any status
/// swapped in, so that a refused action says why where it was asked.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

/// A whole page: `title`, the navigation with `section` marked, `body`.
pub(crate) fn page(title: &str, section: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · es console" }
                link rel="stylesheet" href="/static/console.css";
                script src=(HTMX) defer {}
                script src="/static/console.js" defer {}
            }
            body {
                nav {
                    span.brand { "es console" }
                    @for (href, name) in [("/streams", "Streams"), ("/projections", "Projections"), ("/tail", "Live tail")] {
                        a href=(href) class=[(name == section).then_some("current")] { (name) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The error as a page of its own: what happened and what to do.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (status.as_u16()) " " (reason) }
            p.error role="alert" { (self.report()) }
        };
        (status, page(reason, "", body)).into_response()
    }
}

/// The error as a fragment of a page, for htmx to swap in where the
/// request was made.
pub(crate) fn fragment(error: Error) -> Response {
    (error.status(), html! { p.error role="alert" { (error.report()) } }).into_response()
}
