//! For crates that implement a store or a projection runner (feature
//! `backend`), not for applications: the one projection engine, the traits
//! of where it reads and where it commits, the runner loop around it, the
//! watches a runner publishes its
//! checkpoints to, and the checks every store makes of a stream's aggregate
//! type and of a payload. Applications use the stores, the runners and [`Repository`](crate::Repository).

pub use crate::payload::{check_event, check_payload};
pub use crate::projection::checkpoint::{CheckpointState, CheckpointWatch};
pub use crate::projection::engine::{Engine, Failed, Sink, Source};
pub use crate::projection::hosted::{Host, Hosted, caused_by, poll_checkpoint};
pub use crate::store::check_aggregate_type;
