//! `/streams/{id}/events/{version}/upcast`: an event stored at an old schema
//! version, its stored payload, each upcaster step, and the value the
//! application sees.

use axum::extract::{Path, State};
use es_core::{StreamRange, registry};
use maud::{Markup, html};
use serde_json::Value;

use crate::console::Shared;
use crate::error::Error;
use crate::pages::{layout, pretty, shown, stream_href};

/// One step as it ran: its name, the versions, and what it gave.
struct Ran {
    from: u32,
    name: &'static str,
    output: Result<Value, String>,
}

pub(crate) async fn page(
    State(console): State<Shared>,
    Path((id, version)): Path<(String, u64)>,
) -> Result<Markup, Error> {
    let range = StreamRange::after(version.saturating_sub(1)).up_to_version(version);
    let event = console.admin.read_stream(&id, range).await?.pop().filter(|e| e.version == version);
    let event = event.ok_or_else(|| Error::NotFound(format!("stream `{}` has no version {version}", shown(&id))))?;
    let stored = &event.event;
    let registration = registry::event(&stored.name);

    let mut ran = Vec::new();
    let mut payload = stored.payload.to_value().map_err(|e| e.to_string());
    for step in registration.map_or(&[][..], |r| r.upcast_steps()).iter().filter(|s| s.from() >= stored.schema_version)
    {
        let Ok(input) = payload else { break };
        payload = step.run(input).map_err(|e| es_core::ErrorReport::new(&e).to_string());
        ran.push(Ran { from: step.from(), name: step.name(), output: payload.clone() });
    }
    let seen = console
        .aggregate_kind(&event.aggregate_type)
        .map(|kind| kind.decoded(stored).map_err(|e| es_core::ErrorReport::new(&e).to_string()));

    let href = stream_href(&id);
    Ok(layout::page(
        &format!("{id} v{version} upcast"),
        "Streams",
        html! {
            h1 { "Upcasting " code { (shown(&stored.name)) } }
            p.summary {
                "Version " (version) " of stream " a href={ (href) "?version=" (version) } { (id) }
                ", stored at schema version " strong { (stored.schema_version) }
                @match registration {
                    Some(r) => { "; the application reads version " strong { (r.schema_version()) } " (" code { (r.type_name()) } ")." }
                    None => { "; no event type of the application is stored under this name." }
                }
            }
            ol #steps {
                li.step {
                    h2 { "Stored, schema version " (stored.schema_version) }
                    pre.payload { (pretty(&stored.payload)) }
                }
                @for step in &ran {
                    li.step {
                        h2 { "Step " (step.from) " → " (step.from + 1) ": " code.step-name { (step.name) } }
                        @match &step.output {
                            Ok(value) => pre.payload { (pretty(value)) },
                            Err(e) => p.error { "The step refused the payload: " (e) },
                        }
                    }
                }
                li.step #seen {
                    h2 { "What the application sees" }
                    @match &seen {
                        Some(Ok(value)) => pre.payload { (pretty(value)) },
                        Some(Err(e)) => p.error { "It does not decode: " (e) },
                        None => p.hint { "Aggregate type " code { (event.aggregate_type) } " is not registered with this console." },
                    }
                }
            }
        },
    ))
}
