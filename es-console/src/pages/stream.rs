//! `/streams/{id}`: a stream's events, a page of versions at a time, and the
//! state after any one of them with what it changed.

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use es_core::admin::{SHOWN_BYTES, cut};
use es_core::{EncodedEvent, RecordedEvent, StreamRange, registry};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::{Console, Shared};
use crate::diff::{Change, diff};
use crate::error::Error;
use crate::pages::{PAGE_SIZE, layout, pretty, shown, stream_href, time};

/// The end of a stream, and where it starts in time.
pub(crate) struct Head {
    pub(crate) aggregate_type: String,
    pub(crate) version: u64,
    pub(crate) last: SystemTime,
    pub(crate) first: SystemTime,
}

/// The head of stream `id`; [`Error::NotFound`] when it has no events.
pub(crate) async fn head(console: &Console, id: &str) -> Result<Head, Error> {
    let info = console.admin.stream(id).await?;
    let info = info.ok_or_else(|| Error::NotFound(format!("no stream `{}`: it has no events", shown(id))))?;
    Ok(Head {
        aggregate_type: info.summary.aggregate_type,
        version: info.summary.version,
        last: info.summary.last_recorded_at,
        first: info.first_recorded_at,
    })
}

/// Which page: from version `from`, or the one holding `version`, or the
/// one holding `jump` (a version or a time).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Window {
    from: Option<u64>,
    version: Option<u64>,
    jump: Option<String>,
}

pub(crate) async fn page(
    State(console): State<Shared>,
    Path(id): Path<String>,
    Query(window): Query<Window>,
) -> Result<Markup, Error> {
    let head = head(&console, &id).await?;
    let selected = match window.jump.as_deref().map(str::trim).filter(|j| !j.is_empty()) {
        Some(jump) => Some(jump_to(&console, &id, jump).await?),
        None => window.version,
    }
    .map(|v| v.clamp(1, head.version));
    let from =
        window.from.or(selected.map(|v| (v - 1) / PAGE_SIZE * PAGE_SIZE + 1)).unwrap_or(1).clamp(1, head.version);
    let to = from.saturating_add(PAGE_SIZE - 1).min(head.version);
    let events = console.admin.read_stream(&id, StreamRange::after(from - 1).up_to_version(to)).await?;
    let panel = match selected {
        Some(version) => Some(state_panel(&console, &id, &head.aggregate_type, version).await?),
        None => None,
    };
    Ok(layout::page(&shown(&id), "Streams", render(&id, &head, from, to, &events, panel)))
}

/// The version of stream `id` that `jump` names: a version, or the last
/// event at or before a time.
async fn jump_to(console: &Console, id: &str, jump: &str) -> Result<u64, Error> {
    if let Ok(version) = jump.parse::<u64>() {
        return Ok(version);
    }
    let at = humantime::parse_rfc3339_weak(jump).map_err(|e| {
        Error::BadRequest(format!("`{jump}` is neither a version nor a time like 2024-05-01T12:00:00Z: {e}"))
    })?;
    let version = console.admin.version_at(id, at).await?;
    version.ok_or_else(|| Error::NotFound(format!("stream `{}` had no event yet at {jump}", shown(id))))
}

fn render(id: &str, head: &Head, from: u64, to: u64, events: &[RecordedEvent], panel: Option<Markup>) -> Markup {
    let href = stream_href(id);
    let last_page = (head.version - 1) / PAGE_SIZE * PAGE_SIZE + 1;
    html! {
        h1 { "Stream " code { (shown(id)) } }
        p.summary {
            (shown(&head.aggregate_type)) " · version " strong #head-version { (head.version) }
            " · first event " (time(head.first)) " · last event " (time(head.last))
        }
        form.jump method="get" action=(href) {
            label { "Jump to a version or a time " input type="text" name="jump" placeholder="42 or 2024-05-01T12:00:00Z"; }
            button type="submit" { "Go" }
        }
        nav.pages {
            a href={ (href) "?from=1" } { "First" }
            @if from > 1 { a href={ (href) "?from=" (from.saturating_sub(PAGE_SIZE).max(1)) } { "← Earlier" } }
            span { "versions " (from) "–" (to) " of " (head.version) }
            @if to < head.version { a href={ (href) "?from=" (to + 1) } { "Later →" } }
            a href={ (href) "?from=" (last_page) } { "Last" }
        }
        div.stream {
            table #events {
                thead { tr {
                    th.num { "Version" } th { "Position" } th { "Recorded" } th { "Event" } th.num { "Schema" }
                    th { "Metadata" } th { "Payload" } th {}
                } }
                tbody {
                    @for e in events { (event_row(&href, e)) }
                }
            }
            section #state { @if let Some(panel) = panel { (panel) } @else { p.hint { "Pick an event to see the state after it." } } }
        }
        form.freeze method="get" action={ (href) "/freeze" } {
            "Freeze versions "
            input type="number" name="from" min="1" max=(head.version) value=(from);
            " to "
            input type="number" name="to" min="1" max=(head.version) value=(to);
            " "
            button type="submit" { "as a test" }
        }
    }
}

