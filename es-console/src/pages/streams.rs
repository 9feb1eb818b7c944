//! `/streams`: streams by id prefix and aggregate type, a page at a time.

use std::time::SystemTime;

use axum::extract::{Query, State};
use es_core::admin::StreamFilter;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::Shared;
use crate::error::Error;
use crate::pages::{PAGE_SIZE, layout, shown, stream_href, time};

/// The search and the page: ids starting with `prefix`, of `type`, after
/// the id `after`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    prefix: String,
    #[serde(default, rename = "type")]
    aggregate_type: String,
    after: Option<String>,
}

struct Row {
    id: String,
    aggregate_type: String,
    version: u64,
    last: SystemTime,
}

pub(crate) async fn list(State(console): State<Shared>, Query(search): Query<Search>) -> Result<Markup, Error> {
    let filter = StreamFilter {
        prefix: search.prefix.clone(),
        aggregate_type: Some(search.aggregate_type.clone()).filter(|t| !t.is_empty()),
        after: search.after.clone(),
        limit: PAGE_SIZE as usize,
    };
    let rows: Vec<Row> = console
        .admin
        .streams(&filter)
        .await?
        .into_iter()
        .map(|s| Row {
            id: s.stream_id,
            aggregate_type: s.aggregate_type,
            version: s.version,
            last: s.last_recorded_at,
        })
        .collect();
    let next = (rows.len() as u64 == PAGE_SIZE).then(|| rows.last().map(|r| r.id.clone())).flatten();
    let types: Vec<_> = console.aggregates.iter().map(|a| a.name()).collect();
    Ok(layout::page(
        "Streams",
        "Streams",
        html! {
            h1 { "Streams" }
            form.search method="get" action="/streams" {
                label { "Id starts with " input type="search" name="prefix" value=(search.prefix); }
                label { "Aggregate type "
                    select name="type" {
                        option value="" { "any" }
                        @for t in &types {
                            option value=(t) selected[*t == search.aggregate_type] { (t) }
                        }
                    }
                }
                button type="submit" { "Search" }
            }
            table #streams {
                thead { tr { th { "Stream" } th { "Aggregate type" } th.num { "Version" } th { "Last event" } } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { a href=(stream_href(&row.id)) { (shown(&row.id)) } }
                            td { (shown(&row.aggregate_type)) }
                            td.num { (row.version) }
                            td { time { (time(row.last)) } }
                        }
                    }
                }
            }
            @if rows.is_empty() { p.empty { "No stream matches." } }
            @if let Some(after) = next {
                a.next href={ "/streams?" (query(&search.prefix, &search.aggregate_type, &after)) } { "Next page →" }
            }
        },
    ))
}

/// The query string of the page after `after`.
fn query(prefix: &str, aggregate_type: &str, after: &str) -> String {
    let encode = |s: &str| crate::pages::segment(s);
    format!("prefix={}&type={}&after={}", encode(prefix), encode(aggregate_type), encode(after))
}
