//! `/tail`: the global order, live. The page opens a stream of server-sent
//! events that reads on from where it stands; each event arrives as a table
//! row rendered (and escaped) here.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use es_core::{AggregateTypes, Position, RecordedEvent};
use futures_util::Stream;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::Shared;
use crate::error::Error;
use crate::pages::{layout, segment, shown, stream_href, time};

/// How many of the latest events the tail shows first.
const LATEST: usize = 20;

/// How many events one read takes.
const READ: usize = 100;

/// How long the tail waits before looking again when nothing is new.
const POLL: Duration = Duration::from_millis(250);

/// Only events of aggregate type `type`, if given.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    #[serde(default, rename = "type")]
    aggregate_type: String,
    after: Option<String>,
}

pub(crate) async fn page(State(console): State<Shared>, Query(filter): Query<Filter>) -> Result<Markup, Error> {
    let aggregate_type = Some(filter.aggregate_type.as_str()).filter(|t| !t.is_empty());
    let start = console.admin.tail_start(aggregate_type, LATEST).await?;
    let source = format!("/tail/events?type={}&after={}", segment(&filter.aggregate_type), segment(&start.to_string()));
    let types: Vec<_> = console.aggregates.iter().map(|a| a.name()).collect();
    Ok(layout::page(
        "Live tail",
        "Live tail",
        html! {
            h1 { "Live tail" }
            form.search method="get" action="/tail" {
                label { "Aggregate type "
                    select name="type" {
                        option value="" { "any" }
                        @for t in &types { option value=(t) selected[*t == filter.aggregate_type] { (t) } }
                    }
                }
                button type="submit" { "Follow" }
            }
            table #tail {
                thead { tr { th { "Position" } th { "Recorded" } th { "Stream" } th.num { "Version" } th { "Event" } th { "Payload" } } }
                tbody #tail-rows data-source=(source) {}
            }
        },
    ))
}

/// The events after `after` (or after the `Last-Event-ID` a reconnecting
/// browser sends), then each new one as it is committed.
pub(crate) async fn events(
    State(console): State<Shared>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    let resumed = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let after = match resumed.or(filter.after.as_deref()) {
        Some(text) => parse_position(text)?,
        None => Position::START,
    };
    let categories = match filter.aggregate_type.as_str() {
        "" => AggregateTypes::All,
        t => AggregateTypes::only([t]),
    };
    let events = futures_util::stream::unfold((console, after), move |(console, mut after)| {
        let categories = categories.clone();
        async move {
            loop {
                match console.admin.read_types(after, READ, &categories).await {
                    Ok(page) if page.through == after => tokio::time::sleep(POLL).await,
                    Ok(page) => {
                        after = page.through;
                        let batch: Vec<_> = page.events.iter().map(sse_event).collect();
                        if !batch.is_empty() {
                            return Some((batch, (console, after)));
                        }
                    }
                    Err(e) => {
                        let error = Event::default().event("failed").data(es_core::ErrorReport::new(&e).to_string());
                        return Some((vec![error], (console, after)));
                    }
                }
            }
        }
    });
    let events = futures_util::StreamExt::flat_map(events, |batch| {
        futures_util::stream::iter(batch.into_iter().map(Ok::<_, Infallible>))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A position in its one text form, as the tail's links and event ids
/// write it.
fn parse_position(text: &str) -> Result<Position, Error> {
    text.parse().map_err(|e| Error::BadRequest(format!("{e}")))
}

/// One event as a row of the tail's table, its id the position to resume
/// after.
fn sse_event(e: &RecordedEvent) -> Event {
    let row = html! {
        tr.tail-event {
            td { (e.position) }
            td { (time(e.recorded_at)) }
            td { a href=(stream_href(&e.stream_id)) { (shown(&e.stream_id)) } }
            td.num { (e.version) }
            td { (shown(&e.event.name)) }
            td { code { (shown(e.event.payload.as_str())) } }
        }
    };
    Event::default().event("event").id(e.position.to_string()).data(row.into_string())
}

#[cfg(test)]
mod tests {
    use es_core::Position;

    use super::parse_position;

    #[test]
    fn positions_read_back_as_written() {
        assert_eq!(parse_position("12/34").unwrap(), Position::new(12, 34));
        assert_eq!(parse_position(&Position::new(7, 9).to_string()).unwrap(), Position::new(7, 9));
        assert!(parse_position("12").is_err());
        assert!(parse_position("a/b").is_err());
    }
}
