//! What generated code needs and users must not touch: third-party crates
//! reached through `::es_core::__private` so users depend on `es-core` alone.

pub use inventory;
pub use serde;
pub use serde_json;
