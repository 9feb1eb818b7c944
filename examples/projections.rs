//! Read models in PostgreSQL, built from the bank's events: the balances of
//! every account (queried for "accounts with a balance over $10,000") and
//! the bank's totals, written a page of events at a time. Both follow the
//! store live; a web replica that runs no projection waits for its own
//! write; one read model is rebuilt from history. The runtime's metrics
//! are served for Prometheus on 127.0.0.1:9000 (`METRICS_ADDR` to change).
//!
//! ```text
//! cargo run --example projections        # DATABASE_URL, or the local server
//! cargo run --example projections -- --serve   # then keeps serving metrics
//! curl -s 127.0.0.1:9000/metrics | grep ^es_
//! ```
//!
//! The example works in its own schema, `es_example_projections`, which it
//! drops and recreates on every run.

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use es_core::projection::{Envelope, RunnerOptions};
use es_core::{AggregateTypes, BoxError, RecordedEvent, Repository};
use es_examples::account::{Account, AccountEvent, dollars, usd};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::sync::oneshot;

const SCHEMA: &str = "es_example_projections";

/// One row per account: the query side of the seed's bank.
struct AccountBalances;

impl PgProjection for AccountBalances {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "account_balances"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    async fn setup(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS es_example_projections.account_balances (
                 id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance BIGINT NOT NULL, closed BOOLEAN NOT NULL DEFAULT false)",
        )
        .await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let id = &env.stream_id;
        match event {
            AccountEvent::Opened(e) => {
                let sql = "INSERT INTO es_example_projections.account_balances (id, owner, balance) VALUES ($1, $2, 0)";
                tx.execute(sql, &[id, &e.owner]).await?
            }
            AccountEvent::Deposited(e) => {
                let sql = "UPDATE es_example_projections.account_balances SET balance = balance + $2 WHERE id = $1";
                tx.execute(sql, &[id, &e.amount]).await?
            }
            AccountEvent::Withdrew(e) => {
                let sql = "UPDATE es_example_projections.account_balances SET balance = balance - $2 WHERE id = $1";
                tx.execute(sql, &[id, &e.amount]).await?
            }
            AccountEvent::Closed(_) => {
                let sql = "UPDATE es_example_projections.account_balances SET closed = true WHERE id = $1";
                tx.execute(sql, &[id]).await?
            }
        };
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute("TRUNCATE es_example_projections.account_balances").await?;
        Ok(())
    }
}

/// A single row of totals: a second, narrow read model from the same
/// events. It sums a whole page in memory and writes it with one statement,
/// which is what makes rebuilding it fast.
struct BankTotals;

impl BankTotals {
    /// How one event moves the totals: (open accounts, deposited, withdrawn).
    fn delta(event: &AccountEvent) -> (i64, i64, i64) {
        match event {
            AccountEvent::Opened(_) => (1, 0, 0),
            AccountEvent::Deposited(e) => (0, e.amount, 0),
            AccountEvent::Withdrew(e) => (0, 0, e.amount),
            AccountEvent::Closed(_) => (-1, 0, 0),
        }
    }

    async fn add(tx: &PgTransaction<'_>, (accounts, deposited, withdrawn): (i64, i64, i64)) -> Result<(), BoxError> {
        let sql = "UPDATE es_example_projections.bank_totals \
                   SET open_accounts = open_accounts + $1, deposited = deposited + $2, withdrawn = withdrawn + $3";
        tx.execute(sql, &[&accounts, &deposited, &withdrawn]).await?;
        Ok(())
    }
}

