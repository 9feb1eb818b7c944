//! Moving a CRUD `accounts` table to event sourcing, step by step, with
//! the legacy query working before and after (see
//! `es_examples::migration` for each step).
//!
//! ```text
//! cargo run --example migration        # DATABASE_URL, or the local server
//! ```
//!
//! The example works in its own schemas, `es_example_migration_legacy`,
//! `_es` and `_read`, which it drops and recreates on every run.

use std::error::Error;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    es_examples::migration::run(&url, "es_example_migration").await
}
