//! Two crates define an event under one stored name; only the linked
//! program can see it, and `registry::validate` reports it at start-up.
//! (A test binary of its own: every other one must validate.)

use es_core::Event;
use es_core::registry::{self, RegistryError};

#[test]
fn a_duplicate_name_across_two_crates_is_reported_at_start_up() {
    // Both crates are linked because their types are used.
    assert_eq!(es_tests_dup_a::Pinged.event_name(), es_tests_dup_b::Pinged { at: 1 }.event_name());

    let err = registry::validate().unwrap_err();
    let RegistryError::DuplicateEventName { name, first, second } = err.clone() else {
        panic!("expected a duplicate event name, got {err:?}");
    };
    assert_eq!(name, "dup.Pinged");
    let mut types = [first, second];
    types.sort_unstable();
    assert_eq!(types, ["es_tests_dup_a::Pinged", "es_tests_dup_b::Pinged"]);
    let message = err.to_string();
    assert!(message.contains("es_tests_dup_a::Pinged") && message.contains("es_tests_dup_b::Pinged"), "{message}");

    // Looking the name up refuses to pick one of the two.
    assert!(registry::event("dup.Pinged").is_none());
    assert_eq!(registry::events().filter(|e| e.name() == "dup.Pinged").count(), 2);
}
