//! The store a command runs on: picked from the URL's scheme, here and
//! only here, and held behind the admin traits every store implements.

use std::sync::Arc;
use std::time::Duration;

use es_core::admin::{Location, ProjectionAdmin, StoreAdmin};
use es_postgres::PgEventStore;

use crate::error::Error;

/// The schemes of the stores the command line reaches.
const SCHEMES: &str = "postgres:// (or postgresql://, or a key=value string)";

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

    /// Connects to the store `url` names, in `schema` where the store has
    /// schemas, once it answers.
    pub(crate) async fn connect(url: &str, schema: &str) -> Result<Self, Error> {
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
