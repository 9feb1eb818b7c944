//! The bank's own binary with the `es` commands mounted: `bank_cli es …` runs
//! them with the bank's aggregate and a projection registered, so that
//! rebuild, the state after each event and check work too.
//!
//! ```text
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//! cargo run -p es-cli --example bank_cli -- seed    # a few accounts in schema es_cli_bank
//! cargo run -p es-cli --example bank_cli -- run     # runs the projection until interrupted
//! cargo run -p es-cli --example bank_cli -- es --schema es_cli_bank projection deposits rebuild
//! cargo run -p es-cli --example bank_cli -- es --schema es_cli_bank stream acc-1 --state
//! cargo run -p es-cli --example bank_cli -- es --schema es_cli_bank check
//! ```
//!
//! `seed` drops and recreates the schema `es_cli_bank` each time.

use std::error::Error;
use std::process::ExitCode;

use es_core::{BoxError, RecordedEvent, Repository};
use es_examples::account::{Account, AccountEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};

const SCHEMA: &str = "es_cli_bank";

/// The money paid into each account, in a table of the bank's schema.
struct Deposits;

impl PgProjection for Deposits {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "deposits"
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if let AccountEvent::Deposited(e) = event {
            let upsert = "INSERT INTO es_cli_bank.deposits (id, total) VALUES ($1, $2)
                          ON CONFLICT (id) DO UPDATE SET total = deposits.total + $2";
            tx.execute(upsert, &[&env.stream_id, &e.amount]).await?;
        }
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute("TRUNCATE es_cli_bank.deposits").await?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("es") => {
            es_cli::Cli::new().aggregate::<Account>().projection(Deposits).run(args.into_iter().skip(1)).await
        }
        Some("seed") => exit(seed().await),
        Some("run") => exit(run().await),
        _ => {
            eprintln!("usage: bank_cli seed | bank_cli run | bank_cli es <command> (try `bank_cli es --help`)");
            ExitCode::from(2)
        }
    }
}

fn exit(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", es_core::ErrorReport::new(&*e));
            ExitCode::FAILURE
        }
    }
}

fn store() -> Result<PgEventStore, Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    Ok(PgEventStore::builder(url.parse()?).schema(SCHEMA).build()?)
}

/// Follows the store with the projection until the process is stopped.
async fn run() -> Result<(), Box<dyn Error>> {
    Ok(PgProjectionRunner::new(store()?, Deposits).run(std::future::pending()).await?)
}

/// Three accounts with some history, and the projection caught up.
async fn seed() -> Result<(), Box<dyn Error>> {
    let store = store()?;
    let client = store.pool().get().await?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).await?;
    store.migrate().await?;
    client.batch_execute("CREATE TABLE es_cli_bank.deposits (id text PRIMARY KEY, total bigint NOT NULL)").await?;

    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("acc-1", |a| a.open("ada")).await?;
    accounts.execute("acc-1", |a| a.deposit(10_000)).await?;
    accounts.execute("acc-1", |a| a.deposit(5_000)).await?;
    accounts.execute("acc-1", |a| a.withdraw(3_000)).await?;
    accounts.execute("acc-2", |a| a.open("bob")).await?;
    accounts.execute("acc-2", |a| a.deposit(2_000)).await?;
    accounts.execute("acc-3", |a| a.open("cy")).await?;
    accounts.execute("acc-3", |a| a.close()).await?;
    let read = PgProjectionRunner::new(store, Deposits).catch_up().await?;
    println!("schema {SCHEMA}: 8 events in 3 accounts; projection `deposits` read {read}");
    Ok(())
}
