//! Shared by the integration tests: a fresh store in its own schema on the
//! server `DATABASE_URL` points at.
//!
//! Every test gets a schema of its own, so tests run in parallel and the
//! suite can be rerun. Without a reachable server the tests fail (never
//! skip) and say how to start one.
#![allow(dead_code)]

pub mod ledger;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_postgres::PgEventStore;
use es_postgres::tokio_postgres::{self, NoTls};

/// The server used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Test schemas are named `espg_test_<unix seconds>_<random>`.
const PREFIX: &str = "espg_test_";

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
    format!("{PREFIX}{secs}_{:016x}", fastrand::u64(..))
}

/// A migrated store in a schema of its own.
pub async fn fresh_store() -> PgEventStore {
    store_in(&schema_name()).await
}

/// A migrated store in `schema`.
pub async fn store_in(schema: &str) -> PgEventStore {
    drop_stale_schemas().await;
    let store =
        PgEventStore::builder(config()).schema(schema).pool_size(8).build().expect("a valid store configuration");
    if let Err(e) = store.migrate().await {
        unreachable(&e);
    }
    store
}

/// The role without superuser rights that [`fresh_store_as_app_role`]
/// connects as.
pub const APP_ROLE: &str = "es_test_app";

/// A migrated store in a schema of its own, reached as [`APP_ROLE`], a
/// role without superuser rights (created on first use, with the right to
/// create schemas in the database).
pub async fn fresh_store_as_app_role() -> PgEventStore {
    let mut admin = raw_client().await;
    let tx = admin.transaction().await.unwrap();
    // Concurrent tests would race to create the role.
    tx.execute("SELECT pg_advisory_xact_lock(7355608)", &[]).await.unwrap();
    tx.batch_execute(&format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER;
             END IF;
             EXECUTE format('GRANT CREATE ON DATABASE %I TO {APP_ROLE}', current_database());
         END $$;"
    ))
    .await
    .unwrap_or_else(|e| unreachable(&format!("cannot set up role {APP_ROLE}: {e}")));
    tx.commit().await.unwrap();
    let mut config = config();
    config.user(APP_ROLE);
    let store = PgEventStore::builder(config).schema(schema_name()).pool_size(8).build().unwrap();
    store.migrate().await.unwrap_or_else(|e| unreachable(&e));
    store
}

/// A plain connection as [`APP_ROLE`].
pub async fn app_role_client() -> tokio_postgres::Client {
    let mut config = config();
    config.user(APP_ROLE);
    connect(&config).await
}

/// A connection to another database of the same server (created on first
/// use), as the superuser.
pub async fn other_database_client() -> tokio_postgres::Client {
    const OTHER: &str = "es_test_other";
    let mut config = config();
    config.dbname(OTHER);
    if let Ok((client, connection)) = config.connect(NoTls).await {
        tokio::spawn(connection);
        return client;
    }
    create_database(OTHER).await;
    connect(&config).await
}

/// Creates database `name` on the server unless it exists, also when
/// tests running at once create it together.
pub async fn create_database(name: &str) {
    use tokio_postgres::error::SqlState;
    let created = raw_client().await.batch_execute(&format!("CREATE DATABASE {name}")).await;
    if let Err(e) = created {
        // Two `CREATE DATABASE` at once: the loser fails on the catalog's
        // unique index.
        let exists =
            matches!(e.code(), Some(c) if *c == SqlState::DUPLICATE_DATABASE || *c == SqlState::UNIQUE_VIOLATION);
        assert!(exists, "cannot create database {name}: {e}");
    }
}

/// A plain connection to database `name` of the same server, as the
/// superuser.
pub async fn other_client(name: &str) -> tokio_postgres::Client {
    let mut config = config();
    config.dbname(name);
    connect(&config).await
}

async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|e| unreachable(&e));
    tokio::spawn(connection);
    client
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

/// Reads the global order from `after` in pages of `page` until the event at
/// `last` has been read, and returns everything read.
///
/// `read_all` holds events back while an older transaction anywhere in the
/// cluster is still running (other tests run in parallel), so a read right
/// after a commit may come back short; this polls like a projection would.
pub async fn read_all_through(
    store: &PgEventStore,
    after: es_core::Position,
    last: es_core::Position,
    page: usize,
) -> Vec<es_core::RecordedEvent> {
    use es_core::EventStore;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut read: Vec<es_core::RecordedEvent> = Vec::new();
    let mut from = after;
    while from < last {
        let batch = store.read_all(from, page).await.expect("read_all");
        match batch.last() {
            Some(event) => from = event.position,
            None if tokio::time::Instant::now() > deadline => {
                panic!("read_all stopped at {from} and never reached {last}")
            }
            None => tokio::time::sleep(Duration::from_millis(2)).await,
        }
        read.extend(batch);
    }
    read
}
