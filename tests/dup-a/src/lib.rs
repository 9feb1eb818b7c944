//! One of two crates that each define an event stored as `dup.Pinged`: a
//! program linking both must be refused at start-up by
//! `es_core::registry::validate`.

use es_core::Event;
use serde::{Deserialize, Serialize};

/// A health check happened.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "dup.Pinged")]
pub struct Pinged;
