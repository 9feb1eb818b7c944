//! Versioned migrations of the store's schema, shipped as SQL files.

use deadpool_postgres::Client;

use crate::error::PgError;
use crate::schema::Schema;

/// One step of the schema's history. Released migrations never change:
/// a later change is a new migration.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "events", sql: include_str!("../migrations/0001_events.sql") },
    Migration { version: 2, name: "snapshots", sql: include_str!("../migrations/0002_snapshots.sql") },
    Migration { version: 3, name: "checkpoints", sql: include_str!("../migrations/0003_checkpoints.sql") },
    Migration { version: 4, name: "projection_health", sql: include_str!("../migrations/0004_projection_health.sql") },
    Migration { version: 5, name: "commands", sql: include_str!("../migrations/0005_commands.sql") },
    Migration {
        version: 6,
        name: "snapshot_fingerprint",
        sql: include_str!("../migrations/0006_snapshot_fingerprint.sql"),
    },
    Migration { version: 7, name: "rewrites", sql: include_str!("../migrations/0007_rewrites.sql") },
    Migration { version: 8, name: "subject_keys", sql: include_str!("../migrations/0008_subject_keys.sql") },
    Migration { version: 9, name: "outbox", sql: include_str!("../migrations/0009_outbox.sql") },
    Migration {
        version: 10,
        name: "checkpoint_revision",
        sql: include_str!("../migrations/0010_checkpoint_revision.sql"),
    },
    Migration { version: 11, name: "runners", sql: include_str!("../migrations/0011_runners.sql") },
    Migration {
        version: 12,
        name: "commands_per_store",
        sql: include_str!("../migrations/0012_commands_per_store.sql"),
    },
];

/// Which tables a schema holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// An event store's: every table.
    Store,
    /// A target's, where read models live apart from the store: the
    /// checkpoints, with their revisions, and the parked events.
    ReadModels,
}

impl Tables {
    fn include(self, migration: &Migration) -> bool {
        match self {
            Tables::Store => true,
            Tables::ReadModels => matches!(migration.name, "checkpoints" | "projection_health" | "checkpoint_revision"),
        }
    }
}

/// Applies the migrations of `tables` that `schema` lacks, in one
/// transaction, and returns their versions.
///
/// A transaction-scoped advisory lock serializes concurrent migrators of the
/// same schema: the second one waits, then finds everything applied. A
/// schema may hold both sets: a store's schema can hold read models too.
pub(crate) async fn migrate(client: &mut Client, schema: &Schema, tables: Tables) -> Result<Vec<u32>, PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema.lock_key("migrate")]).await?;
    tx.batch_execute(&schema.render(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );",
    ))
    .await?;
    let applied: Vec<i32> = tx
        .query(&schema.render("SELECT version FROM {schema}.schema_migrations ORDER BY version"), &[])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(&version) = applied.iter().find(|v| !MIGRATIONS.iter().any(|m| m.version == **v)) {
        return Err(PgError::UnknownMigration { schema: schema.name().to_owned(), version });
    }
    let record = schema.render("INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)");
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| tables.include(m) && !applied.contains(&m.version)) {
        let failed = |e| PgError::Migration {
            schema: schema.name().to_owned(),
            version: migration.version,
            name: migration.name,
            cause: Box::new(PgError::from(e)),
        };
        tx.batch_execute(&schema.render(migration.sql)).await.map_err(failed)?;
        tx.execute(&record, &[&migration.version, &migration.name]).await.map_err(failed)?;
        done.push(migration.version.unsigned_abs());
    }
    tx.commit().await?;
    Ok(done)
}

/// The version of the newest migration this release ships.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i32 + 1, "migration {} is out of order", migration.name);
        }
        assert_eq!(latest(), MIGRATIONS.len() as u32);
    }
}
