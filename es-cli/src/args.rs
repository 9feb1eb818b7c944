//! The command line's grammar.

use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

/// Inspect and operate an es event store on PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "es", version)]
pub(crate) struct Args {
    /// The store: `postgres://user@host:port/database` or `host=… user=…`
    /// (an application that mounts the command line may give its own).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// The schema the event store lives in.
    #[arg(long, env = "ES_SCHEMA", default_value = es_postgres::DEFAULT_SCHEMA, value_name = "NAME")]
    pub(crate) schema: String,
    /// Print JSON instead of tables, for scripts (one object per line for `tail`).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the schema and apply the migrations it lacks.
    Migrate,
    /// Events, streams, head, size on disk, read lag and projections.
    Status,
    /// List streams with their aggregate type, version and last event time.
    Streams {
        /// Only streams of this aggregate type.
        #[arg(long = "type", visible_alias = "category", value_name = "TYPE")]
        aggregate_type: Option<String>,
        /// At most this many streams.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u32,
        /// Start after this stream id (the last one of the previous page).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
    },
    /// Show one stream's events, or with --state the aggregate's state after each.
    Stream {
        /// The stream's id.
        id: String,
        /// The first version to show.
        #[arg(long, value_name = "V", conflicts_with = "state")]
        from: Option<u64>,
        /// The last version to show.
        #[arg(long, value_name = "V", conflicts_with = "state")]
        to: Option<u64>,
        /// Only events recorded at or before this time (RFC 3339, such as 2026-11-29T10:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        as_of: Option<SystemTime>,
        /// Fold the events with the application's aggregate and show the state after each.
        #[arg(long)]
        state: bool,
        /// With --state: stop at this version.
        #[arg(long, value_name = "V", requires = "state", conflicts_with = "as_of")]
        at: Option<u64>,
        /// Show long payloads and states whole (the text output cuts them; --json never does).
        #[arg(long)]
        full: bool,
    },
    /// Show the latest events in global order, and with --follow the new ones as they come.
    Tail {
        /// Only events of this aggregate type.
        #[arg(long = "type", visible_alias = "category", value_name = "TYPE")]
        aggregate_type: Option<String>,
        /// How many of the latest events to show first.
        #[arg(long, value_name = "N", default_value_t = 20)]
        last: u32,
        /// Keep watching for new events until interrupted.
        #[arg(long)]
        follow: bool,
        /// How often --follow looks for new events.
        #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
    /// List projections: checkpoint, lag, and the runner holding each.
    Projections,
    /// Act on one projection.
    Projection {
        /// The projection's name.
        name: String,
        #[command(subcommand)]
        action: ProjectionAction,
    },
    /// List a projection's parked events, or retry or discard one.
    Parked {
        /// The projection's name.
        name: String,
        #[command(subcommand)]
        action: Option<ParkedAction>,
    },
    /// Check that every stored event decodes and that no stream misses a version.
    Check,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ParkedAction {
    /// Hand the event to the projection once more; it leaves the parked events on success
    /// (application binary only).
    Retry {
        /// The parked event's id, as listed.
        id: u64,
    },
    /// Mark the event discarded; it stays listed as the record of the decision.
    Discard {
        /// The parked event's id, as listed.
        id: u64,
        /// Why it is discarded.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectionAction {
    /// Move the checkpoint back to the start so that the projection replays every event.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Empty the read model and replay every event, showing progress (application binary only).
    Rebuild,
}

fn parse_time(text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(text).map_err(|e| format!("{e}: expected a UTC time such as 2026-11-29T10:00:00Z"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn at_needs_state() {
        let parsed = Args::try_parse_from(["es", "--database-url", "x", "stream", "s", "--at", "2"]);
        assert_eq!(parsed.unwrap_err().kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
