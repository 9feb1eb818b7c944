use es_core::Aggregate;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Opened;

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = Opened)]
struct Account {
    open: bool,
}

fn main() {}
