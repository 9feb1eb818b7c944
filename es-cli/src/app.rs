//! The application's projections, registered with [`Cli`](crate::Cli) and
//! kept behind a small object-safe trait (the runner's methods are `async
//! fn`s, which cannot be called through `dyn`). Aggregates are
//! [`es_core::admin::AggregateKind`]s.

use std::future::Future;
use std::pin::Pin;

use es_core::ProjectionError;
use es_core::projection::Progress;
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner};

/// A future that borrows the progress callback; the command line runs on
/// one thread, so it need not be `Send`.
pub(crate) type Rebuilding<'a> = Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + 'a>>;

/// A future of a mounted projection's work.
pub(crate) type Retrying = Pin<Box<dyn Future<Output = Result<(), ProjectionError>>>>;

/// An application's projection, without its type parameter: what the
/// mounted command line does with it.
pub(crate) trait Mounted {
    /// The projection's name.
    fn name(&self) -> &str;

    /// Empties the read model and replays every event of `store`, calling
    /// `progress` after each page; returns how many events were read.
    fn rebuild<'a>(
        self: Box<Self>,
        store: PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Rebuilding<'a>;

    /// Hands parked event `id` to the projection once more.
    fn retry_parked(self: Box<Self>, store: PgEventStore, id: u64) -> Retrying;
}

impl<P: PgProjection + 'static> Mounted for P {
    fn name(&self) -> &str {
        PgProjection::name(self)
    }

    fn rebuild<'a>(
        self: Box<Self>,
        store: PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Rebuilding<'a> {
        Box::pin(async move { PgProjectionRunner::new(store, *self).rebuild(progress).await })
    }

    fn retry_parked(self: Box<Self>, store: PgEventStore, id: u64) -> Retrying {
        Box::pin(async move { PgProjectionRunner::new(store, *self).retry_parked(id).await })
    }
}
