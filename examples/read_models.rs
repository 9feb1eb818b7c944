//! The bank's balances kept in two other databases than the event store's:
//! the events are in PostgreSQL, one read model is in MariaDB and one in a
//! SQLite file. Each page of events commits there with the projection's
//! checkpoint, so neither ever counts a deposit twice. Both are then
//! queried where they live.
//!
//! ```text
//! cargo run --example read_models   # DATABASE_URL and MYSQL_URL, or the local servers
//! ```
//!
//! The example works in the PostgreSQL schema `es_example_read_models`, the
//! MariaDB database of the same name and `target/read_models.sqlite3`, all
//! emptied on every run.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use es_core::{AggregateTypes, BoxError, RecordedEvent, Repository};
use es_examples::account::{Account, AccountEvent, dollars, usd};
use es_mysql::mysql_async::prelude::Queryable;
use es_mysql::mysql_async::{Conn, Opts};
use es_mysql::{MySqlProjection, MySqlProjectionRunner, MySqlTarget, MySqlTransaction};
use es_postgres::PgEventStore;
use es_sqlite::{SqliteProjection, SqliteProjectionRunner, SqliteTarget, SqliteTransaction};

const NAME: &str = "es_example_read_models";

/// What an event does to an account's row, whatever the database.
enum Change<'a> {
    Open(&'a str),
    Add(i64),
    Close,
}

fn change(event: &AccountEvent) -> Change<'_> {
    match event {
        AccountEvent::Opened(e) => Change::Open(&e.owner),
        AccountEvent::Deposited(e) => Change::Add(e.amount),
        AccountEvent::Withdrew(e) => Change::Add(-e.amount),
        AccountEvent::Closed(_) => Change::Close,
    }
}

/// One row per account, in MariaDB.
struct MariaDbBalances;

impl MySqlProjection for MariaDbBalances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "account_balances"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    async fn setup(&mut self, c: &mut Conn) -> Result<(), BoxError> {
        c.query_drop(
            "CREATE TABLE IF NOT EXISTS account_balances (id VARCHAR(190) PRIMARY KEY, owner TEXT NOT NULL, \
             balance BIGINT NOT NULL, closed BOOLEAN NOT NULL DEFAULT false) ENGINE=InnoDB",
        )
        .await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        tx: &mut MySqlTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let id = &env.stream_id;
        match change(event) {
            Change::Open(owner) => {
                tx.exec_drop("INSERT INTO account_balances (id, owner, balance) VALUES (?, ?, 0)", (id, owner)).await?
            }
            Change::Add(amount) => {
                tx.exec_drop("UPDATE account_balances SET balance = balance + ? WHERE id = ?", (amount, id)).await?
            }
            Change::Close => tx.exec_drop("UPDATE account_balances SET closed = true WHERE id = ?", (id,)).await?,
        }
        Ok(())
    }

    async fn reset(&mut self, tx: &mut MySqlTransaction<'_>) -> Result<(), BoxError> {
        tx.query_drop("DELETE FROM account_balances").await?;
        Ok(())
    }
}

/// The same rows, in a SQLite file.
struct SqliteBalances;

impl SqliteProjection for SqliteBalances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "account_balances"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS account_balances (id TEXT PRIMARY KEY, owner TEXT NOT NULL, \
             balance INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0) STRICT",
        )?;
        Ok(())
    }

    fn handle(
        &mut self,
        tx: &SqliteTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let id = &env.stream_id;
        match change(event) {
            Change::Open(owner) => {
                tx.execute("INSERT INTO account_balances (id, owner, balance) VALUES (?1, ?2, 0)", (id, owner))?
            }
            Change::Add(amount) => {
                tx.execute("UPDATE account_balances SET balance = balance + ?1 WHERE id = ?2", (amount, id))?
            }
            Change::Close => tx.execute("UPDATE account_balances SET closed = 1 WHERE id = ?1", [id])?,
        };
        Ok(())
    }

    fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute("DELETE FROM account_balances", [])?;
        Ok(())
    }
}

