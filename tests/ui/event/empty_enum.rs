use es_core::Event;

#[derive(Event)]
enum AccountEvent {}

fn main() {}
