//! `/streams/{id}/freeze`: a slice of a stream written out as a
//! given/when/then test of its aggregate, for `es_core::testing`.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use es_core::{EncodedEvent, StreamRange};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::Shared;
use crate::error::Error;
use crate::pages::{layout, shown, stream::head, stream_href};

/// The slice: versions `from` to `to`, the events a command decided; the
/// ones before are the history.
#[derive(Debug, Deserialize)]
pub(crate) struct Slice {
    from: u64,
    to: u64,
}

/// How many events of history a frozen test holds at most: a test of a
/// decision needs the state, not every event that built it.
const MAX_EVENTS: u64 = 1000;

pub(crate) async fn page(
    State(console): State<Shared>,
    Path(id): Path<String>,
    Query(slice): Query<Slice>,
) -> Result<Markup, Error> {
    let head = head(&console, &id).await?;
    if slice.from == 0 || slice.from > slice.to || slice.to > head.version {
        return Err(Error::BadRequest(format!(
            "versions {} to {} are not a slice of stream `{id}`, whose versions run from 1 to {}",
            slice.from, slice.to, head.version
        )));
    }
    if slice.to > MAX_EVENTS {
        return Err(Error::BadRequest(format!(
            "a frozen test holds at most {MAX_EVENTS} events and versions 1 to {} would be more",
            slice.to
        )));
    }
    let kind = console.aggregate_kind(&head.aggregate_type).ok_or_else(|| {
        Error::NotFound(format!(
            "aggregate type `{}` is not registered with this console: register it with `Console::aggregate`",
            shown(&head.aggregate_type)
        ))
    })?;
    let events =
        console.admin.read_stream_events(&head.aggregate_type, &id, StreamRange::all().up_to_version(slice.to)).await?;
    let (history, decided): (Vec<_>, Vec<_>) = events.into_iter().partition(|(v, _)| *v < slice.from);
    let test = test_source(&id, &slice, kind.type_name(), kind.event_type_name(), &history, &decided);
    Ok(layout::page(
        &format!("{} frozen", shown(&id)),
        "Streams",
        html! {
            h1 { "Versions " (slice.from) "–" (slice.to) " of " a href=(stream_href(&id)) { (shown(&id)) } " as a test" }
            p.hint { "Paste it into the tests of the crate that defines the aggregate and write the command in "
                     code { "when" } "." }
            pre #test { (test) }
        },
    ))
}

/// The Rust source of the test: the history in `given`, the decided events
/// in `then`, each decoded by name from its stored payload.
fn test_source(
    id: &str,
    slice: &Slice,
    aggregate: &str,
    event: &str,
    history: &[(u64, EncodedEvent)],
    decided: &[(u64, EncodedEvent)],
) -> String {
    let name: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// Versions {} to {} of stream `{}`, frozen from the store.",
        slice.from,
        slice.to,
        id.escape_default()
    );
    let _ = writeln!(out, "#[test]");
    let _ = writeln!(out, "fn {name}_versions_{}_to_{}() {{", slice.from, slice.to);
    let _ = writeln!(out, "    use es_core::Event as _;");
    let _ = writeln!(out, "    let event = |name: &str, schema_version: u32, payload: &str| {{");
    let _ = writeln!(out, "        let payload = es_core::Payload::from_json(payload.to_owned());");
    let _ =
        writeln!(out, "        <{event}>::decode(name, schema_version, &payload).expect(\"the stored event decodes\")");
    let _ = writeln!(out, "    }};");
    if history.is_empty() {
        let _ = writeln!(out, "    es_core::testing::given_no_events::<{aggregate}>()");
    } else {
        let _ = writeln!(out, "    es_core::testing::given::<{aggregate}>([");
        for (_, e) in history {
            let _ = writeln!(out, "        {},", call(e));
        }
        let _ = writeln!(out, "    ])");
    }
    let _ = writeln!(
        out,
        "    // The command that decided versions {} to {}; put its error type for `String`.",
        slice.from, slice.to
    );
    let _ = writeln!(out, "    .when(|_state| -> Result<Vec<{event}>, String> {{ todo!(\"the command\") }})");
    let _ = writeln!(out, "    .then([");
    for (_, e) in decided {
        let _ = writeln!(out, "        {},", call(e));
    }
    let _ = writeln!(out, "    ]);");
    let _ = writeln!(out, "}}");
    out
}

/// `event("Name", 1, r#"{…}"#)`, with a raw string long enough for the
/// payload's own `"#` sequences.
fn call(e: &EncodedEvent) -> String {
    // Compact, whatever spacing the store keeps.
    let payload = e.payload.to_value().map_or_else(|_| e.payload.to_string(), |value| value.to_string());
    let mut hashes = String::from("#");
    while payload.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("event({:?}, {}, r{hashes}\"{payload}\"{hashes})", e.name, e.schema_version)
}

#[cfg(test)]
mod tests {
    use es_core::EncodedEvent;
    use serde_json::json;

    use super::call;

    #[test]
    fn payloads_become_raw_strings_that_hold_them_whole() {
        let e = EncodedEvent { name: "Noted".into(), schema_version: 2, payload: json!({ "text": "a\"#b" }).into() };
        assert_eq!(call(&e), r####"event("Noted", 2, r##"{"text":"a\"#b"}"##)"####);
    }
}
