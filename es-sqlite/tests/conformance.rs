//! es-core's store conformance suite, run against `SqliteEventStore`: the
//! same cases every store passes, each on a fresh file.

mod common;

es_core::conformance_tests!(common::fresh_store);
