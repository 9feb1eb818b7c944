//! Shared by the integration tests: a fresh store in its own schema on the
//! server `DATABASE_URL` points at, a small bank domain to fill it with,
//! and a way to run the `es` binary against it.
//!
//! Every test gets a schema of its own, so tests run in parallel and the
//! suite can be rerun. Without a reachable server the tests fail (never
//! skip) and say how to start one.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::{Aggregate, Apply, BoxError, Event, EventStore, Position, RecordedEvent, Repository};
use es_postgres::tokio_postgres::{self, NoTls};
use es_postgres::{PgEventStore, PgProjection, PgTransaction};
use serde::{Deserialize, Serialize};

/// The server used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Test schemas are named `escli_<unix seconds>_<random>`: short, so that a
/// projection runner's application name (`es projection <schema>.<name>`)
/// fits the 63 bytes Postgres keeps.
const PREFIX: &str = "escli_";

/// Schemas of earlier runs older than this are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

fn unreachable(what: &dyn std::fmt::Display) -> ! {
    panic!(
        "cannot use PostgreSQL at {url}: {what}\n\
         These tests need a running server. Start the local one with\n\
         \x20   pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
         or point DATABASE_URL at a reachable server (trust or password in the URL).",
        url = database_url()
    )
}

pub fn config() -> tokio_postgres::Config {
    database_url().parse().unwrap_or_else(|e| unreachable(&format!("DATABASE_URL does not parse: {e}")))
}

/// A unique, fresh schema name.
pub fn schema_name() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{PREFIX}{secs}_{:08x}", fastrand::u32(..))
}

/// A store in a schema of its own, not migrated.
pub async fn blank_store() -> PgEventStore {
    drop_stale_schemas().await;
    PgEventStore::builder(config()).schema(schema_name()).pool_size(4).build().expect("a valid store configuration")
}

/// A migrated store in a schema of its own.
pub async fn fresh_store() -> PgEventStore {
    let store = blank_store().await;
    if let Err(e) = store.migrate().await {
        unreachable(&e);
    }
    store
}

/// A plain connection, for poking at the tables behind the store's back.
pub async fn raw_client() -> tokio_postgres::Client {
    let (client, connection) = config().connect(NoTls).await.unwrap_or_else(|e| unreachable(&e));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Drops the test schemas of runs long gone, once per test binary.
async fn drop_stale_schemas() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let client = raw_client().await;
    let Ok(rows) =
        client.query("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)", &[&PREFIX]).await
    else {
        return;
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for row in rows {
        let name: String = row.get(0);
        let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|secs| now.saturating_sub(secs) > STALE_AFTER.as_secs()) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
        }
    }
}

// The bank: accounts that are opened and take deposits.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "escli.Opened")]
pub struct Opened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "escli.Deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
#[aggregate(name = "account", event = AccountEvent)]
pub struct Account {
    pub owner: String,
    pub balance: i64,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, e: &Opened) {
        self.owner = e.owner.clone();
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

/// While set, `Balances` refuses deposits of [`REFUSED_AMOUNT`]: a handler
/// that fails until its cause is fixed.
pub static REFUSING: AtomicBool = AtomicBool::new(false);

/// The deposit `Balances` refuses while [`REFUSING`] is set.
pub const REFUSED_AMOUNT: i64 = 666;

/// The balance of every account, in a table of the store's schema.
pub struct Balances {
    table: String,
}

impl Balances {
    /// Creates the table unless it exists.
    pub async fn create(store: &PgEventStore) -> Self {
        let table = format!("{}.balances", store.quoted_schema());
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL)"
        );
        raw_client().await.batch_execute(&create).await.expect("create the balances table");
        Balances { table }
    }

    /// Every (id, balance), by id.
    pub async fn rows(store: &PgEventStore) -> Vec<(String, i64)> {
        let query = format!("SELECT id, balance FROM {}.balances ORDER BY id", store.quoted_schema());
        raw_client()
            .await
            .query(&query, &[])
            .await
            .expect("read balances")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

impl PgProjection for Balances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "balances"
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        match event {
            AccountEvent::Opened(e) => {
                let insert = format!("INSERT INTO {} (id, owner, balance) VALUES ($1, $2, 0)", self.table);
                tx.execute(&insert, &[&env.stream_id, &e.owner]).await?
            }
            AccountEvent::Deposited(e) if e.amount == REFUSED_AMOUNT && REFUSING.load(Ordering::SeqCst) => {
                return Err(format!("deposits of {REFUSED_AMOUNT} are refused").into());
            }
            AccountEvent::Deposited(e) => {
                let update = format!("UPDATE {} SET balance = balance + $2 WHERE id = $1", self.table);
                tx.execute(&update, &[&env.stream_id, &e.amount]).await?
            }
        };
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(&format!("TRUNCATE {}", self.table)).await?;
        Ok(())
    }
}

