//! The shape lock: the shape of every stored event version, committed
//! beside the code, so that changing what an existing version looks like
//! (rather than adding the next version with an upcaster) fails a test.
//!
//! Stored events never change, so once `(name, version)` has been written
//! its payload shape is fixed. `#[derive(Event)]` records each event's
//! current shape in the [`registry`](mod@crate::registry): its fields, their
//! types as written and their `#[serde(...)]` attributes. [`check_lock`]
//! compares them with a lock file. Call it from one test of the crate that
//! links all its events:
//!
//! ```no_run
//! #[test]
//! fn event_schemas_match_the_lock() {
//!     es_core::shape::check_lock("events.lock").unwrap();
//! }
//! ```
//!
//! - The shape of a locked `(name, version)` changed, or a locked version
//!   or event is gone: the check fails, naming the event, the field and the
//!   fix (add the next version with `#[upcast(from = N, ...)]`). Stored
//!   events of that version would otherwise no longer decode, or decode
//!   into the wrong meaning.
//! - An event or version the lock does not hold yet: the check fails until
//!   the lock is updated on purpose, with `ES_SHAPE_LOCK=overwrite cargo
//!   test` (as `TRYBUILD=overwrite` does for UI tests). The update adds
//!   entries and keeps the older versions' entries; it never rewrites a
//!   changed one. An entry of a version that was never released may be
//!   deleted by hand.
//!
//! What is seen: field names, types as tokens (`Money` is seen by its name,
//! not by its fields; a type alias is not resolved) and serde attributes.
//! What is not: a change inside a field's own type, or of a custom
//! `Serialize` impl. The lock is JSON, sorted by name then version.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::registry::{self, EventRegistration};

/// The environment variable that lets [`check_lock`] record new events and
/// versions: `ES_SHAPE_LOCK=overwrite`.
pub const LOCK_ENV: &str = "ES_SHAPE_LOCK";

/// Whether a check may write the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Compare only; anything not in the lock fails.
    Check,
    /// Record new events and versions; a changed or removed one still fails
    /// and nothing is written.
    Overwrite,
}

impl LockMode {
    /// [`LockMode::Overwrite`] when `ES_SHAPE_LOCK=overwrite`, else
    /// [`LockMode::Check`].
    pub fn from_env() -> Self {
        match std::env::var(LOCK_ENV) {
            Ok(value) if value == "overwrite" => LockMode::Overwrite,
            _ => LockMode::Check,
        }
    }
}

/// Compares every registered event with the lock at `path` (relative to the
/// working directory, which `cargo test` sets to the package's root), in
/// the mode `ES_SHAPE_LOCK` asks for. A missing lock file is an empty one.
pub fn check_lock(path: impl AsRef<Path>) -> Result<(), LockError> {
    check_lock_of(path, registry::events(), LockMode::from_env())
}

/// [`check_lock`] over the given events and mode.
pub fn check_lock_of(
    path: impl AsRef<Path>,
    events: impl IntoIterator<Item = &'static EventRegistration>,
    mode: LockMode,
) -> Result<(), LockError> {
    let path = path.as_ref();
    let locked = read(path)?;
    let (current, mut problems) = current_entries(events);
    let mut unrecorded = Vec::new();
    for entry in current.values() {
        match locked.get(&entry.key()) {
            Some(old) => {
                let changes = changes(old, entry);
                if !changes.is_empty() {
                    problems.push(LockProblem::ShapeChanged {
                        name: entry.name.clone(),
                        version: entry.version,
                        changes,
                    });
                }
            }
            None => unrecorded.push(LockProblem::Unrecorded { name: entry.name.clone(), version: entry.version }),
        }
    }
    let newest: BTreeMap<&str, u32> = current.values().map(|e| (e.name.as_str(), e.version)).collect();
    for old in locked.values() {
        match newest.get(old.name.as_str()) {
            None => problems.push(LockProblem::EventRemoved { name: old.name.clone(), version: old.version }),
            Some(&current) if current < old.version => {
                problems.push(LockProblem::VersionRemoved { name: old.name.clone(), version: old.version, current })
            }
            Some(_) => {}
        }
    }
    if mode == LockMode::Overwrite && problems.is_empty() {
        if !unrecorded.is_empty() {
            let mut all = locked;
            all.extend(current);
            write(path, all.into_values().collect())?;
        }
        return Ok(());
    }
    problems.extend(unrecorded);
    if problems.is_empty() {
        return Ok(());
    }
    Err(LockError::Mismatch { path: path.to_owned(), problems })
}

