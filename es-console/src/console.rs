//! [`Console`]: the application's types and the store, and how to serve
//! them.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use es_core::Aggregate;
use es_postgres::{PgEventStore, PgProjection};
use tokio::net::TcpListener;

use crate::app::{AggregateKind, Factory, Mounted, Registered};
use crate::error::Error;
use crate::server;
use crate::sql::Queries;

/// Where [`Console::serve`] listens unless told otherwise: the loopback
/// interface only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7070";

/// The web console of an application's store, with the application's
/// aggregates and projections registered. See the [crate
/// documentation](crate) for an example.
pub struct Console {
    pub(crate) store: PgEventStore,
    pub(crate) queries: Queries,
    pub(crate) aggregates: Vec<Box<dyn AggregateKind>>,
    pub(crate) projections: Vec<Box<dyn Mounted>>,
    pub(crate) token: Option<String>,
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console")
            .field("schema", &self.store.schema())
            .field("aggregates", &self.aggregates.iter().map(|a| a.name()).collect::<Vec<_>>())
            .field("projections", &self.projections.iter().map(|p| p.name()).collect::<Vec<_>>())
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl Console {
    /// A read-only console of `store`, with no application types yet.
    pub fn new(store: PgEventStore) -> Self {
        let queries = Queries::new(&store);
        Console { store, queries, aggregates: Vec::new(), projections: Vec::new(), token: None }
    }

    /// Registers aggregate `A`: streams of its type show the state after
    /// each event, old events their upcast steps, and slices freeze into
    /// tests of `A`.
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        self.aggregates.push(Box::new(Registered::<A>::new()));
        self
    }

    /// Registers a projection, made by `make` for each retry of one of its
    /// parked events (the retry runs the events through it, beside the
    /// active runner).
    pub fn projection<P: PgProjection, F: Fn() -> P + Send + Sync + 'static>(mut self, make: F) -> Self {
        self.projections.push(Box::new(Factory::new(make)));
        self
    }

    /// Allows the actions that change the store (retry, discard, reset) to
    /// requests that carry `token`. Without one (or with an empty one) the
    /// console only reads.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }

    /// The console's routes, to serve or to merge into an application's own
    /// axum router at its root (the pages link to each other by absolute
    /// paths).
    pub fn router(self) -> axum::Router {
        server::router(Arc::new(self))
    }

    /// Serves the console on `address` (such as [`DEFAULT_ADDRESS`]) until
    /// the process ends.
    pub async fn serve(self, address: &str) -> Result<(), Error> {
        let serve_error = |source| Error::Serve { address: address.to_owned(), source };
        let listener = TcpListener::bind(address).await.map_err(serve_error)?;
        self.serve_on(listener).await
    }

    /// Serves the console on a listener the caller bound (on port 0, say,
    /// to let the system pick a free one).
    pub async fn serve_on(self, listener: TcpListener) -> Result<(), Error> {
        let address = listener.local_addr().map_or_else(|_| "?".to_owned(), |a: SocketAddr| a.to_string());
        axum::serve(listener, self.router()).await.map_err(|source| Error::Serve { address, source })
    }

    /// The registered aggregate stored under `name`.
    pub(crate) fn aggregate_kind(&self, name: &str) -> Option<&dyn AggregateKind> {
        self.aggregates.iter().find(|a| a.name() == name).map(|a| &**a)
    }
}
