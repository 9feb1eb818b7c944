use es_core::Event;

#[derive(Event)]
union Amount {
    cents: i64,
    dollars: f64,
}

fn main() {}
