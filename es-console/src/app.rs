//! The application's projections, registered with
//! [`Console`](crate::Console) and kept behind a small object-safe trait
//! (the runner's methods are `async fn`s, which cannot be called through
//! `dyn`). Aggregates are [`es_core::admin::AggregateKind`]s.

use std::future::Future;
use std::pin::Pin;

use es_core::ProjectionError;
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner};

/// A future of a mounted projection's work.
pub(crate) type Retrying = Pin<Box<dyn Future<Output = Result<(), ProjectionError>> + Send>>;

/// An application's projection, without its type parameter: what the
/// console does with it.
pub(crate) trait Mounted: Send + Sync {
    /// The projection's name.
    fn name(&self) -> &str;

    /// Hands parked event `id` to a fresh instance of the projection.
    fn retry_parked(&self, store: PgEventStore, id: u64) -> Retrying;
}

/// A projection made afresh for each retry by `make`.
pub(crate) struct Factory<F> {
    name: String,
    make: F,
}

impl<P: PgProjection, F: Fn() -> P + Send + Sync> Factory<F> {
    pub(crate) fn new(make: F) -> Self {
        let name = make().name().to_owned();
        Factory { name, make }
    }
}

impl<P: PgProjection, F: Fn() -> P + Send + Sync> Mounted for Factory<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn retry_parked(&self, store: PgEventStore, id: u64) -> Retrying {
        let projection = (self.make)();
        Box::pin(async move { PgProjectionRunner::new(store, projection).retry_parked(id).await })
    }
}
