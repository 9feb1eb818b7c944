use es_core::StateFingerprint;

#[derive(StateFingerprint)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
