use es_core::Event;

#[derive(Event)]
struct Deposited {
    cents: i64,
}

fn main() {}
