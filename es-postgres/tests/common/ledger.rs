//! A read model for projection tests: balances per stream and a log of
//! every event handled, in the order handled, in tables of the store's
//! schema; and the helpers to run it.

use std::future::Future;
use std::time::Duration;

use es_core::projection::{CheckpointWaiter, Envelope, RunnerOptions};
use es_core::{
    Aggregate, AggregateTypes, Apply, BoxError, EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, Position,
    ProjectionError, RecordedEvent,
};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Aggregate, Serialize, Deserialize, Default, Debug)]
#[aggregate(name = "account", event = Deposited)]
pub struct Account {
    pub balance: i64,
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

/// An event the program knows (it is registered) that the ledger does not
/// read.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Noted {
    pub note: String,
}

/// Keeps balances and a log of every event it handled, in the order it
/// handled them, in tables of the store's schema.
pub struct Ledger {
    schema: String,
    pub runner: &'static str,
    /// Fails for good on the event with this amount.
    pub poison: Option<i64>,
    /// Panics on the event with this amount.
    pub panic_on: Option<i64>,
    /// Writes a page with one statement per table instead of one per event.
    pub batch: bool,
    /// The aggregate types it reads.
    pub categories: AggregateTypes,
}

impl Ledger {
    pub fn new(store: &PgEventStore, runner: &'static str) -> Self {
        Self::in_schema(store.quoted_schema().to_owned(), runner)
    }

    /// A ledger whose tables are in the schema `quoted` names.
    pub fn in_schema(quoted: String, runner: &'static str) -> Self {
        Ledger { schema: quoted, runner, poison: None, panic_on: None, batch: false, categories: AggregateTypes::All }
    }
}

impl PgProjection for Ledger {
    type Event = Deposited;

    fn name(&self) -> &str {
        "ledger"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        self.categories.clone()
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &Deposited,
        envelope: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if self.poison == Some(event.amount) {
            return Err(format!("cannot book {}", event.amount).into());
        }
        if self.panic_on == Some(event.amount) {
            panic!("ledger overflow at {}", event.amount);
        }
        let s = &self.schema;
        let upsert = format!(
            "INSERT INTO {s}.balances (id, balance) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance"
        );
        tx.execute(&upsert, &[&envelope.stream_id, &event.amount]).await?;
        let log = format!("INSERT INTO {s}.handled (tx, position, runner) VALUES ($1, $2, $3)");
        let (commit, sequence) = (envelope.position.commit as i64, envelope.position.sequence as i64);
        tx.execute(&log, &[&commit, &sequence, &self.runner]).await?;
        Ok(())
    }

