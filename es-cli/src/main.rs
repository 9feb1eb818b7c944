//! The standalone `es` command line: inspect, migrate and reset an event
//! store. Commands that need an application's types run from that
//! application's binary; see the `es_cli` crate.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    es_cli::Cli::new().run(std::env::args_os()).await
}
