//! Read models in MariaDB or MySQL for `es-core` projections, exactly
//! once: a [`MySqlProjectionRunner`] reads any store's events (PostgreSQL,
//! SQLite, …) and commits each page of read-model writes with the
//! projection's checkpoint in one transaction of the target database.
#![warn(missing_docs)]

mod error;
mod projection;
mod runner;
mod sink;
mod statements;
mod target;

pub use error::MySqlError;
pub use projection::{MySqlProjection, MySqlTransaction};
pub use runner::MySqlProjectionRunner;
pub use target::{MySqlTarget, WAIT_POLL_INTERVAL};

/// The driver this crate is built on, for the statements of read models.
pub use mysql_async;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
