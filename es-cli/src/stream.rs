//! `es stream ID`: one stream's events, or the aggregate's state after each.

use std::io::Write;
use std::time::SystemTime;

use es_core::admin::{AggregateKind, SHOWN_BYTES, cut, printable};
use es_core::{Metadata, Payload, RecordedEvent, StreamRange};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::output::{self, Output};
use crate::store::Store;

#[derive(Debug, Serialize)]
struct EventRow<'a> {
    version: u64,
    position: String,
    recorded_at: String,
    event_name: &'a str,
    schema_version: u32,
    metadata: &'a Metadata,
    payload: &'a Payload,
    #[serde(skip)]
    recorded: SystemTime,
}

impl<'a> EventRow<'a> {
    fn new(e: &'a RecordedEvent) -> Self {
        EventRow {
            version: e.version,
            position: e.position.to_string(),
            recorded_at: output::time_exact(e.recorded_at),
            event_name: &e.event.name,
            schema_version: e.event.schema_version,
            metadata: &e.metadata,
            payload: &e.event.payload,
            recorded: e.recorded_at,
        }
    }

    /// `#3  Deposited (schema v2)  position 812/1234  2026-11-29T10:00:00Z`.
    fn heading(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let (version, name, schema) = (self.version, printable(self.event_name), self.schema_version);
        let (position, time) = (&self.position, output::time(self.recorded));
        writeln!(w, "#{version}  {name} (schema v{schema})  position {position}  {time}")
    }
}

/// The events of `stream_id` in `range`; an error when there are none.
async fn read(store: &Store, stream_id: &str, range: StreamRange) -> Result<Vec<RecordedEvent>, Error> {
    let events = store.admin.read_stream(stream_id, range).await?;
    if events.is_empty() {
        let range = if range == StreamRange::all() { "" } else { " in that range" };
        return Err(Error::NoEvents { stream_id: stream_id.to_owned(), range });
    }
    Ok(events)
}

/// `es stream ID [--from V] [--to V] [--as-of TIME] [--full]`.
pub(crate) async fn events(
    store: &Store,
    stream_id: &str,
    range: StreamRange,
    full: bool,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    let events = read(store, stream_id, range).await?;
    let rows: Vec<EventRow<'_>> = events.iter().map(EventRow::new).collect();
    out.emit(&rows, |w, rows| {
        for row in rows {
            row.heading(w)?;
            if *row.metadata != Metadata::default() {
                let metadata = serde_json::to_string(row.metadata).unwrap_or_default();
                writeln!(w, "    metadata {}", printable(&metadata))?;
            }
            write_indented(w, row.payload, full)?;
        }
        Ok(())
    })
}

/// `es stream ID --state [--at V | --as-of TIME]`: folds the stream with the
/// registered aggregate of its type.
pub(crate) async fn states(
    store: &Store,
    stream_id: &str,
    range: StreamRange,
    aggregates: &[Box<dyn AggregateKind>],
    full: bool,
    out: &mut Output<'_>,
) -> Result<(), Error> {
    if aggregates.is_empty() {
        return Err(Error::NeedsApplication { command: "stream --state", needs: "aggregates" });
    }
    let events = read(store, stream_id, range).await?;
    let aggregate_type = &events[0].aggregate_type;
    let Some(aggregate) = aggregates.iter().find(|a| a.name() == aggregate_type) else {
        let known = aggregates.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
        return Err(Error::NotRegistered { kind: "aggregate", name: aggregate_type.clone(), known });
    };
    #[derive(Serialize)]
    struct StateRow<'a> {
        #[serde(flatten)]
        event: EventRow<'a>,
        state: Value,
    }
    let stream: Vec<(u64, &es_core::EncodedEvent)> = events.iter().map(|e| (e.version, &e.event)).collect();
    // The first state is the one before the first event.
    let states = aggregate.fold(None, stream_id, &stream)?.into_iter().skip(1);
    let rows: Vec<StateRow<'_>> =
        events.iter().zip(states).map(|(e, state)| StateRow { event: EventRow::new(e), state }).collect();
    out.emit(&rows, |w, rows| {
        for row in rows {
            row.event.heading(w)?;
            write_indented(w, &row.state, full)?;
        }
        Ok(())
    })
}

/// Pretty JSON, indented under its heading.
fn write_indented<T: Serialize + std::fmt::Display + ?Sized>(
    w: &mut dyn Write,
    value: &T,
    full: bool,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let (shown, left_out) = if full { (text.as_str(), false) } else { cut(&text, SHOWN_BYTES) };
    for line in shown.lines() {
        writeln!(w, "    {}", printable(line))?;
    }
    if left_out {
        writeln!(w, "    … {} more bytes ({} in all); --full shows them", text.len() - shown.len(), text.len())?;
    }
    Ok(())
}
