//! [`Console`]: the application's types and the store, and how to serve
//! them.

use std::fmt;
use std::sync::Arc;

use es_core::Aggregate;
use es_core::admin::{AggregateKind, ProjectionAdmin, StoreAdmin, aggregate_kind};
use es_postgres::{PgEventStore, PgProjection};

use crate::app::{Factory, Mounted};

/// Where [`Console::serve`] listens unless told otherwise: the loopback
/// interface only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7070";

/// The console, as the handlers share it.
pub(crate) type Shared = Arc<Console>;

/// The web console of an application's store, with the application's
/// aggregates and projections registered. See the [crate
/// documentation](crate) for an example.
pub struct Console {
    /// The PostgreSQL store, for what only it does: its projections'
    /// retries.
    pub(crate) store: Option<PgEventStore>,
    /// What the pages read of the store.
    pub(crate) admin: Arc<dyn StoreAdmin>,
    /// What the pages read and do of the projections' checkpoints.
    pub(crate) projections: Arc<dyn ProjectionAdmin>,
    pub(crate) aggregates: Vec<Box<dyn AggregateKind>>,
    pub(crate) mounted: Vec<Box<dyn Mounted>>,
    pub(crate) token: Option<String>,
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console")
            .field("store", &self.admin.location())
            .field("aggregates", &self.aggregates.iter().map(|a| a.name()).collect::<Vec<_>>())
            .field("projections", &self.mounted.iter().map(|p| p.name()).collect::<Vec<_>>())
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl Console {
    /// A read-only console of `store`, with no application types yet.
    pub fn new(store: PgEventStore) -> Self {
        Console { store: Some(store.clone()), ..Console::on(store.clone(), store) }
    }

    /// A read-only console of any store: its events through `admin`, its
    /// projections' checkpoints through `projections` (which may live
    /// elsewhere, as a SQLite target's do). Parked events are retried only
    /// on PostgreSQL, by [`projection`](Self::projection)s of a console
    /// made by [`new`](Self::new).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = es_sqlite::SqliteEventStore::open("bank.sqlite3").await?;
    /// let projections = es_sqlite::SqliteTarget::of(&store).await?;
    /// es_console::Console::on(store, projections).serve(es_console::DEFAULT_ADDRESS).await?;
    /// # Ok(()) }
    /// ```
    pub fn on(admin: impl StoreAdmin + 'static, projections: impl ProjectionAdmin + 'static) -> Self {
        Console {
            store: None,
            admin: Arc::new(admin),
            projections: Arc::new(projections),
            aggregates: Vec::new(),
            mounted: Vec::new(),
            token: None,
        }
    }

    /// Registers aggregate `A`: streams of its type show the state after
    /// each event, old events their upcast steps, and slices freeze into
    /// tests of `A`.
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        self.aggregates.push(aggregate_kind::<A>());
        self
    }

    /// Registers a projection of the PostgreSQL store, made by `make` for
    /// each retry of one of its parked events (the retry runs the events
    /// through it, beside the active runner).
    pub fn projection<P: PgProjection, F: Fn() -> P + Send + Sync + 'static>(mut self, make: F) -> Self {
        self.mounted.push(Box::new(Factory::new(make)));
        self
    }

    /// Allows the actions that change the store (retry, discard, reset) to
    /// requests that carry `token`. Without one (or with an empty one) the
    /// console only reads.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }

    /// The registered aggregate stored under `name`.
    pub(crate) fn aggregate_kind(&self, name: &str) -> Option<&dyn AggregateKind> {
        self.aggregates.iter().find(|a| a.name() == name).map(|a| &**a)
    }
}
