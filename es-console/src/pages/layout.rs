//! The frame around every page, and the page of an error.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::server::HTMX;

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

/// The page of an error: what happened and what to do.
pub(crate) fn error(status: StatusCode, message: &str) -> Markup {
    page(
        status.canonical_reason().unwrap_or("Error"),
        "",
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.error role="alert" { (message) }
        },
    )
}
