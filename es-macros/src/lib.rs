//! Derive macros of `es-core`.
