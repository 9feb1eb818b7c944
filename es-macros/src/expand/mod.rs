//! Code generation, run only on input that passed `valid`.

pub(crate) mod aggregate;
pub(crate) mod event;
pub(crate) mod fingerprint;
