//! PostgreSQL event store for `es-core`.
