//! The Postgres schema the store lives in, and the SQL written for it.
//!
//! Each component keeps its statements in `sql/*.sql` beside its code, as
//! templates: `{schema}` stands for the quoted schema, `{columns}` for the
//! columns of an event row ([`EVENT_COLUMNS`]), `{horizon}` for the
//! common table expression of the global order's horizon
//! (`store/sql/horizon.sql`). [`Schema::sql`] renders a template once per
//! store and keeps it, so adding a statement touches its SQL file and its
//! caller only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::PgError;

/// The columns of an event row, in the order `codec/row.rs` decodes them.
/// Reads of one stream leave out `stream_id`, which the caller knows.
pub(crate) const EVENT_COLUMNS: &str =
    "position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata";

/// The global order's horizon, for templates that say `{horizon}`.
const HORIZON: &str = include_str!("store/sql/horizon.sql");

/// A validated schema name, its quoted form for SQL text, and the
/// statements rendered for it so far.
#[derive(Debug)]
pub(crate) struct Schema {
    name: String,
    quoted: String,
    /// Rendered statements by their template's address and length: every
    /// template is a `&'static str` of an `include_str!`.
    rendered: Mutex<HashMap<(usize, usize), Arc<str>>>,
}

impl Schema {
    /// Postgres truncates identifiers longer than this many bytes.
    pub(crate) const MAX_LEN: usize = 63;

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
        Ok(Schema { name: name.to_owned(), quoted, rendered: Mutex::default() })
    }

    /// The name as given.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The name as a quoted SQL identifier.
    pub(crate) fn quoted(&self) -> &str {
        &self.quoted
    }

    /// `template` rendered for this schema, rendered on first use.
    pub(crate) fn sql(&self, template: &'static str) -> Arc<str> {
        let key = (template.as_ptr() as usize, template.len());
        let mut rendered = self.rendered.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(rendered.entry(key).or_insert_with(|| self.render(template).into()))
    }

    /// `template` with its placeholders replaced.
    pub(crate) fn render(&self, template: &str) -> String {
        template
            .replace("{horizon}", HORIZON.trim_end())
            .replace("{columns}", EVENT_COLUMNS)
            .replace("{schema}", &self.quoted)
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

    /// The channel appends notify and projection runners listen on: fixed
    /// length whatever the schema name, so it is always a valid identifier.
    pub(crate) fn events_channel(&self) -> String {
        format!("es_events_{:016x}", self.lock_key("events"))
    }

    /// The channel every change of a checkpoint notifies.
    pub(crate) fn checkpoint_channel(&self) -> String {
        format!("es_checkpoints_{:016x}", self.lock_key("checkpoints"))
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
    fn renders_a_template_once() {
        static TEMPLATE: &str = "SELECT {columns} FROM {schema}.events";
        let schema = Schema::new("s").unwrap();
        let first = schema.sql(TEMPLATE);
        assert_eq!(&*first, format!("SELECT {EVENT_COLUMNS} FROM \"s\".events"));
        assert!(Arc::ptr_eq(&first, &schema.sql(TEMPLATE)));
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
