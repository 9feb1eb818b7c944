//! A projection's setup creates its read model: before the first page, by
//! any number of processes starting together, and again after a rebuild's
//! reset; a setup that fails stops the runner with the server's cause.

mod common;

use std::sync::Arc;

use common::ledger::{Deposited, deposit};
use es_core::{BoxError, ErrorReport, ProjectionError, RecordedEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use tokio::sync::Barrier;

/// How many processes start at once.
const PROCESSES: usize = 8;

/// Counts each stream's events in a table of a schema of its own, both of
/// which its setup creates.
struct Counts {
    /// The read model's schema (quoted), shared by every `Counts`.
    schema: String,
    /// The projection's name, and its table's.
    name: String,
    /// Whether reset drops the schema instead of emptying the table.
    drops: bool,
    /// A column type the setup gives, to make it fail.
    column_type: &'static str,
}

impl Counts {
    fn new(store: &PgEventStore, name: &str) -> Self {
        let schema = format!("\"{}_rm\"", store.schema());
        Counts { schema, name: name.to_owned(), drops: false, column_type: "int8" }
    }
}

impl PgProjection for Counts {
    type Event = Deposited;

    fn name(&self) -> &str {
        &self.name
    }

    async fn setup(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        let (s, t, column) = (&self.schema, &self.name, self.column_type);
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.{t} (stream text PRIMARY KEY, events {column} NOT NULL);"
        ))
        .await?;
        Ok(())
    }

    async fn handle(&mut self, tx: &PgTransaction<'_>, _: &Deposited, env: &RecordedEvent) -> Result<(), BoxError> {
        let (s, t) = (&self.schema, &self.name);
        let sql =
            format!("INSERT INTO {s}.{t} VALUES ($1, 1) ON CONFLICT (stream) DO UPDATE SET events = {t}.events + 1");
        tx.execute(&sql, &[&env.stream_id]).await?;
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        let (s, t) = (&self.schema, &self.name);
        let sql = if self.drops { format!("DROP SCHEMA {s} CASCADE") } else { format!("TRUNCATE {s}.{t}") };
        tx.batch_execute(&sql).await?;
        Ok(())
    }
}

/// The counts of `name`'s table, by stream.
async fn counts(store: &PgEventStore, name: &str) -> Vec<(String, i64)> {
    let client = store.pool().get().await.unwrap();
    let sql = format!("SELECT stream, events FROM \"{}_rm\".{name} ORDER BY stream", store.schema());
    client.query(&sql, &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Eight processes (stores with pools of their own) start eight
/// projections at once, each creating the same schema and a table of its
/// own: every setup succeeds, every table is filled. Without the setup
/// lock, concurrent `CREATE SCHEMA IF NOT EXISTS` statements fail with a
/// unique violation of the catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_together_each_set_their_read_model_up() {
    for round in 0..5 {
        let schema = common::schema_name();
        let store = common::store_in(&schema).await;
        for stream in ["a-1", "a-2"] {
            deposit(&store, stream, 1).await;
        }
        let last = deposit(&store, "a-1", 2).await;
        let mut runners = Vec::new();
        for n in 0..PROCESSES {
            let process = common::store_in(&schema).await;
            runners.push(PgProjectionRunner::new(process.clone(), Counts::new(&process, &format!("counts_{n}"))));
        }
        let together = Arc::new(Barrier::new(PROCESSES));
        let mut starting = Vec::new();
        for mut runner in runners {
            let together = Arc::clone(&together);
            starting.push(tokio::spawn(async move {
                together.wait().await;
                while runner.checkpoint() < last {
                    // Other tests' transactions may hold events back for a moment.
                    runner.catch_up().await.map_err(|e| ErrorReport::new(&e).to_string())?;
                }
                Ok::<_, String>(())
            }));
        }
        for (n, started) in starting.into_iter().enumerate() {
            started.await.unwrap().unwrap_or_else(|e| panic!("projection {n} of round {round}: {e}"));
            let expected = vec![("a-1".to_owned(), 2), ("a-2".to_owned(), 1)];
            assert_eq!(counts(&store, &format!("counts_{n}")).await, expected, "projection {n} of round {round}");
        }
    }
}

/// A rebuild whose reset drops the read model's schema sets it up again
/// in the same transaction, and replays into it.
#[tokio::test]
async fn a_rebuild_sets_the_read_model_up_again_after_its_reset() {
    let store = common::fresh_store().await;
    deposit(&store, "a-1", 1).await;
    let mut counts_projection = Counts::new(&store, "counts");
    counts_projection.drops = true;
    let mut runner = PgProjectionRunner::new(store.clone(), counts_projection);
    runner.catch_up().await.unwrap();
    let last = deposit(&store, "a-1", 1).await;
    let mut rebuilt = 0;
    while runner.checkpoint() < last {
        // Other tests' transactions may hold events back for a moment.
        rebuilt = runner.rebuild(|_| {}).await.unwrap();
    }
    assert_eq!(rebuilt, 2);
    assert_eq!(counts(&store, "counts").await, vec![("a-1".to_owned(), 2)]);
}

/// A setup the server refuses stops the runner with
/// [`ProjectionError::Setup`], whose text carries the server's message;
/// nothing is handled, the checkpoint stays.
#[tokio::test]
async fn a_failing_setup_stops_the_runner_with_the_servers_message() {
    let store = common::fresh_store().await;
    let before = deposit(&store, "a-1", 1).await;
    let mut broken = Counts::new(&store, "counts");
    broken.column_type = "no_such_type";
    let mut runner = PgProjectionRunner::new(store.clone(), broken);
    let error = runner.catch_up().await.unwrap_err();
    assert!(matches!(&error, ProjectionError::Setup { projection, .. } if projection == "counts"), "{error:?}");
    let text = ErrorReport::new(&error).to_string();
    assert!(text.contains("type \"no_such_type\" does not exist (SQLSTATE 42704)"), "{text}");
    assert!(!text.contains("db error"), "the driver's bare message in: {text}");
    assert!(runner.checkpoint() < before, "nothing was handled: {:?}", runner.checkpoint());
    runner.projection_mut().column_type = "int8";
    while runner.checkpoint() < before {
        // Other tests' transactions may hold events back for a moment.
        runner.catch_up().await.unwrap();
    }
    assert_eq!(counts(&store, "counts").await, vec![("a-1".to_owned(), 1)]);
}
