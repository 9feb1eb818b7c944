//! The Postgres schema the store lives in, and the SQL written for it.

use crate::error::PgError;

/// A validated schema name and its quoted form for SQL text.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    name: String,
    quoted: String,
}

impl Schema {
    /// Postgres truncates identifiers longer than this many bytes.
    const MAX_LEN: usize = 63;

    pub(crate) fn new(name: &str) -> Result<Self, PgError> {
        let invalid = |reason| Err(PgError::InvalidSchema { name: name.to_owned(), reason });
        if name.is_empty() {
            return invalid("it is empty");
        }
        if name.len() > Self::MAX_LEN {
            return invalid("it is longer than 63 bytes, and Postgres would truncate it");
        }
        if name.contains('\0') {
            return invalid("it contains a NUL character");
        }
        if name.starts_with("pg_") {
            return invalid("names starting with `pg_` are reserved for system schemas");
        }
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        Ok(Schema { name: name.to_owned(), quoted })
    }

    /// The name as given.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The name as a quoted SQL identifier.
    pub(crate) fn quoted(&self) -> &str {
        &self.quoted
    }

    /// `template` with every `{schema}` replaced by the quoted name.
    pub(crate) fn render(&self, template: &str) -> String {
        template.replace("{schema}", &self.quoted)
    }

    /// A stable 64-bit key for advisory locks about this schema.
    pub(crate) fn lock_key(&self, purpose: &str) -> i64 {
        // FNV-1a: stable across processes and releases, unlike `DefaultHasher`.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in "es-postgres".bytes().chain(purpose.bytes()).chain([0]).chain(self.name.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        i64::from_ne_bytes(hash.to_ne_bytes())
    }
}

/// The statements of the store, rendered once for its schema.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) append: String,
    pub(crate) append_one: String,
    pub(crate) command_versions: String,
    pub(crate) stream_version: String,
    pub(crate) read_stream: String,
    pub(crate) read_stream_events: String,
    pub(crate) count: String,
    pub(crate) held_back: String,
    pub(crate) read_all: String,
    pub(crate) save_snapshot: String,
    pub(crate) load_snapshot: String,
    pub(crate) read_snapshot_and_events: String,
    pub(crate) load_checkpoint: String,
    pub(crate) save_checkpoint: String,
    pub(crate) read_filtered: String,
    pub(crate) count_filtered: String,
    pub(crate) stop_checkpoint: String,
    pub(crate) reset_checkpoint: String,
    pub(crate) checkpoints: String,
    pub(crate) park: String,
    pub(crate) parked: String,
    pub(crate) unpark: String,
    pub(crate) retry_failed: String,
    pub(crate) discard: String,
    pub(crate) forget_parked: String,
    pub(crate) outbox_enqueue: String,
    pub(crate) outbox_read: String,
    pub(crate) outbox_prune: String,
}

/// The columns of an event row, in the order `row.rs` decodes them.
/// Reads of one stream leave out `stream_id`, which the caller knows.
pub(crate) const EVENT_COLUMNS: &str =
    "position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata";

impl Statements {
    pub(crate) fn new(schema: &Schema) -> Self {
        let horizon = include_str!("sql/horizon.sql").trim_end();
        let render = |sql: &str| schema.render(&sql.replace("{columns}", EVENT_COLUMNS).replace("{horizon}", horizon));
        Statements {
            append: render(include_str!("sql/append.sql")),
            append_one: render(include_str!("sql/append_one.sql")),
            command_versions: render(include_str!("sql/command_versions.sql")),
            stream_version: render(include_str!("sql/stream_version.sql")),
            read_stream: render(include_str!("sql/read_stream.sql")),
            read_stream_events: render(include_str!("sql/read_stream_events.sql")),
            count: render(include_str!("sql/count.sql")),
            held_back: render(include_str!("sql/held_back.sql")),
            read_all: render(include_str!("sql/read_all.sql")),
            save_snapshot: render(include_str!("sql/save_snapshot.sql")),
            load_snapshot: render(include_str!("sql/load_snapshot.sql")),
            read_snapshot_and_events: render(include_str!("sql/read_snapshot_and_events.sql")),
            load_checkpoint: render(include_str!("sql/load_checkpoint.sql")),
            save_checkpoint: render(include_str!("sql/save_checkpoint.sql")),
            read_filtered: render(include_str!("sql/read_filtered.sql")),
            count_filtered: render(include_str!("sql/count_filtered.sql")),
            stop_checkpoint: render(include_str!("sql/stop_checkpoint.sql")),
            reset_checkpoint: render(include_str!("sql/reset_checkpoint.sql")),
            checkpoints: render(include_str!("sql/checkpoints.sql")),
            park: render(include_str!("sql/park.sql")),
            parked: render(include_str!("sql/parked.sql")),
            unpark: render(include_str!("sql/unpark.sql")),
            retry_failed: render(include_str!("sql/retry_failed.sql")),
            discard: render(include_str!("sql/discard.sql")),
            forget_parked: render(include_str!("sql/forget_parked.sql")),
            outbox_enqueue: render(include_str!("sql/outbox_enqueue.sql")),
            outbox_read: render(include_str!("sql/outbox_read.sql")),
            outbox_prune: render(include_str!("sql/outbox_prune.sql")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_name() {
        let schema = Schema::new(r#"my "odd" schema"#).unwrap();
        assert_eq!(schema.quoted(), r#""my ""odd"" schema""#);
        assert_eq!(schema.render("SELECT 1 FROM {schema}.events"), r#"SELECT 1 FROM "my ""odd"" schema".events"#);
    }

    #[test]
    fn refuses_unusable_names() {
        for name in ["", "pg_catalog", "a\0b", &"x".repeat(64)] {
            assert!(matches!(Schema::new(name), Err(PgError::InvalidSchema { .. })), "{name:?} was accepted");
        }
    }

    #[test]
    fn lock_keys_differ_by_schema_and_purpose() {
        let a = Schema::new("a").unwrap();
        let b = Schema::new("b").unwrap();
        assert_ne!(a.lock_key("migrate"), b.lock_key("migrate"));
        assert_ne!(a.lock_key("migrate"), a.lock_key("other"));
        assert_eq!(a.lock_key("migrate"), Schema::new("a").unwrap().lock_key("migrate"));
    }
}
