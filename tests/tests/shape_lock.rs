//! The shape lock over two releases of one event, each checked against a
//! lock file of its own in a scratch directory.

use std::path::PathBuf;

use es_core::registry::{self, EventRegistration};
use es_core::shape::{LockError, LockMode, LockProblem, check_lock_of};
use serde::{Deserialize, Serialize};

/// The released shape: whole dollars.
mod release_1 {
    use super::*;

    #[derive(es_core::Event, Serialize, Deserialize)]
    #[event(name = "lock.Deposited")]
    pub struct Deposited {
        pub amount: i64,
    }
}

/// A later build that changed the payload of version 1 in place. Only its
/// registration is used.
#[allow(dead_code)]
mod changed_in_place {
    use super::*;

    #[derive(es_core::Event, Serialize, Deserialize)]
    #[event(name = "lock.Deposited")]
    pub struct Deposited {
        pub amount: f64,
        pub memo: String,
    }
}

/// The right way: version 2, with an upcaster from version 1.
mod release_2 {
    use super::*;

    #[derive(es_core::Event, Serialize, Deserialize, Debug, PartialEq)]
    #[event(name = "lock.Deposited", version = 2)]
    #[upcast(from = 1, with = dollars_to_cents)]
    pub struct Deposited {
        pub cents: i64,
    }

    fn dollars_to_cents(v1: serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "cents": v1["amount"].as_i64().unwrap_or(0) * 100 })
    }
}

/// The registration of the event type defined in module `release`.
fn release(release: &str) -> Vec<&'static EventRegistration> {
    let suffix = format!("::{release}::Deposited");
    let found: Vec<_> = registry::events().filter(|e| e.type_name().ends_with(&suffix)).collect();
    assert_eq!(found.len(), 1, "one event type in module {release}");
    found
}

/// A lock file path of its own for each test, with no file yet.
fn scratch_lock(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("es-schema-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{test}.lock"));
    let _ = std::fs::remove_file(&path);
    path
}

fn problems(result: Result<(), LockError>) -> Vec<LockProblem> {
    match result {
        Err(LockError::Mismatch { problems, .. }) => problems,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn a_new_event_is_recorded_only_when_asked() {
    let lock = scratch_lock("new_event");
    let error = check_lock_of(&lock, release("release_1"), LockMode::Check).unwrap_err();
    assert!(error.to_string().contains("ES_SHAPE_LOCK=overwrite"), "{error}");
    assert!(matches!(&problems(Err(error))[..], [LockProblem::Unrecorded { version: 1, .. }]));
    assert!(!lock.exists(), "a check never writes");

    check_lock_of(&lock, release("release_1"), LockMode::Overwrite).unwrap();
    check_lock_of(&lock, release("release_1"), LockMode::Check).unwrap();
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains("\"name\": \"lock.Deposited\"") && text.contains("\"type\": \"i64\""), "{text}");
}

#[test]
fn changing_a_stored_shape_without_a_version_fails_naming_event_field_and_fix() {
    let lock = scratch_lock("changed_in_place");
    check_lock_of(&lock, release("release_1"), LockMode::Overwrite).unwrap();
    let before = std::fs::read(&lock).unwrap();

    for mode in [LockMode::Check, LockMode::Overwrite] {
        let error = check_lock_of(&lock, release("changed_in_place"), mode).unwrap_err();
        let message = error.to_string();
        for expected in [
            "event `lock.Deposited` version 1 changed shape",
            "field `amount` changed type from `i64` to `f64`",
            "field `memo: String` was added",
            "add version 2 with `#[event(version = 2)]` and `#[upcast(from = 1, ...)]`",
        ] {
            assert!(message.contains(expected), "{mode:?}: no {expected:?} in:\n{message}");
        }
        assert_eq!(std::fs::read(&lock).unwrap(), before, "{mode:?}: the lock is left as it was");
    }
}

#[test]
fn a_new_version_with_an_upcaster_passes_after_an_explicit_update() {
    let lock = scratch_lock("new_version");
    check_lock_of(&lock, release("release_1"), LockMode::Overwrite).unwrap();

    let pending = problems(check_lock_of(&lock, release("release_2"), LockMode::Check));
    assert_eq!(pending, [LockProblem::Unrecorded { name: "lock.Deposited".into(), version: 2 }]);
    check_lock_of(&lock, release("release_2"), LockMode::Overwrite).unwrap();
    check_lock_of(&lock, release("release_2"), LockMode::Check).unwrap();

    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains("\"amount\"") && text.contains("\"cents\""), "version 1 stays beside version 2:\n{text}");

    // Going back to version 1 would leave stored version 2 unreadable.
    let removed = problems(check_lock_of(&lock, release("release_1"), LockMode::Overwrite));
    assert!(matches!(&removed[..], [LockProblem::VersionRemoved { version: 2, current: 1, .. }]), "{removed:?}");
}

#[test]
fn release_2_reads_what_release_1_stored() {
    use es_core::Event;
    let stored = release_1::Deposited { amount: 3 }.encode().unwrap();
    let read = release_2::Deposited::decode(&stored.name, stored.schema_version, &stored.payload).unwrap();
    assert_eq!(read, release_2::Deposited { cents: 300 });
}

#[test]
fn a_removed_event_fails() {
    let lock = scratch_lock("removed");
    check_lock_of(&lock, release("release_1"), LockMode::Overwrite).unwrap();
    let removed = problems(check_lock_of(&lock, [], LockMode::Check));
    assert!(matches!(&removed[..], [LockProblem::EventRemoved { version: 1, .. }]), "{removed:?}");
    assert!(removed[0].to_string().contains("restore the event type"), "{}", removed[0]);
}
