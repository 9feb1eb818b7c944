use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 1, with = deposited_v1)]
struct Deposited {
    cents: i64,
}

// A JSON step takes the stored `serde_json::Value`; a typed step names the
// old shape with `via = ...`.
fn deposited_v1(dollars: i64) -> Deposited {
    Deposited { cents: dollars * 100 }
}

fn main() {}
