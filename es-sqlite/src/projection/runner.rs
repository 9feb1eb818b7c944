//! [`SqliteProjectionRunner`]: one projection's runner, reading any store
//! and committing in a SQLite file.

use std::marker::PhantomData;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use es_core::EventStore;
use es_core::admin::ProjectionAdmin;
use es_core::backend::{Engine, Host, Hosted};
use es_core::projection::ProjectionError;

use crate::database::Database;
use crate::projection::sink::{SqliteSink, lock};
use crate::projection::{SqliteProjection, SqliteTarget, statements};
use crate::store::SqliteEventStore;

/// Runs a [`SqliteProjection`]: reads the events of `store` (any
/// [`EventStore`]) from the projection's checkpoint in pages, hands them
/// over, and commits each page with the checkpoint in a transaction of the
/// target file; then follows new events, polling, and woken at once by the
/// appends of a [`SqliteEventStore`] of this process given to
/// [`wake_on`](Self::wake_on).
///
/// ```
/// # use es_core::{BoxError, RecordedEvent, Event, EventStore, ExpectedVersion, Metadata};
/// # use es_sqlite::{SqliteProjection, SqliteTransaction};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # struct Deposited { amount: i64 }
/// # struct Balances;
/// # impl SqliteProjection for Balances {
/// #     type Event = Deposited;
/// #     fn name(&self) -> &str { "balances" }
/// #     fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
/// #         tx.execute_batch("CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)")?; Ok(())
/// #     }
/// #     fn handle(&mut self, tx: &SqliteTransaction<'_>, e: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
/// #         tx.execute("INSERT INTO balances VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET balance = balance + ?2", (&env.stream_id, e.amount))?; Ok(())
/// #     }
/// #     fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> { tx.execute("DELETE FROM balances", [])?; Ok(()) }
/// # }
/// use es_sqlite::{SqliteEventStore, SqliteProjectionRunner, SqliteTarget};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("es-sqlite-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let store = SqliteEventStore::open(dir.join("bank.sqlite3")).await?;
/// let deposited = Deposited { amount: 5 }.encode()?;
/// store.append("account", "acc-1", ExpectedVersion::NoStream, vec![deposited], &Metadata::default()).await?;
///
/// // Read models in the store's own file: events and balances commit apart,
/// // each page of balances with its checkpoint.
/// let target = SqliteTarget::of(&store).await?;
/// let mut runner = SqliteProjectionRunner::new(store.clone(), target, Balances).wake_on(&store);
/// runner.catch_up().await?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct SqliteProjectionRunner<P: SqliteProjection, S: EventStore + 'static> {
    hosted: Hosted<Arc<S>, SqliteSink<P>, SqliteHost>,
}

/// How a SQLite runner takes its projection over and records its stops.
#[derive(Debug)]
struct SqliteHost {
    target: SqliteTarget,
    wake: Option<Arc<Database>>,
}

impl<P: SqliteProjection, S: EventStore + 'static> Host<Arc<S>, SqliteSink<P>> for SqliteHost {
    /// Sets the read model up, then takes the checkpoint over (clearing
    /// the error it last stopped on).
    async fn take_over(&mut self, engine: &mut Engine<Arc<S>, SqliteSink<P>>) -> Result<bool, ProjectionError> {
        engine.set_up().await?;
        let name = engine.name().to_owned();
        let loaded = engine.sink_mut().run(move |c| statements::load(c, &name)).await;
        let (position, revision) = loaded.map_err(|e| engine.store_error(e.into()))?;
        engine.resume_at(position, revision);
        Ok(true)
    }

    async fn record_stop(&self, name: &str, error: &str) -> Option<u64> {
        let (name, error) = (name.to_owned(), error.to_owned());
        let revision = self.target.db.write(move |tx| statements::stop(tx, &name, &error)).await.ok().flatten();
        self.target.db.committed();
        revision
    }

    async fn idle(&self, poll: Duration) {
        match &self.wake {
            Some(db) => db.next_commit(poll).await,
            None => tokio::time::sleep(poll).await,
        }
    }

    fn admin(&self) -> &dyn ProjectionAdmin {
        &self.target
    }
}

impl<P: SqliteProjection, S: EventStore + 'static> std::fmt::Debug for SqliteProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteProjectionRunner").field("engine", self.hosted.engine()).finish_non_exhaustive()
    }
}

impl<P: SqliteProjection, S: EventStore + 'static> SqliteProjectionRunner<P, S> {
    /// A runner that reads `store` and keeps `projection`'s read model,
    /// checkpoint and parked events in `target`.
    pub fn new(store: S, target: SqliteTarget, projection: P) -> Self {
        let name = projection.name().to_owned();
        let types = projection.aggregate_types();
        let sink = SqliteSink { target: target.clone(), name: name.clone(), connection: None, projection: PhantomData };
        let watch = es_core::backend::CheckpointWatch::new(&name);
        let projection = Arc::new(std::sync::Mutex::new(projection));
        let engine = Engine::new(Arc::new(store), sink, projection, name, types, watch);
        SqliteProjectionRunner { hosted: Hosted::new(engine, SqliteHost { target, wake: None }) }
    }

    /// Wakes the runner as soon as `store`, in this process, commits an
    /// append, instead of at its next poll.
    pub fn wake_on(mut self, store: &SqliteEventStore) -> Self {
        self.hosted.host_mut().wake = Some(Arc::clone(&store.db));
        self
    }

    es_core::hosted_runner_methods!("SqliteTarget::wait_for_projection");

    /// The projection.
    pub fn projection(&self) -> MutexGuard<'_, P> {
        lock(self.hosted.engine().projection())
    }
}
