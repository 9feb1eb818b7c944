//! Shared by the integration tests: a fresh store in a file of its own,
//! under the system's temporary directory, removed with the directory
//! when the test ends.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use es_sqlite::SqliteEventStore;

/// A directory of the test's own, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("es-sqlite-test-{nanos}-{:08x}", fastrand::u32(..)));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store in a fresh file; the directory lives as long as the process
/// (the conformance suite takes the store alone).
pub async fn fresh_store() -> SqliteEventStore {
    let dir = Box::leak(Box::new(TempDir::new()));
    SqliteEventStore::open(dir.file("store.sqlite3")).await.expect("a fresh store")
}

/// A PostgreSQL store in a fresh schema, as a source of events for
/// targets in SQLite files, on the server `DATABASE_URL` names (default
/// the local one).
pub async fn postgres_store() -> es_postgres::PgEventStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let schema = format!("es_sqlite_source_{nanos}_{:08x}", fastrand::u32(..));
    let store = es_postgres::PgEventStore::builder_from_url(&url).unwrap().schema(&schema).build().unwrap();
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
