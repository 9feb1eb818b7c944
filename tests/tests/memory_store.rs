//! The in-memory store passes the store conformance suite.

use es_core::InMemoryEventStore;

async fn fresh_store() -> InMemoryEventStore {
    InMemoryEventStore::new()
}

es_core::conformance_tests!(fresh_store);
