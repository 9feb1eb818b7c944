use es_core::StateFingerprint;

#[derive(StateFingerprint)]
#[fingerprint(nestd(Street), version = 2)]
struct Address {
    street: Street,
}

#[derive(StateFingerprint)]
struct Street;

fn main() {}