    async fn handle_batch(
        &mut self,
        tx: &PgTransaction<'_>,
        events: &[Envelope<'_, Deposited>],
    ) -> Result<(), BoxError> {
        if !self.batch {
            for e in events {
                self.handle(tx, e.event, e.recorded).await?;
            }
            return Ok(());
        }
        if let Some(e) = events.iter().find(|e| self.poison == Some(e.event.amount)) {
            return Err(format!("cannot book {}", e.event.amount).into());
        }
        let s = &self.schema;
        let ids: Vec<&str> = events.iter().map(|e| e.recorded.stream_id.as_str()).collect();
        let amounts: Vec<i64> = events.iter().map(|e| e.event.amount).collect();
        let upsert = format!(
            "INSERT INTO {s}.balances (id, balance) \
             SELECT id, sum(amount) FROM unnest($1::text[], $2::int8[]) AS d (id, amount) GROUP BY id \
             ON CONFLICT (id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance"
        );
        tx.execute(&upsert, &[&ids, &amounts]).await?;
        let commits: Vec<i64> = events.iter().map(|e| e.recorded.position.commit as i64).collect();
        let sequences: Vec<i64> = events.iter().map(|e| e.recorded.position.sequence as i64).collect();
        let log = format!(
            "INSERT INTO {s}.handled (tx, position, runner) \
             SELECT tx, position, $3 FROM unnest($1::int8[], $2::int8[]) WITH ORDINALITY AS h (tx, position, n) ORDER BY n"
        );
        tx.execute(&log, &[&commits, &sequences, &self.runner]).await?;
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(&format!("TRUNCATE {s}.balances, {s}.handled", s = self.schema)).await?;
        Ok(())
    }
}

pub async fn ledger_store() -> PgEventStore {
    with_ledger_tables(super::fresh_store().await).await
}

/// `store`, with the ledger's tables in its schema.
pub async fn with_ledger_tables(store: PgEventStore) -> PgEventStore {
    let client = store.connection().await.unwrap();
    client.batch_execute(&ledger_tables(store.quoted_schema())).await.unwrap();
    store
}

/// The statements that create the ledger's tables in the schema `s` names.
pub fn ledger_tables(s: &str) -> String {
    format!(
        "CREATE TABLE {s}.balances (id TEXT PRIMARY KEY, balance BIGINT NOT NULL);
         CREATE TABLE {s}.handled (n BIGSERIAL PRIMARY KEY, tx BIGINT NOT NULL, position BIGINT NOT NULL,
                                   runner TEXT NOT NULL);"
    )
}

pub async fn deposit(store: &PgEventStore, stream: &str, amount: i64) -> Position {
    let event = Deposited { amount }.encode().unwrap();
    let appended =
        store.append("account", stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await.unwrap();
    appended.position().unwrap()
}

/// Appends `event` to `stream` of aggregate type `category`.
pub async fn append_to(store: &PgEventStore, category: &str, stream: &str, event: EncodedEvent) -> Position {
    let appended = store.append(category, stream, ExpectedVersion::Any, vec![event], &Metadata::default()).await;
    appended.unwrap().position().unwrap()
}

/// Every event of the store, read after all writers finished.
pub async fn replay(store: &PgEventStore, last: Position) -> Vec<Position> {
    super::read_all_through(store, Position::START, last, 1000).await.iter().map(|e| e.position).collect()
}

/// What the read model says it handled, in the order it handled it.
pub async fn handled(store: &PgEventStore) -> Vec<(Position, String)> {
    let client = store.connection().await.unwrap();
    let rows = client
        .query(&format!("SELECT tx, position, runner FROM {}.handled ORDER BY n", store.quoted_schema()), &[])
        .await
        .unwrap();
    rows.iter().map(|r| (Position::new(r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64), r.get(2))).collect()
}

pub async fn balances(store: &PgEventStore) -> Vec<(String, i64)> {
    let client = store.connection().await.unwrap();
    let sql = format!("SELECT id, balance FROM {}.balances ORDER BY id", store.quoted_schema());
    client.query(&sql, &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
}

pub async fn stored_checkpoint(store: &PgEventStore) -> Position {
    let client = store.connection().await.unwrap();
    let sql = format!(
        "SELECT tx::text::int8, position FROM {}.checkpoints WHERE projection = 'ledger'",
        store.quoted_schema()
    );
    let row = client.query_one(&sql, &[]).await.unwrap();
    Position::new(row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64)
}

/// A runner running in a task until told to stop.
pub struct Running {
    pub stop: oneshot::Sender<()>,
    pub task: JoinHandle<(Result<(), ProjectionError>, PgProjectionRunner<Ledger>)>,
}

pub fn spawn(mut runner: PgProjectionRunner<Ledger>) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let outcome = runner.run(async { stopped.await.unwrap_or(()) }).await;
        (outcome, runner)
    });
    Running { stop, task }
}

/// Spawns `runner` and returns a handle to wait on its checkpoint.
pub fn start(runner: PgProjectionRunner<Ledger>) -> (CheckpointWaiter, Running) {
    (runner.waiter(), spawn(runner))
}

impl Running {
    pub async fn stop(self) -> PgProjectionRunner<Ledger> {
        let _ = self.stop.send(());
        let (outcome, runner) = self.task.await.unwrap();
        outcome.unwrap();
        runner
    }
}

/// Quick to notice new events and to take over.
pub fn live_options() -> RunnerOptions {
    RunnerOptions::default().poll_interval(Duration::from_millis(20))
}

pub fn live(runner: PgProjectionRunner<Ledger>) -> PgProjectionRunner<Ledger> {
    runner.with_options(live_options().page_size(50))
}

pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}
