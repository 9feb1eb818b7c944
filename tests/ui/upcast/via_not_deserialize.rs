use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 1, via = DepositedV1, with = deposited_v1)]
struct Deposited {
    cents: i64,
}

struct DepositedV1 {
    dollars: i64,
}

fn deposited_v1(old: DepositedV1) -> Deposited {
    Deposited { cents: old.dollars * 100 }
}

fn main() {}
