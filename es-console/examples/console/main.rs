//! The console of the bank's sample store: accounts, a customer stored by
//! an older release, and a parked event to retry.
//!
//! ```text
//! cargo run -p es-console --example console
//! ```
//!
//! It recreates the schema `es_console_sample` on the server at
//! `DATABASE_URL` (default: the local one), then serves the console on
//! 127.0.0.1:7070 with the token `sample-token` for actions.

mod sample;

use std::process::ExitCode;

use es_console::{Console, DEFAULT_ADDRESS};
use es_examples::account::Account;
use es_postgres::PgEventStore;

const SCHEMA: &str = "es_console_sample";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", es_core::ErrorReport::new(&*e));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), es_core::BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url)?.schema(SCHEMA).build()?;
    store.connection().await?.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).await?;
    store.migrate().await?;
    sample::seed(&store).await?;
    println!("the console of schema {SCHEMA} is at http://{DEFAULT_ADDRESS}/ (token for actions: sample-token)");
    let projection_store = store.clone();
    Console::new(store)
        .aggregate::<Account>()
        .aggregate::<sample::Customer>()
        .projection(move || sample::Deposits::new(&projection_store))
        .token("sample-token")
        .serve(DEFAULT_ADDRESS)
        .await?;
    Ok(())
}