/// One `(name, version)` as the lock holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    name: String,
    version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    serde: String,
    fields: Vec<Field>,
    upcasts_from: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    serde: String,
}

impl Entry {
    fn key(&self) -> (String, u32) {
        (self.name.clone(), self.version)
    }

    fn of(event: &EventRegistration) -> Self {
        Entry {
            name: event.name().to_owned(),
            version: event.schema_version(),
            serde: event.serde().to_owned(),
            fields: event
                .fields()
                .iter()
                .map(|f| Field { name: f.name.to_owned(), ty: f.ty.to_owned(), serde: f.serde.to_owned() })
                .collect(),
            upcasts_from: event.upcasts_from().to_vec(),
        }
    }
}

/// The file's layout: a note for readers, then the entries.
#[derive(Serialize, Deserialize)]
struct LockFile {
    #[serde(default)]
    about: String,
    events: Vec<Entry>,
}

const ABOUT: &str = "The shape of every stored event version, checked by es_core::shape::check_lock. \
     Never edit a released entry: add the next version with an upcaster. \
     Record new events and versions with ES_SHAPE_LOCK=overwrite.";

/// The registered events by `(name, version)`, and a problem for each name
/// two types share.
fn current_entries(
    events: impl IntoIterator<Item = &'static EventRegistration>,
) -> (BTreeMap<(String, u32), Entry>, Vec<LockProblem>) {
    let mut by_name: BTreeMap<&str, &EventRegistration> = BTreeMap::new();
    let mut problems = Vec::new();
    for event in events {
        match by_name.get(event.name()) {
            Some(first) if first.type_name() != event.type_name() => problems.push(LockProblem::DuplicateName {
                name: event.name().to_owned(),
                first: first.type_name(),
                second: event.type_name(),
            }),
            Some(_) => {}
            None => {
                by_name.insert(event.name(), event);
            }
        }
    }
    let entries = by_name.values().map(|e| Entry::of(e)).map(|e| (e.key(), e)).collect();
    (entries, problems)
}

/// What changed between the locked shape and the current one, in words.
fn changes(old: &Entry, new: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    if old.serde != new.serde {
        out.push(format!("its `#[serde({})]` became `#[serde({})]`", old.serde, new.serde));
    }
    for before in &old.fields {
        match new.fields.iter().find(|f| f.name == before.name) {
            None => out.push(format!("field `{}: {}` was removed", before.name, before.ty)),
            Some(after) if after.ty != before.ty => {
                out.push(format!("field `{}` changed type from `{}` to `{}`", before.name, before.ty, after.ty));
            }
            Some(after) if after.serde != before.serde => out.push(format!(
                "field `{}` changed `#[serde({})]` to `#[serde({})]`",
                before.name, before.serde, after.serde
            )),
            Some(_) => {}
        }
    }
    for after in new.fields.iter().filter(|f| !old.fields.iter().any(|o| o.name == f.name)) {
        out.push(format!("field `{}: {}` was added", after.name, after.ty));
    }
    out
}

fn read(path: &Path) -> Result<BTreeMap<(String, u32), Entry>, LockError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(cause) => return Err(LockError::Read { path: path.to_owned(), cause }),
    };
    let file: LockFile =
        serde_json::from_str(&text).map_err(|cause| LockError::Parse { path: path.to_owned(), cause })?;
    Ok(file.events.into_iter().map(|e| (e.key(), e)).collect())
}

