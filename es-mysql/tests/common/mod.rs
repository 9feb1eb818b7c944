//! Shared by the integration tests: a fresh database of their own on the
//! MariaDB/MySQL server `MYSQL_URL` names (default the local MariaDB as
//! root), a PostgreSQL store in a fresh schema as the source, and a ledger
//! projection that logs every event it handles.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use es_core::{BoxError, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent};
use es_mysql::mysql_async::prelude::Queryable;
use es_mysql::mysql_async::{Conn, Opts};
use es_mysql::{MySqlProjection, MySqlTarget, MySqlTransaction};
use es_postgres::PgEventStore;
use serde::{Deserialize, Serialize};

/// The server used when `MYSQL_URL` is not set.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";

pub fn server_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}_{nanos}_{:08x}", fastrand::u32(..))
}

/// A connection to the server, outside any database.
pub async fn admin() -> Conn {
    let url = server_url();
    let opts = Opts::from_url(&url).unwrap();
    Conn::new(opts).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach MariaDB/MySQL at {url}: {e}\nStart the local server with\n    \
             start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n\
             (or run ./test, which does), or point MYSQL_URL at one."
        )
    })
}

/// A target in a database of its own, dropped by [`drop_target`].
pub async fn fresh_target() -> MySqlTarget {
    let database = unique("es_test");
    admin().await.query_drop(format!("CREATE DATABASE {database}")).await.unwrap();
    MySqlTarget::connect(&format!("{}/{database}", server_url())).await.unwrap()
}

/// Drops the target's database.
pub async fn drop_target(target: MySqlTarget) {
    admin().await.query_drop(format!("DROP DATABASE {}", target.database())).await.unwrap();
}

/// A PostgreSQL store in a fresh schema, on the server `DATABASE_URL`
/// names (default the local one).
pub async fn postgres_store() -> PgEventStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url).unwrap().schema(unique("es_mysql_source")).build().unwrap();
    store.migrate().await.unwrap_or_else(|e| {
        panic!(
            "cannot use PostgreSQL at {url}: {}\nStart the local server with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point DATABASE_URL at one.",
            es_core::ErrorReport::new(&e)
        )
    });
    store
}

/// Drops the store's schema.
pub async fn drop_store(store: PgEventStore) {
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}

#[derive(es_core::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "mysql-tests.Deposited")]
pub struct Deposited {
    pub amount: i64,
}

pub async fn deposit(store: &impl EventStore, stream: &str, amount: i64) -> Position {
    let event = es_core::Event::encode(&Deposited { amount }).unwrap();
    let appended = store.append("account", stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    appended.unwrap().position().unwrap()
}

/// Balances per stream and a log of every event handled, in order. Fails
/// on deposits of `poison` while it is set.
pub struct Ledger {
    pub poison: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Ledger {
    pub fn new() -> Self {
        Ledger { poison: Default::default() }
    }
}

impl MySqlProjection for Ledger {
    type Event = Deposited;

    fn name(&self) -> &str {
        "ledger"
    }

    async fn setup(&mut self, c: &mut Conn) -> Result<(), BoxError> {
        c.query_drop(
            "CREATE TABLE IF NOT EXISTS balances (id VARCHAR(190) PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB",
        )
        .await?;
        c.query_drop(
            "CREATE TABLE IF NOT EXISTS handled (n BIGINT AUTO_INCREMENT PRIMARY KEY, tx BIGINT UNSIGNED NOT NULL, \
             position BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB",
        )
        .await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        tx: &mut MySqlTransaction<'_>,
        event: &Deposited,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if event.amount == self.poison.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(format!("cannot book {}", event.amount).into());
        }
        tx.exec_drop(
            "INSERT INTO balances (id, balance) VALUES (?, ?) ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance)",
            (&envelope.stream_id, event.amount),
        )
        .await?;
        tx.exec_drop(
            "INSERT INTO handled (tx, position) VALUES (?, ?)",
            (envelope.position.commit, envelope.position.sequence),
        )
        .await?;
        Ok(())
    }

    async fn reset(&mut self, tx: &mut MySqlTransaction<'_>) -> Result<(), BoxError> {
        tx.query_drop("DELETE FROM balances").await?;
        tx.query_drop("DELETE FROM handled").await?;
        Ok(())
    }
}

/// Each event the ledger in `target` handled, in order, and the balances'
/// total.
pub async fn model(target: &MySqlTarget) -> (Vec<Position>, i64) {
    let mut c = target.pool().get_conn().await.unwrap();
    let seen: Vec<(u64, u64)> = c.query("SELECT tx, position FROM handled ORDER BY n").await.unwrap();
    let total: Option<Option<i64>> = c.query_first("SELECT CAST(sum(balance) AS SIGNED) FROM balances").await.unwrap();
    (seen.into_iter().map(|(c, s)| Position::new(c, s)).collect(), total.flatten().unwrap_or(0))
}

/// Every event's position through `last`, in global order; the read goes
/// on while other tests' open transactions hold newer events back.
pub async fn replay(store: &impl EventStore, last: Position) -> Vec<Position> {
    let (mut all, mut after) = (Vec::new(), Position::START);
    while after < last {
        let page = store.read_all(after, 1000).await.unwrap();
        match page.last() {
            Some(newest) => after = newest.position,
            None => tokio::task::yield_now().await,
        }
        all.extend(page.iter().map(|e| e.position));
    }
    all
}
