//! The store a command runs on: picked from the URL's scheme, here and
//! only here, and held behind the admin traits every store implements.

use std::sync::Arc;
use std::time::Duration;

use es_core::admin::{Location, ProjectionAdmin, StoreAdmin};
use es_postgres::PgEventStore;
use es_sqlite::{SqliteError, SqliteEventStore, SqliteTarget};

use crate::error::Error;

/// The schemes of the stores the command line reaches.
const SCHEMES: &str = "postgres:// (or postgresql://, or a key=value string) or sqlite:// (or sqlite::memory:)";

/// A store, as the commands use it.
#[derive(Clone)]
pub(crate) struct Store {
    /// What every store answers.
    pub(crate) admin: Arc<dyn StoreAdmin>,
    /// Where the projections' checkpoints live.
    pub(crate) projections: Arc<dyn ProjectionAdmin>,
    /// The PostgreSQL store itself, for what only it does (migrations, the
    /// application's projections).
    pub(crate) postgres: Option<PgEventStore>,
}

/// What a store's migrations did.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Migrated {
    /// Where the store lives.
    pub(crate) location: String,
    /// The migrations applied now, where the store tells.
    pub(crate) applied: Option<Vec<u32>>,
    /// The newest migration.
    pub(crate) latest: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.admin.location()).finish_non_exhaustive()
    }
}

impl Store {
    /// The PostgreSQL store the application already has.
    pub(crate) fn postgres(store: PgEventStore) -> Self {
        Store { admin: Arc::new(store.clone()), projections: Arc::new(store.clone()), postgres: Some(store) }
    }

    /// The SQLite store in `store`'s file, its projections' checkpoints
    /// beside its events. A store in memory is new and empty, so there is
    /// nothing to look at.
    async fn sqlite(store: SqliteEventStore) -> Result<Self, Error> {
        if store.path().is_none() {
            return Err(Error::NoStore { location: store.location() });
        }
        let projections = Arc::new(SqliteTarget::of(&store).await?);
        Ok(Store { admin: Arc::new(store), projections, postgres: None })
    }

    /// Connects to the store `url` names, in `schema` where the store has
    /// schemas, once it answers. A SQLite file that is missing is created
    /// only when `create` says so.
    pub(crate) async fn connect(url: &str, schema: &str, create: bool) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            let opened = SqliteEventStore::builder_from_url(url)?.create_if_missing(create).open().await;
            return match opened {
                Ok(store) => Store::sqlite(store).await,
                Err(SqliteError::Missing { path }) => {
                    Err(Error::NoStore { location: Location { kind: "file", name: path.display().to_string() } })
                }
                Err(other) => Err(other.into()),
            };
        }
        match scheme(url) {
            Some("postgres" | "postgresql") | None => {
                let store = PgEventStore::builder_from_url(url)?
                    .schema(schema)
                    .pool_size(4)
                    .wait_timeout(Some(Duration::from_secs(10)))
                    .build()?;
                drop(store.connection().await?);
                Ok(Store::postgres(store))
            }
            Some(other) => Err(Error::UnknownScheme { scheme: other.to_owned(), supported: SCHEMES }),
        }
    }

    /// Applies the migrations the store lacks.
    pub(crate) async fn migrate(&self) -> Result<Migrated, Error> {
        match &self.postgres {
            Some(store) => Ok(Migrated {
                location: self.location().to_string(),
                applied: Some(store.migrate().await?),
                latest: PgEventStore::latest_migration(),
            }),
            // A SQLite store applies its migrations when it is opened.
            None => Ok(Migrated {
                location: self.location().to_string(),
                applied: None,
                latest: SqliteEventStore::latest_migration(),
            }),
        }
    }

    /// Where the store lives.
    pub(crate) fn location(&self) -> Location {
        self.admin.location()
    }

    /// The PostgreSQL store, for `command`, which only it supports.
    pub(crate) fn require_postgres(&self, command: &'static str) -> Result<&PgEventStore, Error> {
        self.postgres.as_ref().ok_or(Error::NotSupported { command, location: self.location() })
    }
}

/// The scheme of a URL, `None` for a `key=value` string.
fn scheme(url: &str) -> Option<&str> {
    url.split_once("://").map(|(scheme, _)| scheme).filter(|s| !s.contains(['=', ' ']))
}

#[cfg(test)]
mod tests {
    use super::scheme;

    #[test]
    fn the_scheme_picks_the_store() {
        assert_eq!(scheme("postgres://app@db/orders"), Some("postgres"));
        assert_eq!(scheme("sqlite:///var/lib/app.db"), Some("sqlite"));
        assert_eq!(scheme("host=db user=app"), None);
        assert_eq!(scheme("host=db options=a://b"), None);
    }
}