fn write(path: &Path, events: Vec<Entry>) -> Result<(), LockError> {
    let file = LockFile { about: ABOUT.to_owned(), events };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| LockError::Write { path: path.to_owned(), cause: std::io::Error::other(e) })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|cause| LockError::Write { path: path.to_owned(), cause })
}

/// Why the registered events do not match the lock, or the lock could not
/// be used. `Debug` shows the same text as `Display`, so that
/// `check_lock(..).unwrap()` in a test reads as advice.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock file exists but cannot be read.
    #[error("cannot read the shape lock `{}`", path.display())]
    Read {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        #[source]
        cause: std::io::Error,
    },
    /// The lock file is not a lock.
    #[error("the shape lock `{}` is not a lock file: restore it from version control", path.display())]
    Parse {
        /// The lock file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        cause: serde_json::Error,
    },
    /// The lock file cannot be written.
    #[error("cannot write the shape lock `{}`", path.display())]
    Write {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        #[source]
        cause: std::io::Error,
    },
    /// The events differ from the lock.
    #[error("{}", mismatch(path, problems))]
    Mismatch {
        /// The lock file.
        path: PathBuf,
        /// Every difference, the ones that need a code change first.
        problems: Vec<LockProblem>,
    },
}

impl fmt::Debug for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn mismatch(path: &Path, problems: &[LockProblem]) -> String {
    let mut out = format!("the events do not match the shape lock `{}`:", path.display());
    for problem in problems {
        out.push_str("\n  - ");
        out.push_str(&problem.to_string());
    }
    if problems.iter().any(|p| matches!(p, LockProblem::Unrecorded { .. })) {
        out.push_str(&format!(
            "\nto record new events and versions, run the test with {LOCK_ENV}=overwrite and commit `{}`",
            path.display()
        ));
    }
    out
}

/// One difference between the registered events and the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockProblem {
    /// A locked version's shape changed.
    #[error(
        "event `{name}` version {version} changed shape: {}. Events already stored as version {version} keep \
         the old shape: restore it, and add version {next} with `#[event(version = {next})]` and \
         `#[upcast(from = {version}, ...)]` for the new shape",
        changes.join("; "),
        next = u64::from(*version) + 1
    )]
    ShapeChanged {
        /// The event's stored name.
        name: String,
        /// The locked version.
        version: u32,
        /// What changed, one sentence each.
        changes: Vec<String>,
    },
    /// A locked version is above the event's current version.
    #[error(
        "event `{name}` is at version {current} but the lock holds version {version}: stored events of \
         version {version} could no longer be decoded; restore `#[event(version = {version})]` and its upcasters"
    )]
    VersionRemoved {
        /// The event's stored name.
        name: String,
        /// The locked version.
        version: u32,
        /// The version the program has.
        current: u32,
    },
    /// A locked event is no longer registered.
    #[error(
        "event `{name}` (version {version} in the lock) is no longer in the program: stored events of it \
         could no longer be decoded; restore the event type (a renamed type keeps `#[event(name = \"{name}\")]`)"
    )]
    EventRemoved {
        /// The event's stored name.
        name: String,
        /// The locked version.
        version: u32,
    },
    /// Two event types share a stored name.
    #[error(
        "event name `{name}` is used by two event types, `{first}` and `{second}`: give one of them another \
         `#[event(name = \"...\")]`"
    )]
    DuplicateName {
        /// The shared name.
        name: String,
        /// One type using it.
        first: &'static str,
        /// The other type using it.
        second: &'static str,
    },
    /// An event or version the lock does not hold yet.
    #[error("event `{name}` version {version} is not in the lock yet")]
    Unrecorded {
        /// The event's stored name.
        name: String,
        /// Its current version.
        version: u32,
    },
}
