//! Values between Rust and PostgreSQL: numbers by one rule
//! ([`convert`]), payloads as JSON text ([`json`]), transaction ids
//! ([`xid8`]), and rows back into events, snapshots and parked events
//! ([`row`]), none of them trusted.

pub(crate) mod convert;
pub(crate) mod json;
pub(crate) mod row;
pub(crate) mod xid8;
