//! `/projections`: each projection's checkpoint, lag and runner, and its
//! parked events with the actions that retry, discard or reset.

use std::time::SystemTime;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use es_core::Position;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::Console;
use crate::error::Error;
use crate::pages::{PAGE_SIZE, layout, segment, stream_href, time};
use crate::server::{Shared, authorize};
use crate::sql;

struct Checkpoint {
    name: String,
    position: Position,
    updated: SystemTime,
    behind: u64,
    oldest_seconds: Option<f64>,
    stopped: Option<String>,
    parked: u64,
}

/// The page of projections after the one named `after`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NameAfter {
    #[serde(default)]
    after: String,
}

pub(crate) async fn list(State(console): State<Shared>, Query(page): Query<NameAfter>) -> Result<Markup, Error> {
    let limit = sql::signed(PAGE_SIZE);
    let rows = sql::query(&console.store, &console.queries.checkpoints, &[&page.after, &limit]).await?;
    let checkpoints = rows
        .iter()
        .map(|row| {
            Ok(Checkpoint {
                name: row.try_get("projection")?,
                position: sql::position(row)?,
                updated: sql::time(row, "updated_at")?,
                behind: sql::unsigned(row, "behind")?,
                oldest_seconds: row.try_get("oldest_seconds")?,
                stopped: row.try_get("stopped")?,
                parked: sql::unsigned(row, "parked")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let runners = sql::query(&console.store, &console.queries.runners, &[]).await?;
    let prefix = format!("es projection {}.", console.store.schema());
    let runner_of = |name: &str| -> Option<String> {
        runners.iter().find_map(|r| {
            let application: String = r.try_get("application_name").ok()?;
            let host: String = r.try_get("host").ok()?;
            let pid: i32 = r.try_get("pid").ok()?;
            (application.strip_prefix(&prefix) == Some(name)).then(|| format!("{host}, pid {pid}"))
        })
    };
    Ok(layout::page(
        "Projections",
        "Projections",
        html! {
            h1 { "Projections" }
            (token_field(&console))
            table #projections {
                thead { tr {
                    th { "Projection" } th { "Checkpoint" } th { "Updated" } th.num { "Behind (events)" }
                    th.num { "Behind (seconds)" } th { "Runner" } th { "Stopped on" } th.num { "Parked" } th {}
                } }
                tbody {
                    @for c in &checkpoints {
                        tr {
                            td { (c.name) }
                            td { (c.position.commit) "." (c.position.sequence) }
                            td { (time(c.updated)) }
                            td.num { (c.behind) }
                            td.num { @if let Some(s) = c.oldest_seconds { (format!("{s:.1}")) } @else { "—" } }
                            td { @if let Some(r) = runner_of(&c.name) { (r) } @else { span.hint { "none holds it" } } }
                            td { @if let Some(e) = &c.stopped { span.error { (e) } } }
                            td.num { a href={ "/projections/" (segment(&c.name)) "/parked" } { (c.parked) } }
                            td { (action(&console, &format!("/projections/{}/reset", segment(&c.name)), "Reset",
                                    &format!("Move the checkpoint of `{}` back to the start? Its next runner replays every event.", c.name))) }
                        }
                    }
                }
            }
            @if checkpoints.is_empty() { p.empty { "No projection has a checkpoint yet." } }
            @if let Some(last) = checkpoints.last().filter(|_| checkpoints.len() as u64 == PAGE_SIZE) {
                a.next href={ "/projections?after=" (segment(&last.name)) } { "Next page →" }
            }
            div #outcome role="status" {}
        },
    ))
}

/// The field for the token that actions carry, when the console has one.
fn token_field(console: &Console) -> Markup {
    html! {
        @if console.token.is_some() {
            label.token { "Token for actions " input #token type="password" name="token" autocomplete="off"; }
        } @else {
            p.hint { "Read-only: start the console with a token to retry, discard or reset." }
        }
    }
}

/// A button that posts to `path` with the token, after asking `question`.
fn action(console: &Console, path: &str, label: &str, question: &str) -> Markup {
    html! {
        @if console.token.is_some() {
            button.action type="button" hx-post=(path) hx-include="#token" hx-confirm=(question) hx-target="#outcome" { (label) }
        }
    }
}

/// The page: parked events after id `after`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct After {
    #[serde(default)]
    after: u64,
}

pub(crate) async fn parked(
    State(console): State<Shared>,
    Path(name): Path<String>,
    Query(page): Query<After>,
) -> Result<Markup, Error> {
    let (after, limit) = (sql::signed(page.after), sql::signed(PAGE_SIZE));
    let rows = sql::query(&console.store, &console.queries.parked, &[&name, &after, &limit]).await?;
    let parked = rows
        .iter()
        .map(|row| {
            Ok(Parked {
                id: sql::unsigned(row, "id")?,
                position: sql::position(row)?,
                stream_id: row.try_get("stream_id")?,
                version: sql::unsigned(row, "version")?,
                event_name: row.try_get("event_name")?,
                error: row.try_get("error")?,
                attempts: row.try_get("attempts")?,
                parked_at: sql::time(row, "parked_at")?,
                discarded_at: row.try_get("discarded_at")?,
                discard_reason: row.try_get("discard_reason")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let next = parked.last().map(|p| p.id).filter(|_| parked.len() as u64 == PAGE_SIZE);
    let body = html! {
        h1 { "Parked events of " code { (name) } }
        (token_field(&console))
        div #outcome role="status" {}
        table #parked {
            thead { tr {
                th.num { "Id" } th { "Position" } th { "Event" } th { "Error" } th.num { "Attempts" } th { "Parked" }
                th { "Discarded" } th {}
            } }
            tbody {
                @for p in &parked {
                    @let path = format!("/projections/{}/parked/{}", segment(&name), p.id);
                    tr id={ "parked-" (p.id) } {
                        td.num { (p.id) }
                        td { (p.position.commit) "." (p.position.sequence) }
                        td { a href={ (stream_href(&p.stream_id)) "?version=" (p.version) } { (p.stream_id) " v" (p.version) } " " (p.event_name) }
                        td { span.error { (p.error) } }
                        td.num { (p.attempts) }
                        td { (time(p.parked_at)) }
                        td { @if let Some(at) = p.discarded_at { (time(at)) ": " (p.discard_reason.as_deref().unwrap_or("")) } }
                        td {
                            (action(&console, &format!("{path}/retry"), "Retry",
                                &format!("Hand parked event {} to `{name}` once more?", p.id)))
                            (action(&console, &format!("{path}/discard"), "Discard",
                                &format!("Mark parked event {} as discarded? It stays listed as a record.", p.id)))
                        }
                    }
                }
            }
        }
        @if parked.is_empty() { p.empty { "No parked events." } }
        @if let Some(last) = next {
            a.next href={ "/projections/" (segment(&name)) "/parked?after=" (last) } { "Next page →" }
        }
    };
    Ok(layout::page(&format!("{name} parked"), "Projections", body))
}

/// One parked event, as listed.
struct Parked {
    id: u64,
    position: Position,
    stream_id: String,
    version: u64,
    event_name: String,
    error: String,
    attempts: i32,
    parked_at: SystemTime,
    discarded_at: Option<SystemTime>,
    discard_reason: Option<String>,
}

/// What an action's form carries.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    token: Option<String>,
}

pub(crate) async fn retry(
    State(console): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
    Form(form): Form<ActionForm>,
) -> Response {
    outcome(async {
        authorize(&console, form.token.as_deref())?;
        let projection = console.projections.iter().find(|p| p.name() == name).ok_or_else(|| {
            Error::NotFound(format!("projection `{name}` is not registered with this console, so it cannot retry"))
        })?;
        projection.retry_parked(console.store.clone(), id).await?;
        Ok(format!("Parked event {id} was handled by `{name}` and is no longer parked."))
    })
    .await
}

pub(crate) async fn discard(
    State(console): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
    Form(form): Form<ActionForm>,
) -> Response {
    outcome(async {
        authorize(&console, form.token.as_deref())?;
        console.store.discard_parked(&name, id, "discarded in the console").await?;
        Ok(format!("Parked event {id} of `{name}` is discarded."))
    })
    .await
}

pub(crate) async fn reset(
    State(console): State<Shared>,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    outcome(async {
        authorize(&console, form.token.as_deref())?;
        match console.store.reset_projection(&name).await? {
            false => Err(Error::NotFound(format!("projection `{name}` has no checkpoint"))),
            true => {
                Ok(format!("The checkpoint of `{name}` is back at the start: its next runner replays every event."))
            }
        }
    })
    .await
}

/// An action's outcome as the fragment htmx swaps in: what was done, or
/// why not, with the error's status.
async fn outcome(action: impl Future<Output = Result<String, Error>>) -> Response {
    match action.await {
        Ok(done) => html! { p.done { (done) } }.into_response(),
        Err(e) => e.into_fragment(),
    }
}
