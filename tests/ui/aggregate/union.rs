use es_core::Aggregate;

#[derive(Aggregate)]
#[aggregate(name = "balance", event = Opened)]
union Balance {
    cents: i64,
}

fn main() {}
