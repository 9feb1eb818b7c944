//! The examples' events match `events.lock`: a stored version's shape never
//! changes without the next version and its upcaster. After adding an event
//! or a version, record it with `ES_SHAPE_LOCK=overwrite cargo test -p
//! es-examples --test shape_lock` and commit the lock.

// Links the examples' events into this test.
use es_examples as _;

#[test]
fn event_schemas_match_the_lock() {
    es_core::shape::check_lock("events.lock").unwrap();
}
