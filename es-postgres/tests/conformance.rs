//! es-core's store conformance suite, run against `PgEventStore`: the same
//! cases the in-memory store passes, each in a fresh schema.

mod common;

es_core::conformance_tests!(common::fresh_store);
