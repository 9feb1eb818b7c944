//! Moving a CRUD table to event sourcing without a big bang: the steps of
//! `cargo run --example migration`, kept here so that a test can run them
//! too (and plant a mismatch for `verify` to find).
//!
//! The legacy system has an `accounts` table and writes it with `UPDATE`s.
//! The migration:
//!
//! 1. [`import`]s each legacy row as one opening event, idempotently;
//! 2. [`project`]s the events into a table with exactly the legacy columns
//!    and types, in a schema of its own;
//! 3. [`verify`]s the projection against the legacy table, row by row;
//! 4. [`cut_over`]: the legacy table is archived and replaced by a view
//!    over the projection (refusing writes), so unmodified legacy queries
//!    keep working while writes go through the aggregate.

use std::convert::Infallible;
use std::time::Duration;

use es_core::{Aggregate, Apply, BoxError, Event, RecordedEvent, Repository};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use serde::{Deserialize, Serialize};

/// The columns of the legacy table, in its order: what the projection
/// reproduces and the legacy query selects.
pub const LEGACY_COLUMNS: &str = "id, owner, balance_cents, closed, opened_on";

/// The name of the projection that rebuilds the legacy table.
pub const PROJECTION: &str = "legacy_accounts";

/// A legacy row, imported as the first event of its account.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "AccountImported")]
pub struct AccountImported {
    /// The owner.
    pub owner: String,
    /// The balance when imported, in cents.
    pub balance_cents: i64,
    /// Whether the account was closed.
    pub closed: bool,
    /// The day the account was opened, `YYYY-MM-DD`.
    pub opened_on: String,
}

/// Money paid in after the cut-over, in cents.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "AccountCredited")]
pub struct AccountCredited {
    /// Cents paid in.
    pub amount: i64,
}

/// What can happen to a migrated account.
#[derive(Event, Debug, Clone, PartialEq)]
pub enum MigratedEvent {
    /// See [`AccountImported`].
    Imported(AccountImported),
    /// See [`AccountCredited`].
    Credited(AccountCredited),
}

/// A migrated account.
#[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[aggregate(name = "migrated_account", event = MigratedEvent)]
pub struct MigratedAccount {
    /// Whether the legacy row was imported.
    pub imported: bool,
    /// The balance in cents.
    pub balance_cents: i64,
    /// Whether the account is closed.
    pub closed: bool,
}

impl Apply<AccountImported> for MigratedAccount {
    fn apply(&mut self, event: &AccountImported) {
        self.imported = true;
        self.balance_cents = event.balance_cents;
        self.closed = event.closed;
    }
}

impl Apply<AccountCredited> for MigratedAccount {
    fn apply(&mut self, event: &AccountCredited) {
        self.balance_cents += event.amount;
    }
}

/// Why an account refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigratedAccountError {
    /// A deposit into an account that was never imported.
    #[error("the account was never imported")]
    Unknown,
    /// A deposit into a closed account.
    #[error("the account is closed")]
    Closed,
    /// Zero or negative amounts.
    #[error("the amount must be positive, got {0} cents")]
    InvalidAmount(i64),
}

impl MigratedAccount {
    /// The opening event for a legacy row, unless it was imported already.
    pub fn import(&self, row: &AccountImported) -> Result<Vec<MigratedEvent>, Infallible> {
        Ok(if self.imported { Vec::new() } else { vec![MigratedEvent::Imported(row.clone())] })
    }

    /// Pays `amount` cents in.
    pub fn credit(&self, amount: i64) -> Result<Vec<MigratedEvent>, MigratedAccountError> {
        match (self.imported, self.closed) {
            (false, _) => Err(MigratedAccountError::Unknown),
            (true, true) => Err(MigratedAccountError::Closed),
            _ if amount <= 0 => Err(MigratedAccountError::InvalidAmount(amount)),
            _ => Ok(vec![AccountCredited { amount }.into()]),
        }
    }
}

