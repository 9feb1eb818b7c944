use es_core::Aggregate;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = account, event = "AccountEvent", snapshot_every = "100", snapshot_schema_version = 1.5)]
struct Account {
    open: bool,
}

fn main() {}