/// The MariaDB database of the example, created empty.
async fn mariadb_target() -> Result<MySqlTarget, Box<dyn Error>> {
    let server = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let mut admin = Conn::new(Opts::from_url(&server)?).await?;
    admin.query_drop(format!("DROP DATABASE IF EXISTS {NAME}")).await?;
    admin.query_drop(format!("CREATE DATABASE {NAME}")).await?;
    Ok(MySqlTarget::connect(&format!("{server}/{NAME}")).await?)
}

/// The SQLite file of the example, created empty.
async fn sqlite_target() -> Result<SqliteTarget, Box<dyn Error>> {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target)?;
    let file = target.canonicalize()?.join("read_models.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    Ok(SqliteTarget::open(&file).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url)?.schema(NAME).build()?;
    store.connection().await?.batch_execute(&format!("DROP SCHEMA IF EXISTS {NAME} CASCADE")).await?;
    store.migrate().await?;
    let (mariadb, sqlite) = (mariadb_target().await?, sqlite_target().await?);
    println!("events: PostgreSQL at {url}, schema `{NAME}`");
    println!("read models: MariaDB database `{}`, SQLite file {}", mariadb.database(), sqlite.path().display());

    let accounts = Repository::<Account, _>::new(store.clone());
    let mut last = None;
    for n in 1..=8i64 {
        let id = format!("acc-{n:02}");
        accounts.execute(&id, |a| a.open(&format!("owner {n}"))).await?;
        for deposit in 1..=n {
            last = accounts.execute(&id, |a| a.deposit(deposit * usd(500))).await?.position;
        }
    }
    last = accounts.execute("acc-03", Account::close).await?.position.or(last);
    let last = last.ok_or("no event was written")?;
    println!("wrote 8 accounts' history to the event store");

    let mut into_mariadb = MySqlProjectionRunner::new(store.clone(), mariadb.clone(), MariaDbBalances);
    let mut into_sqlite = SqliteProjectionRunner::new(store.clone(), sqlite.clone(), SqliteBalances);
    let (mut handled_mariadb, mut handled_sqlite) = (0, 0);
    // The store may hold the newest events back for a moment while an
    // older transaction of the server is still open.
    while into_mariadb.checkpoint() < last || into_sqlite.checkpoint() < last {
        let (m, s) = tokio::try_join!(into_mariadb.catch_up(), into_sqlite.catch_up())?;
        (handled_mariadb, handled_sqlite) = (handled_mariadb + m, handled_sqlite + s);
    }
    println!("projected {handled_mariadb} events into MariaDB and {handled_sqlite} into SQLite");
    // Another process waits for a command's position like this.
    mariadb.wait_for_projection("account_balances", last, Duration::from_secs(10)).await?;
    sqlite.wait_for_projection("account_balances", last, Duration::from_secs(10)).await?;

    println!("\nopen accounts with a balance over $10,000, from MariaDB:");
    let mut c = mariadb.pool().get_conn().await?;
    let rich: Vec<(String, String, i64)> = c
        .query("SELECT id, owner, balance FROM account_balances WHERE balance > 1000000 AND NOT closed ORDER BY id")
        .await?;
    for (id, owner, balance) in &rich {
        println!("  {id}  {owner:<8}  {}", dollars(*balance));
    }

    println!("\nthe same question, from the SQLite file:");
    let file = es_sqlite::rusqlite::Connection::open(sqlite.path())?;
    let mut query = file.prepare(
        "SELECT id, owner, balance FROM account_balances WHERE balance > 1000000 AND closed = 0 ORDER BY id",
    )?;
    let from_sqlite = query
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, owner, balance) in &from_sqlite {
        println!("  {id}  {owner:<8}  {}", dollars(*balance));
    }
    if rich != from_sqlite {
        return Err("the two read models disagree".into());
    }
    Ok(())
}
