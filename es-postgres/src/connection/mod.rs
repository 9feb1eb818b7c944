//! Reaching the server: connection strings and TLS, the executor every
//! query runs on, a runner's own connection and the notifier of appends.

mod executor;
pub(crate) mod listener;
pub(crate) mod notify;
pub(crate) mod tls;
pub(crate) mod url;
mod verifiers;

pub(crate) use executor::{Executor, StatementCache};