/// The schemas of one migration: the legacy system's, the event store's
/// and the projection's.
#[derive(Debug, Clone)]
pub struct Schemas {
    /// Where the legacy `accounts` table lives.
    pub legacy: String,
    /// The event store.
    pub store: String,
    /// The projection's `accounts` table.
    pub read: String,
}

impl Schemas {
    /// The three schemas, named `<prefix>_legacy`, `<prefix>_es` and
    /// `<prefix>_read`.
    pub fn with_prefix(prefix: &str) -> Self {
        Schemas { legacy: format!("{prefix}_legacy"), store: format!("{prefix}_es"), read: format!("{prefix}_read") }
    }
}

/// The legacy table and its rows, from scratch (earlier runs are dropped);
/// returns the migrated store.
pub async fn set_up(url: &str, schemas: &Schemas) -> Result<PgEventStore, BoxError> {
    let store = PgEventStore::builder_from_url(url)?.schema(&schemas.store).build()?;
    let client = store.connection().await?;
    let Schemas { legacy, store: es, read } = schemas;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {legacy} CASCADE; DROP SCHEMA IF EXISTS {es} CASCADE;
             DROP SCHEMA IF EXISTS {read} CASCADE;
             CREATE SCHEMA {legacy}; CREATE SCHEMA {read};
             CREATE TABLE {legacy}.accounts (
                 id            TEXT PRIMARY KEY,
                 owner         TEXT NOT NULL,
                 balance_cents BIGINT NOT NULL,
                 closed        BOOLEAN NOT NULL,
                 opened_on     DATE NOT NULL
             );
             INSERT INTO {legacy}.accounts VALUES
                 ('acc-1', 'Ada Lovelace', 120000, false, '2019-03-01'),
                 ('acc-2', 'Grace Hopper', 5050, false, '2020-11-15'),
                 ('acc-3', 'Alan Turing', 0, true, '2018-06-23'),
                 ('acc-4', 'Edsger Dijkstra', 999999, false, '2021-01-04');
             CREATE TABLE {read}.accounts (
                 id            TEXT PRIMARY KEY,
                 owner         TEXT NOT NULL,
                 balance_cents BIGINT NOT NULL,
                 closed        BOOLEAN NOT NULL,
                 opened_on     DATE NOT NULL
             );"
        ))
        .await?;
    store.migrate().await?;
    Ok(store)
}

/// The legacy write path: an `UPDATE` of the balance.
pub async fn legacy_deposit(store: &PgEventStore, schemas: &Schemas, id: &str, cents: i64) -> Result<u64, BoxError> {
    let sql = format!("UPDATE {}.accounts SET balance_cents = balance_cents + $2 WHERE id = $1", schemas.legacy);
    Ok(store.connection().await?.execute(&sql, &[&id, &cents]).await.map_err(es_postgres::PgError::from)?)
}

/// Imports each legacy row as the opening event of its account; rows
/// imported before are left alone. Returns how many were imported now.
pub async fn import(store: &PgEventStore, schemas: &Schemas) -> Result<usize, BoxError> {
    let sql = format!(
        "SELECT id, owner, balance_cents, closed, to_char(opened_on, 'YYYY-MM-DD') FROM {}.accounts ORDER BY id",
        schemas.legacy
    );
    let rows = store.connection().await?.query(&sql, &[]).await?;
    let accounts = Repository::<MigratedAccount, _>::new(store.clone());
    let mut imported = 0;
    for row in rows {
        let id: String = row.try_get(0)?;
        let opening = AccountImported {
            owner: row.try_get(1)?,
            balance_cents: row.try_get(2)?,
            closed: row.try_get(3)?,
            opened_on: row.try_get(4)?,
        };
        let committed = accounts.execute(&id, |account| account.import(&opening)).await?;
        imported += committed.events.len();
    }
    Ok(imported)
}

/// The legacy table rebuilt from events, in the read schema.
#[derive(Debug)]
pub struct LegacyAccounts {
    table: String,
}

impl LegacyAccounts {
    /// The projection writing `<read schema>.accounts`.
    pub fn new(schemas: &Schemas) -> Self {
        LegacyAccounts { table: format!("{}.accounts", schemas.read) }
    }
}