/// Opens acc-1 (ada) with deposits of 100 and 50, then acc-2 (bob); returns
/// the position of the last event, once `read_all` returns it.
pub async fn seed(store: &PgEventStore) -> Position {
    let last = seed_into(store).await;
    visible(store, last).await;
    last
}

/// Writes [`seed`]'s events into any store; returns the last one's position.
pub async fn seed_into<S: EventStore + Clone>(store: &S) -> Position {
    let accounts = Repository::<Account, _>::new(store.clone());
    let open = |owner: &str| {
        let owner = owner.to_owned();
        move |_: &Account| Ok::<_, String>(vec![AccountEvent::Opened(Opened { owner: owner.clone() })])
    };
    let deposit = |amount| move |_: &Account| Ok::<_, String>(vec![AccountEvent::Deposited(Deposited { amount })]);
    accounts.execute("acc-1", open("ada")).await.expect("open acc-1");
    accounts.execute("acc-1", deposit(100)).await.expect("deposit");
    accounts.execute("acc-1", deposit(50)).await.expect("deposit");
    accounts.execute("acc-2", open("bob")).await.expect("open acc-2").position.expect("a position")
}

/// Waits until `read_all` returns the event at `last`.
///
/// `read_all` holds events back while an older transaction anywhere in the
/// cluster is still running (other tests run in parallel); once it returned
/// an event, every event before it stays visible, so what the commands read
/// afterwards is settled.
pub async fn visible(store: &PgEventStore, last: Position) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut from = Position::START;
    while from < last {
        match store.read_all(from, 1000).await.expect("read_all").last() {
            Some(event) => from = event.position,
            None if tokio::time::Instant::now() > deadline => {
                panic!("read_all stopped at {from} and never reached {last}")
            }
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// A run of the `es` binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON; panics with the whole run when it does not parse.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts a zero exit code and returns the run.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "es failed: {self:#?}");
        self
    }
}

/// Runs `es --database-url … --schema <store's> args…` with `stdin` as input
/// (closed when `None`).
pub fn es_with_input(store: &PgEventStore, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_es"));
    command.arg("--database-url").arg(database_url()).arg("--schema").arg(store.schema()).args(args);
    let output = run(command, stdin);
    finish(output)
}

/// Runs `es` against the store with stdin closed.
pub fn es(store: &PgEventStore, args: &[&str]) -> Run {
    es_with_input(store, args, None)
}

/// Runs `es` with exactly `args`, `DATABASE_URL` unset.
pub fn es_raw(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_es"));
    command.env_remove("DATABASE_URL").args(args);
    finish(run(command, None))
}

fn run(mut command: Command, stdin: Option<&str>) -> Output {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("start es");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for es")
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A projection's checkpoint as `commit/sequence`, read behind the store's back.
pub async fn checkpoint(store: &PgEventStore, projection: &str) -> String {
    let query =
        format!("SELECT tx::text || '/' || position FROM {}.checkpoints WHERE projection = $1", store.quoted_schema());
    raw_client().await.query_one(&query, &[&projection]).await.expect("read the checkpoint").get(0)
}
