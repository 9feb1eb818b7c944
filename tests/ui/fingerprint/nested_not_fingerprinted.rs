use es_core::StateFingerprint;

struct Street;

#[derive(StateFingerprint)]
#[fingerprint(nested(Street))]
struct Address {
    street: Street,
}

fn main() {}