impl PgProjection for LegacyAccounts {
    type Event = MigratedEvent;

    fn name(&self) -> &str {
        PROJECTION
    }

    fn aggregate_types(&self) -> es_core::AggregateTypes {
        es_core::AggregateTypes::only([MigratedAccount::TYPE])
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &MigratedEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let id = &env.stream_id;
        match event {
            MigratedEvent::Imported(e) => {
                let insert =
                    format!("INSERT INTO {} ({LEGACY_COLUMNS}) VALUES ($1, $2, $3, $4, $5::text::date)", self.table);
                let statement = tx.prepare_cached(&insert).await?;
                tx.execute(&statement, &[id, &e.owner, &e.balance_cents, &e.closed, &e.opened_on]).await?;
            }
            MigratedEvent::Credited(e) => {
                let update = format!("UPDATE {} SET balance_cents = balance_cents + $2 WHERE id = $1", self.table);
                let statement = tx.prepare_cached(&update).await?;
                tx.execute(&statement, &[id, &e.amount]).await?;
            }
        }
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(&format!("TRUNCATE {}", self.table)).await?;
        Ok(())
    }
}

/// Brings the projection up to every event committed so far; returns how
/// many events it handled.
pub async fn project(store: &PgEventStore, schemas: &Schemas) -> Result<u64, BoxError> {
    let mut runner = PgProjectionRunner::new(store.clone(), LegacyAccounts::new(schemas));
    let last = last_position(store).await?;
    // The global order holds recent commits back while an older
    // transaction of the database still runs: catch up until the last
    // event is in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut handled = runner.catch_up().await?;
    while runner.checkpoint() < last {
        if tokio::time::Instant::now() > deadline {
            return Err("the projection did not reach the last event within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        handled += runner.catch_up().await?;
    }
    Ok(handled)
}

/// The position of the last event of the migrated accounts.
async fn last_position(store: &PgEventStore) -> Result<es_core::Position, BoxError> {
    let sql = format!(
        "SELECT tx::text::int8, position FROM {}.events WHERE aggregate_type = $1 ORDER BY tx DESC, position DESC LIMIT 1",
        store.quoted_schema()
    );
    let row = store.connection().await?.query_opt(&sql, &[&MigratedAccount::TYPE]).await?;
    Ok(match row {
        Some(row) => {
            let (commit, sequence): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            es_core::Position::new(commit.unsigned_abs(), sequence.unsigned_abs())
        }
        None => es_core::Position::START,
    })
}

/// A row that differs between the legacy table and the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The account.
    pub id: String,
    /// The legacy row, if there is one.
    pub legacy: Option<String>,
    /// The projected row, if there is one.
    pub projected: Option<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |row: &Option<String>| row.clone().unwrap_or_else(|| "(missing)".into());
        write!(f, "{}: legacy {} ≠ projection {}", self.id, shown(&self.legacy), shown(&self.projected))
    }
}

/// Every row that differs between the legacy table and the projection, in
/// any column (or missing on one side).
pub async fn verify(store: &PgEventStore, schemas: &Schemas) -> Result<Vec<Mismatch>, BoxError> {
    let sql = format!(
        "SELECT coalesce(l.id, p.id), CASE WHEN l.id IS NOT NULL THEN l::text END, CASE WHEN p.id IS NOT NULL THEN p::text END
         FROM {legacy}.accounts l FULL JOIN {read}.accounts p ON p.id = l.id
         WHERE (l.{columns_l}) IS DISTINCT FROM (p.{columns_p})
         ORDER BY 1",
        legacy = schemas.legacy,
        read = schemas.read,
        columns_l = LEGACY_COLUMNS.replace(", ", ", l."),
        columns_p = LEGACY_COLUMNS.replace(", ", ", p."),
    );
    let rows = store.connection().await?.query(&sql, &[]).await?;
    rows.iter()
        .map(|row| Ok(Mismatch { id: row.try_get(0)?, legacy: row.try_get(1)?, projected: row.try_get(2)? }))
        .collect()
}

