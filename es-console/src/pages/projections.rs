//! `/projections`: each projection's checkpoint, lag and runner, and its
//! parked events with the actions that retry, discard or reset.

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use es_core::admin::ProjectionStatus;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::{Console, Shared};
use crate::error::Error;
use crate::pages::authorized::Authorized;
use crate::pages::{PAGE_SIZE, layout, segment, shown, stream_href, time};

/// A projection as listed: its checkpoint and how far behind it is.
struct Checkpoint {
    status: ProjectionStatus,
    behind: u64,
    oldest_seconds: Option<f64>,
}

/// The page of projections after the one named `after`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NameAfter {
    #[serde(default)]
    after: String,
}

pub(crate) async fn list(State(console): State<Shared>, Query(page): Query<NameAfter>) -> Result<Markup, Error> {
    let after = Some(page.after.as_str()).filter(|a| !a.is_empty());
    let mut checkpoints = Vec::new();
    for status in console.projections.projections(after, PAGE_SIZE as usize).await? {
        let backlog = console.admin.backlog(status.checkpoint).await?;
        let age = |at| SystemTime::now().duration_since(at).unwrap_or_default().as_secs_f64();
        checkpoints.push(Checkpoint {
            behind: backlog.events,
            oldest_seconds: backlog.oldest_recorded_at.map(age),
            status,
        });
    }
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
                        @let p = &c.status;
                        tr {
                            td { (shown(&p.name)) }
                            td { (p.checkpoint) }
                            td { (time(p.updated_at)) }
                            td.num { (c.behind) }
                            td.num { @if let Some(s) = c.oldest_seconds { (format!("{s:.1}")) } @else { "—" } }
                            td {
                                @if let Some(r) = &p.runner { (r) } @else { span.hint { "none holds it" } }
                                @for standby in &p.standbys { br; span.standby { "standing by: " (standby) } }
                            }
                            td { @if let Some(e) = &p.stopped { span.error { (shown(e)) } } }
                            td.num { a href={ "/projections/" (segment(&p.name)) "/parked" } { (p.parked) } }
                            td { (action(&console, &format!("/projections/{}/reset", segment(&p.name)), "Reset",
                                    &format!("Move the checkpoint of `{}` back to the start? Its next runner replays every event.", shown(&p.name)))) }
                        }
                    }
                }
            }
            @if checkpoints.is_empty() { p.empty { "No projection has a checkpoint yet." } }
            @if let Some(last) = checkpoints.last().filter(|_| checkpoints.len() as u64 == PAGE_SIZE) {
                a.next href={ "/projections?after=" (segment(&last.status.name)) } { "Next page →" }
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
    let parked = console.projections.parked(&name, page.after, PAGE_SIZE as usize).await?;
    let next = parked.last().map(|p| p.id).filter(|_| parked.len() as u64 == PAGE_SIZE);
    let body = html! {
        h1 { "Parked events of " code { (shown(&name)) } }
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
                        td { (p.position) }
                        td { a href={ (stream_href(&p.stream_id)) "?version=" (p.version) } { (shown(&p.stream_id)) " v" (p.version) } " " (shown(&p.event_name)) }
                        td { span.error { (shown(&p.error)) } }
                        td.num { (p.attempts) }
                        td { (time(p.parked_at)) }
                        td { @if let Some((at, reason)) = &p.discarded { (time(*at)) ": " (shown(reason)) } }
                        td {
                            (action(&console, &format!("{path}/retry"), "Retry",
                                &format!("Hand parked event {} to `{}` once more?", p.id, shown(&name))))
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
    Ok(layout::page(&format!("{} parked", shown(&name)), "Projections", body))
}

pub(crate) async fn retry(
    State(console): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
    _: Authorized,
) -> Response {
    outcome(async {
        let mounted = console.mounted.iter().find(|p| p.name() == name);
        let (Some(projection), Some(store)) = (mounted, &console.store) else {
            let name = shown(&name);
            return Err(Error::NotFound(format!(
                "projection `{name}` is not registered with this console, so it cannot retry"
            )));
        };
        projection.retry_parked(store.clone(), id).await?;
        Ok(format!("Parked event {id} was handled by `{name}` and is no longer parked."))
    })
    .await
}

pub(crate) async fn discard(
    State(console): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
    _: Authorized,
) -> Response {
    outcome(async {
        console.projections.discard_parked(&name, id, "discarded in the console").await?;
        Ok(format!("Parked event {id} of `{}` is discarded.", shown(&name)))
    })
    .await
}

pub(crate) async fn reset(State(console): State<Shared>, Path(name): Path<String>, _: Authorized) -> Response {
    outcome(async {
        console.projections.reset(&name).await?;
        Ok(format!("The checkpoint of `{}` is back at the start: its next runner replays every event.", shown(&name)))
    })
    .await
}

/// An action's outcome as the fragment htmx swaps in: what was done, or
/// why not, with the error's status.
async fn outcome(action: impl Future<Output = Result<String, Error>>) -> Response {
    match action.await {
        Ok(done) => html! { p.done { (done) } }.into_response(),
        Err(e) => layout::fragment(e),
    }
}
