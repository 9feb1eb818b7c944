//! What the runtime reports about itself: [`tracing`] spans and events, and
//! metrics through the [`metrics`] facade.
//!
//! The crates of this workspace install neither a subscriber nor a
//! recorder: the application picks them (`tracing-subscriber`,
//! `metrics-exporter-prometheus`, …), and without them reporting costs
//! next to nothing.
//!
//! # Spans
//!
//! Every span is at the `INFO` level. Its name is the operation, its
//! fields the nouns; fields in *italics* are recorded once known.
//!
//! | span | when | fields |
//! |---|---|---|
//! | `execute` | [`Repository::execute`](crate::Repository::execute) and `execute_with` | `aggregate`, `stream`, `correlation_id`, `causation_id`, `command_id` (from the metadata, when set), *`attempts`*, *`version`* (after the commit) |
//! | `load` | every load of an aggregate, inside `execute` too | `aggregate`, `stream`, *`version`*, *`events`* (read and applied), *`snapshot`* (the version of the snapshot used, if one was) |
//! | `append` | a command's append, inside `execute` | `aggregate`, `stream`, `events`, *`version`* (after it), *`conflict`* (`true` when another writer got there first) |
//! | `project` | each page of events a projection runner handles | `projection`, `events` (in the page), *`checkpoint`* (after it) |
//!
//! # Events
//!
//! At `WARN`: a command retried after a concurrency conflict; a snapshot
//! that does not decode or could not be saved; a projection event that
//! failed (it is retried) or was parked; a PostgreSQL projection runner
//! that lost its connection (and with it the projection's lock) and
//! reconnects. At `ERROR`: a projection that stops on an event it cannot
//! handle, and a PostgreSQL runner that stops on an error retrying cannot
//! fix.
//!
//! # Metrics
//!
//! Names start with `es_` and carry their unit; labels are few and of low
//! cardinality (an aggregate type, a projection's name, an outcome; never a
//! stream id). A partition of a projection is labelled with the name its
//! checkpoint is kept under, such as `balances[1/3]`.
//!
//! | metric | kind | labels | counts or measures |
//! |---|---|---|---|
//! | [`es_commands_total`](COMMANDS_TOTAL) | counter | `aggregate`, `outcome` | commands executed: `committed`, `duplicate` (its command id was committed before: that commit is returned), `rejected` (by the aggregate), `conflict` (retries spent), `failed` |
//! | [`es_conflicts_total`](CONFLICTS_TOTAL) | counter | `aggregate` | appends refused because another writer got there first |
//! | [`es_command_retries_total`](COMMAND_RETRIES_TOTAL) | counter | `aggregate` | commands run again after a conflict |
//! | [`es_events_appended_total`](EVENTS_APPENDED_TOTAL) | counter | `aggregate` | events committed by commands |
//! | [`es_append_duration_seconds`](APPEND_DURATION_SECONDS) | histogram | `aggregate` | a command's append, conflicts included |
//! | [`es_load_duration_seconds`](LOAD_DURATION_SECONDS) | histogram | `aggregate` | a load, snapshot and events |
//! | [`es_load_events`](LOAD_EVENTS) | histogram | `aggregate` | events read and applied by a load |
//! | [`es_events_projected_total`](EVENTS_PROJECTED_TOTAL) | counter | `projection` | events a projection handled and committed |
//! | [`es_events_parked_total`](EVENTS_PARKED_TOTAL) | counter | `projection` | events a projection parked |
//! | [`es_projection_parked_streams`](PROJECTION_PARKED_STREAMS) | gauge | `projection` | streams held back by [`PoisonPolicy::ParkStream`](crate::projection::PoisonPolicy::ParkStream), their events parked |
//! | [`es_projection_lag_events`](PROJECTION_LAG_EVENTS) | gauge | `projection` | events read but not yet handled (see below) |
//! | [`es_projection_lag_seconds`](PROJECTION_LAG_SECONDS) | gauge | `projection` | age of the oldest event read but not yet handled |
//!
//! # Projection lag
//!
//! The lag gauges are set from what a runner already knows, without a
//! query of their own: at the start of each page, the page's events are
//! those not yet handled. Within one page of the head this is exact (as of
//! the page's read) and both gauges fall to 0 once the projection has
//! caught up; further behind, the events gauge stays at the page size (a
//! floor) while the seconds gauge keeps telling how old the oldest unread
//! event is. For the exact count of events behind, ask the store (the `es
//! projections` command does).
//!
//! # Causation
//!
//! The events of a command carry its metadata as given. A command whose
//! metadata names a correlation id but no causation id appends events with
//! no causation id: none is made up. The command that appended them is
//! named by their `command_id` when its sender gave it one (copying it into
//! the causation id would only say it twice); otherwise their cause is the
//! request the correlation id names.

