//! Domains shared by the runnable examples, the integration tests and the
//! benchmarks. Run an example with `cargo run --example bank`.

pub mod account;
pub mod migration;
