//! The PostgreSQL server the tests use.

use es_postgres::PgEventStore;

/// `DATABASE_URL`, or the local server.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A migrated store in a schema of its own, named like es-postgres's test
/// schemas so that its suite drops it once stale.
pub async fn fresh_store() -> PgEventStore {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let schema = format!("espg_test_{secs}_{:016x}", fastrand::u64(..));
    let store = PgEventStore::builder_from_url(&database_url())
        .and_then(|b| b.schema(schema).pool_size(4).build())
        .unwrap_or_else(|e| panic!("a store configuration from DATABASE_URL: {e}"));
    store.migrate().await.unwrap_or_else(|e| {
        panic!(
            "these tests need PostgreSQL at {} (set DATABASE_URL, or start the local server with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`): {e}",
            database_url()
        )
    });
    store
}