use std::time::{Duration, SystemTime};

use metrics::{counter, gauge, histogram};

/// Counter of commands executed, by `aggregate` and `outcome`.
pub const COMMANDS_TOTAL: &str = "es_commands_total";
/// Counter of appends refused on a concurrency conflict, by `aggregate`.
pub const CONFLICTS_TOTAL: &str = "es_conflicts_total";
/// Counter of commands run again after a conflict, by `aggregate`.
pub const COMMAND_RETRIES_TOTAL: &str = "es_command_retries_total";
/// Counter of events committed by commands, by `aggregate`.
pub const EVENTS_APPENDED_TOTAL: &str = "es_events_appended_total";
/// Histogram of a command's append time, by `aggregate`.
pub const APPEND_DURATION_SECONDS: &str = "es_append_duration_seconds";
/// Histogram of load times, by `aggregate`.
pub const LOAD_DURATION_SECONDS: &str = "es_load_duration_seconds";
/// Histogram of the events a load reads and applies, by `aggregate`.
pub const LOAD_EVENTS: &str = "es_load_events";
/// Counter of events projections handled and committed, by `projection`.
pub const EVENTS_PROJECTED_TOTAL: &str = "es_events_projected_total";
/// Counter of events projections parked, by `projection`.
pub const EVENTS_PARKED_TOTAL: &str = "es_events_parked_total";
/// Gauge of the streams a projection holds back with parked events, by
/// `projection`.
pub const PROJECTION_PARKED_STREAMS: &str = "es_projection_parked_streams";
/// Gauge of the events a projection has read but not yet handled, by
/// `projection`.
pub const PROJECTION_LAG_EVENTS: &str = "es_projection_lag_events";
/// Gauge of the age of the oldest event a projection has read but not yet
/// handled, by `projection`.
pub const PROJECTION_LAG_SECONDS: &str = "es_projection_lag_seconds";

/// How a command ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Committed,
    Duplicate,
    Rejected,
    Conflict,
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
            Outcome::Conflict => "conflict",
            Outcome::Failed => "failed",
        }
    }
}

pub(crate) fn command(aggregate: &'static str, outcome: Outcome) {
    counter!(COMMANDS_TOTAL, "aggregate" => aggregate, "outcome" => outcome.label()).increment(1);
}

pub(crate) fn conflict(aggregate: &'static str) {
    counter!(CONFLICTS_TOTAL, "aggregate" => aggregate).increment(1);
}

pub(crate) fn retry(aggregate: &'static str) {
    counter!(COMMAND_RETRIES_TOTAL, "aggregate" => aggregate).increment(1);
}

pub(crate) fn append_took(aggregate: &'static str, took: Duration) {
    histogram!(APPEND_DURATION_SECONDS, "aggregate" => aggregate).record(took.as_secs_f64());
}

pub(crate) fn appended(aggregate: &'static str, events: usize) {
    counter!(EVENTS_APPENDED_TOTAL, "aggregate" => aggregate).increment(events as u64);
}

pub(crate) fn loaded(aggregate: &'static str, events: u64, took: Duration) {
    histogram!(LOAD_DURATION_SECONDS, "aggregate" => aggregate).record(took.as_secs_f64());
    histogram!(LOAD_EVENTS, "aggregate" => aggregate).record(events as f64);
}

pub(crate) fn projected(projection: &str, events: usize) {
    if events > 0 {
        counter!(EVENTS_PROJECTED_TOTAL, "projection" => projection.to_owned()).increment(events as u64);
    }
}

pub(crate) fn parked(projection: &str) {
    counter!(EVENTS_PARKED_TOTAL, "projection" => projection.to_owned()).increment(1);
}

/// Sets how many streams `projection` holds back.
pub(crate) fn parked_streams(projection: &str, streams: usize) {
    gauge!(PROJECTION_PARKED_STREAMS, "projection" => projection.to_owned()).set(streams as f64);
}

/// Sets the lag gauges of `projection`: `unread` events not yet handled,
/// the oldest recorded at `oldest`.
pub(crate) fn lag(projection: &str, unread: usize, oldest: Option<SystemTime>) {
    // A clock behind the store's makes a fresh event look recorded in the
    // future: no lag.
    let seconds = oldest.and_then(|t| t.elapsed().ok()).map_or(0.0, |age| age.as_secs_f64());
    gauge!(PROJECTION_LAG_EVENTS, "projection" => projection.to_owned()).set(unread as f64);
    gauge!(PROJECTION_LAG_SECONDS, "projection" => projection.to_owned()).set(seconds);
}
