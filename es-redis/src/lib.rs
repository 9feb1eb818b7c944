//! Read models in Redis for `es-core` projections, exactly once: a
//! [`RedisProjectionRunner`] reads any store's events, the projection
//! queues each page's writes, and the runner runs them in one Lua script
//! with the compare-and-set of the projection's checkpoint, which Redis
//! runs alone.
#![warn(missing_docs)]

mod checkpoints;
mod error;
mod keys;
mod projection;
mod runner;
mod sink;
mod target;

pub use error::RedisTargetError;
pub use projection::{RedisProjection, RedisWrites};
pub use runner::RedisProjectionRunner;
pub use target::{RedisTarget, WAIT_POLL_INTERVAL};

/// The client this crate is built on.
pub use redis;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
