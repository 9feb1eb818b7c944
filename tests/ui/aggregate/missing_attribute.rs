use es_core::Aggregate;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Default, Serialize, Deserialize)]
struct Account {
    open: bool,
}

fn main() {}
