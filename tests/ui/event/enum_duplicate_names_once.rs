use es_core::Event;
use serde::{Deserialize, Serialize};

// Three events stored under one name: one error, for the first pair.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "Paid")]
struct Deposited;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Paid")]
struct Credited;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Paid")]
struct Refunded;

#[derive(Event)]
enum AccountEvent {
    Deposited(Deposited),
    Credited(Credited),
    Refunded(Refunded),
}

fn main() {}