fn event_row(href: &str, e: &RecordedEvent) -> Markup {
    let current = registry::event(&e.event.name).map(|r| r.schema_version());
    let metadata = serde_json::to_string(&e.metadata).unwrap_or_default();
    html! {
        tr id={ "event-" (e.version) } {
            td.num { (e.version) }
            td { (e.position) }
            td { time { (time(e.recorded_at)) } }
            td { (shown(&e.event.name)) }
            td.num {
                (e.event.schema_version)
                @if current.is_some_and(|c| c > e.event.schema_version) {
                    " " a.upcast id={ "upcast-" (e.version) } href={ (href) "/events/" (e.version) "/upcast" } title="stored at an old schema version" { "upcast" }
                }
            }
            td { code.metadata { (shown(&metadata)) } }
            td { (payload(href, e)) }
            td {
                a.state id={ "state-" (e.version) } href={ (href) "?version=" (e.version) }
                    hx-get={ (href) "/state/" (e.version) } hx-target="#state" hx-push-url={ (href) "?version=" (e.version) } { "state" }
            }
        }
    }
}

/// An event's payload, cut after [`SHOWN_BYTES`] with a link to the page
/// that shows it whole.
fn payload(href: &str, e: &RecordedEvent) -> Markup {
    let text = pretty(&e.event.payload);
    let (shown, left_out) = cut(&text, SHOWN_BYTES);
    html! {
        pre.payload { (shown) }
        @if left_out {
            a.whole id={ "whole-" (e.version) } href={ (href) "/events/" (e.version) "/upcast" } {
                "… " (text.len() - shown.len()) " more bytes: the whole payload"
            }
        }
    }
}

/// The state panel alone, for htmx to swap in; an error in its place.
pub(crate) async fn state(State(console): State<Shared>, Path((id, version)): Path<(String, u64)>) -> Response {
    let panel = async {
        let head = head(&console, &id).await?;
        if version == 0 || version > head.version {
            let id = shown(&id);
            return Err(Error::NotFound(format!("stream `{id}` has versions 1 to {}, not {version}", head.version)));
        }
        state_panel(&console, &id, &head.aggregate_type, version).await
    };
    panel.await.map_or_else(layout::fragment, IntoResponse::into_response)
}

/// The state after event `version` and what it changed, folded from the
/// latest snapshot before it, or from the start.
async fn state_panel(console: &Console, id: &str, aggregate_type: &str, version: u64) -> Result<Markup, Error> {
    let Some(kind) = console.aggregate_kind(aggregate_type) else {
        return Ok(html! {
            p.hint { "Aggregate type " code { (shown(aggregate_type)) } " is not registered with this console: "
                     "register it with " code { "Console::aggregate" } " to see its states." }
        });
    };
    let snapshot = console.admin.load_snapshot(id).await?.filter(|s| s.version < version);
    let after = snapshot.as_ref().map_or(0, |s| s.version);
    let range = StreamRange::after(after).up_to_version(version);
    let events = console.admin.read_stream_events(aggregate_type, id, range).await?;
    let events: Vec<(u64, &EncodedEvent)> = events.iter().map(|(v, e)| (*v, e)).collect();
    let states = kind.fold(snapshot.as_ref(), id, &events)?;
    let (before, after) = match states.as_slice() {
        [.., before, after] => (before, after),
        _ => return Err(Error::NotFound(format!("stream `{}` has no version {version}", shown(id)))),
    };
    let changes = diff(before, after);
    Ok(html! {
        h2 { "State after version " span #state-version { (version) } }
        pre #state-after { (pretty(after)) }
        h3 { "What version " (version) " changed" }
        @if changes.is_empty() { p #diff.empty { "Nothing: the state is the same as before." } }
        @else {
            table #diff {
                thead { tr { th { "Path" } th { "Before" } th { "After" } } }
                tbody { @for change in &changes { (change_row(change)) } }
            }
        }
    })
}

fn change_row(change: &Change) -> Markup {
    let compact = |v: &serde_json::Value| v.to_string();
    match change {
        Change::Added(path, new) => {
            html! { tr.added { td { code { (path) } } td { "—" } td { code { (compact(new)) } } } }
        }
        Change::Removed(path, old) => {
            html! { tr.removed { td { code { (path) } } td { code { (compact(old)) } } td { "—" } } }
        }
        Change::Changed(path, old, new) => {
            html! { tr.changed { td { code { (path) } } td { code { (compact(old)) } } td { code { (compact(new)) } } } }
        }
    }
}