/// The legacy system's query, which the migration must not break.
pub const LEGACY_QUERY: &str = "SELECT id, owner, balance_cents, closed, opened_on FROM accounts ORDER BY id";

/// The rows of [`LEGACY_QUERY`], run unchanged with the legacy schema on
/// the search path (it names the table unqualified), each row as text.
pub async fn legacy_query(store: &PgEventStore, schemas: &Schemas) -> Result<Vec<String>, BoxError> {
    let mut client = store.connection().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SET LOCAL search_path TO {}", schemas.legacy)).await?;
    let rows = tx.query(&format!("SELECT row::text FROM ({LEGACY_QUERY}) row"), &[]).await?;
    tx.commit().await?;
    Ok(rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?)
}

/// The cut-over, in one transaction: the legacy table is archived as
/// `accounts_archived` and `accounts` becomes a view over the projection
/// that refuses writes (they go through [`MigratedAccount`] now).
pub async fn cut_over(store: &PgEventStore, schemas: &Schemas) -> Result<(), BoxError> {
    let Schemas { legacy, read, .. } = schemas;
    let mut client = store.connection().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "ALTER TABLE {legacy}.accounts RENAME TO accounts_archived;
         CREATE VIEW {legacy}.accounts AS SELECT {LEGACY_COLUMNS} FROM {read}.accounts;
         CREATE FUNCTION {legacy}.accounts_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             RAISE EXCEPTION 'accounts is read-only since the migration to events: write through the aggregate';
         END $$;
         CREATE TRIGGER accounts_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON {legacy}.accounts
             FOR EACH ROW EXECUTE FUNCTION {legacy}.accounts_read_only();"
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The whole migration, printing each step: what
/// `cargo run --example migration` does, in the schemas named after
/// `prefix` (see [`Schemas::with_prefix`]). Fails when a step does not
/// hold (a mismatch, a changed legacy query, a legacy write let through).
pub async fn run(url: &str, prefix: &str) -> Result<(), BoxError> {
    let schemas = Schemas::with_prefix(prefix);
    let store = set_up(url, &schemas).await?;
    println!("legacy: table {}.accounts, written by UPDATEs", schemas.legacy);
    legacy_deposit(&store, &schemas, "acc-2", 950).await?;
    let before = legacy_query(&store, &schemas).await?;
    println!("legacy query `{LEGACY_QUERY}`:");
    for row in &before {
        println!("  {row}");
    }

    println!("\n(a) import: each legacy row becomes one AccountImported event");
    println!("  imported {} accounts", import(&store, &schemas).await?);
    println!("  imported {} accounts on a second run (idempotent)", import(&store, &schemas).await?);

    println!("\n(b) projection: {}.accounts with the legacy columns and types", schemas.read);
    println!("  projected {} events", project(&store, &schemas).await?);

    println!("\n(c) verify: legacy table against projection");
    let mismatches = verify(&store, &schemas).await?;
    for mismatch in &mismatches {
        println!("  mismatch {mismatch}");
    }
    println!("  {} mismatches", mismatches.len());
    if !mismatches.is_empty() {
        return Err("the projection does not match the legacy table: fix it before the cut-over".into());
    }

    println!("\n(d) cut-over: the legacy table becomes a view over the projection");
    cut_over(&store, &schemas).await?;
    let after = legacy_query(&store, &schemas).await?;
    println!("  the unmodified legacy query returns the same rows: {}", after == before);
    if after != before {
        return Err(format!("the legacy query changed: {before:?} → {after:?}").into());
    }
    match legacy_deposit(&store, &schemas, "acc-2", 100).await {
        Err(refused) => println!("  the legacy write path is refused: {}", es_core::ErrorReport::new(&*refused)),
        Ok(_) => return Err("the legacy write path still writes".into()),
    }
    let accounts = Repository::<MigratedAccount, _>::new(store.clone());
    let committed = accounts.execute("acc-2", |account| account.credit(100)).await?;
    println!("  credit through the aggregate: acc-2 at version {}", committed.version);
    project(&store, &schemas).await?;
    for row in legacy_query(&store, &schemas).await? {
        println!("  {row}");
    }
    Ok(())
}
