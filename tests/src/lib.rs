//! Cross-crate tests live in `tests/`; this library holds what the tests of
//! several crates share: [`observe`], which captures the spans, events and
//! metrics a piece of async code reports.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Runs `test` to completion on a runtime of its own with a capturing
/// `tracing` subscriber and a debugging `metrics` recorder, both set for
/// this thread only (tests running beside it report elsewhere). Returns its
/// output and what it reported.
///
/// `test` gets a [`Probe`] to read the metrics while it runs.
pub fn observe<F: Future>(test: impl FnOnce(Probe) -> F) -> (F::Output, Report) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let recorder = DebuggingRecorder::new();
    let probe = Probe(recorder.snapshotter());
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let output = metrics::with_local_recorder(&recorder, || {
        tracing::subscriber::with_default(subscriber, || runtime.block_on(test(probe.clone())))
    });
    let metrics = probe.metrics();
    let Captured { spans, events } = std::mem::take(&mut *capture.lock());
    (output, Report { spans, events, metrics })
}

/// Reads the metrics recorded so far, while a test runs.
#[derive(Clone)]
pub struct Probe(Snapshotter);

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Probe")
    }
}

impl Probe {
    /// The metrics recorded since the last call: counters count from 0
    /// again after it, gauges read 0 until set again.
    pub fn metrics(&self) -> Metrics {
        let mut metrics = Metrics::default();
        for (key, _, _, value) in self.0.snapshot().into_vec() {
            let key = key.key();
            let labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            metrics.values.push(((key.name().to_owned(), labels), value));
        }
        metrics
    }
}

/// A metric's name and labels.
type MetricKey = (String, BTreeMap<String, String>);

/// Metrics by name and labels.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Vec<(MetricKey, DebugValue)>,
}

impl Metrics {
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.values.iter().find(|((n, l), _)| n == name && *l == labels).map(|(_, value)| value)
    }

    /// The counter `name` with exactly `labels`; 0 when never incremented.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            Some(other) => panic!("`{name}` is not a counter: {other:?}"),
            None => 0,
        }
    }

    /// The gauge `name` with exactly `labels`, if it was set.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.find(name, labels)? {
            DebugValue::Gauge(value) => Some(value.0),
            other => panic!("`{name}` is not a gauge: {other:?}"),
        }
    }

    /// The samples of histogram `name` with exactly `labels`.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.find(name, labels) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.0).collect(),
            Some(other) => panic!("`{name}` is not a histogram: {other:?}"),
            None => Vec::new(),
        }
    }
}

/// What the code under test reported.
#[derive(Debug)]
pub struct Report {
    /// Every span, in the order they were created.
    pub spans: Vec<SpanRecord>,
    /// Every event, in order.
    pub events: Vec<EventRecord>,
    /// The metrics recorded (since the [`Probe`] last read them).
    pub metrics: Metrics,
}

impl Report {
    /// The spans named `name`, in the order they were created.
    pub fn spans(&self, name: &str) -> Vec<&SpanRecord> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// The events at `level`, in order.
    pub fn events_at(&self, level: Level) -> Vec<&EventRecord> {
        self.events.iter().filter(|e| e.level == level).collect()
    }
}

/// A span and its fields, as last recorded.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The span's name.
    pub name: &'static str,
    /// The name of the span it was created in.
    pub parent: Option<&'static str>,
    /// Its fields, formatted (strings without quotes).
    pub fields: BTreeMap<String, String>,
}

impl SpanRecord {
    /// Field `name`, formatted, if it was recorded.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// An event and its fields.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// Its level.
    pub level: Level,
    /// The span it happened in.
    pub span: Option<&'static str>,
    /// Its fields, the message as `message`.
    pub fields: BTreeMap<String, String>,
}

impl EventRecord {
    /// Field `name`, formatted, if it was recorded.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct Captured {
    spans: Vec<SpanRecord>,
    events: Vec<EventRecord>,
}

/// A layer keeping every span and event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

/// Where a span's record is in [`Captured::spans`], kept in the span's
/// extensions.
struct Index(usize);

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().map(|p| p.name());
        let mut captured = self.lock();
        captured.spans.push(SpanRecord { name: span.name(), parent, fields: fields.0 });
        span.extensions_mut().insert(Index(captured.spans.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Index(index)) = span.extensions().get::<Index>().map(|i| Index(i.0)) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        self.lock().spans[index].fields.extend(fields.0);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx.event_span(event).map(|s| s.name());
        self.lock().events.push(EventRecord { level: *event.metadata().level(), span, fields: fields.0 });
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