impl PgProjection for BankTotals {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "bank_totals"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["account"])
    }

    async fn setup(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS es_example_projections.bank_totals (
                 open_accounts BIGINT NOT NULL, deposited BIGINT NOT NULL, withdrawn BIGINT NOT NULL);
             INSERT INTO es_example_projections.bank_totals
                 SELECT 0, 0, 0 WHERE NOT EXISTS (SELECT FROM es_example_projections.bank_totals)",
        )
        .await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        _: &RecordedEvent,
    ) -> Result<(), BoxError> {
        Self::add(tx, Self::delta(event)).await
    }

    async fn handle_batch(
        &mut self,
        tx: &PgTransaction<'_>,
        events: &[Envelope<'_, AccountEvent>],
    ) -> Result<(), BoxError> {
        let sum = events
            .iter()
            .map(|e| Self::delta(e.event))
            .fold((0, 0, 0), |(a, d, w), (da, dd, dw)| (a + da, d + dd, w + dw));
        Self::add(tx, sum).await
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(
            "UPDATE es_example_projections.bank_totals SET open_accounts = 0, deposited = 0, withdrawn = 0",
        )
        .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let metrics_addr: SocketAddr = std::env::var("METRICS_ADDR").as_deref().unwrap_or("127.0.0.1:9000").parse()?;
    PrometheusBuilder::new().with_http_listener(metrics_addr).install()?;
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url)?.schema(SCHEMA).build()?;
    let client = store.connection().await?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).await?;
    store.migrate().await?;
    // Each projection creates its own tables (`setup`) when a runner
    // takes it over.
    println!("store: PostgreSQL at {url}, schema `{SCHEMA}`");

    let accounts = Repository::<Account, _>::new(store.clone());
    for n in 1..=12i64 {
        let id = format!("acc-{n:02}");
        accounts.execute(&id, |a| a.open(&format!("owner {n}"))).await?;
        for deposit in 1..=n {
            accounts.execute(&id, |a| a.deposit(deposit * usd(250))).await?;
        }
        if n % 4 == 0 {
            accounts.execute(&id, |a| a.withdraw(usd(1000))).await?;
        }
    }
    println!("wrote 12 accounts' history before any projection ran");

    let quick = RunnerOptions::default().poll_interval(Duration::from_millis(100));
    let balances = PgProjectionRunner::new(store.clone(), AccountBalances).with_options(quick);
    let totals = PgProjectionRunner::new(store.clone(), BankTotals).with_options(quick);
    let (stop_balances, balances_task) = spawn(balances);
    let (stop_totals, totals_task) = spawn(totals);

    // Read your own writes: a command returns a position; a web replica,
    // with a store of its own and no projection running, waits until the
    // read models have committed it, then queries them.
    let committed = accounts.execute("acc-03", |a| a.deposit(usd(9000))).await?;
    let position = committed.position.ok_or("the deposit committed no event")?;
    let replica = PgEventStore::builder_from_url(&url)?.schema(SCHEMA).build()?;
    for projection in ["account_balances", "bank_totals"] {
        replica.wait_for_projection(projection, position, Duration::from_secs(30)).await?;
    }
    println!("a web replica saw both read models reach the deposit's position {position}");

    println!("\naccounts with a balance over $10,000:");
    let rich = client
        .query(
            "SELECT id, owner, balance FROM es_example_projections.account_balances \
             WHERE balance > 1000000 ORDER BY balance DESC",
            &[],
        )
        .await?;
    for row in &rich {
        println!("  {}  {:<9} {:>10}", row.get::<_, String>(0), row.get::<_, String>(1), dollars(row.get(2)));
    }
    let row = client
        .query_one("SELECT open_accounts, deposited, withdrawn FROM es_example_projections.bank_totals", &[])
        .await?;
    println!(
        "\nbank totals: {} open accounts, {} deposited, {} withdrawn",
        row.get::<_, i64>(0),
        dollars(row.get(1)),
        dollars(row.get(2))
    );

    let _ = stop_balances.send(());
    let _ = stop_totals.send(());
    let mut balances = balances_task.await??;
    totals_task.await??;

    println!("\nrebuilding account_balances from history:");
    let replayed = balances
        .rebuild(|p| println!("  {:>4} / {} events, {:.0} events/s", p.done, p.total, p.events_per_second))
        .await?;
    let again = client
        .query_one("SELECT count(*) FROM es_example_projections.account_balances WHERE balance > 1000000", &[])
        .await?;
    println!("replayed {replayed} events; {} accounts over $10,000 again", again.get::<_, i64>(0));

    if std::env::args().any(|a| a == "--serve") {
        println!("\nmetrics at http://{metrics_addr}/metrics; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

type Task<P> = tokio::task::JoinHandle<Result<PgProjectionRunner<P>, es_core::ProjectionError>>;

/// Runs a projection in a task until the sender is used.
fn spawn<P: PgProjection + 'static>(mut runner: PgProjectionRunner<P>) -> (oneshot::Sender<()>, Task<P>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runner.run(async { stopped.await.unwrap_or(()) }).await?;
        Ok(runner)
    });
    (stop, task)
}
