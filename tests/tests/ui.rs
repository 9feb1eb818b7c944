//! The compile-time promises of the derives: every mistake a user can make
//! in `#[derive(Event)]`, `#[upcast(...)]` and `#[derive(Aggregate)]` fails
//! to compile with the message in the case's `.stderr`, and the `pass/`
//! cases compile and run.
//!
//! The `.stderr` files hold rustc's exact output, which changes between
//! compiler releases. They are compared only on the compiler named in
//! `ui/RUSTC_VERSION`; on any other one every `compile_fail` case must still
//! fail to compile, but its text is not compared. See `ui/README.md`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

const CATEGORIES: [&str; 4] = ["event", "upcast", "aggregate", "fingerprint"];

/// Tells the child run of [`ui_unpinned_cases`] where the copied cases are.
const UNPINNED_DIR_VAR: &str = "ES_UI_UNPINNED_DIR";

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// `1.95.0` for `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rustc_version() -> String {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().expect("run `rustc --version`");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace().nth(1).expect("`rustc --version` prints `rustc <version> ...`").to_owned()
}

fn cases(category: &str) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(ui_dir().join(category))
        .expect("read a category of ui cases")
        .map(|entry| entry.expect("read a ui case").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn ui() {
    let pinned = fs::read_to_string(ui_dir().join("RUSTC_VERSION")).expect("read ui/RUSTC_VERSION");
    let pinned = pinned.trim();
    let current = rustc_version();
    let refreshing = env::var_os("TRYBUILD").is_some();

    let t = trybuild::TestCases::new();
    if current == pinned || refreshing {
        for category in CATEGORIES {
            t.compile_fail(format!("ui/{category}/*.rs"));
        }
    } else {
        eprintln!(
            "ui/RUSTC_VERSION pins rustc {pinned} but this is rustc {current}: checking that every \
             compile_fail case still fails, without comparing messages (refresh: see tests/ui/README.md)"
        );
        // A copy of the cases without their `.stderr`, checked by a child run
        // with TRYBUILD=overwrite: a case that compiles fails it, a case that
        // fails to compile passes whatever its message.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-unpinned");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the directory of unpinned ui cases");
        let mut copied = 0;
        for category in CATEGORIES {
            for case in cases(category) {
                let file = case.file_name().expect("a case has a file name").to_string_lossy();
                fs::copy(&case, dir.join(format!("{category}__{file}"))).expect("copy a ui case");
                copied += 1;
            }
        }
        let status = Command::new(env::current_exe().expect("the path of this test binary"))
            .args(["ui_unpinned_cases", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("TRYBUILD", "overwrite")
            .env(UNPINNED_DIR_VAR, &dir)
            .status()
            .expect("run the unpinned ui cases");
        assert!(status.success(), "some of the {copied} compile_fail cases compiled on rustc {current}");
    }
    t.pass("ui/pass/*.rs");
}

/// Run by [`ui`] on a compiler other than the pinned one.
#[test]
#[ignore = "run by `ui` when the compiler is not the one in ui/RUSTC_VERSION"]
fn ui_unpinned_cases() {
    // Under `--include-ignored` without `ui` around it there is nothing to
    // check: `ui` itself covers the cases then.
    let Some(dir) = env::var_os(UNPINNED_DIR_VAR) else { return };
    trybuild::TestCases::new().compile_fail(Path::new(&dir).join("*.rs"));
}

#[test]
fn every_check_has_a_failing_case() {
    let total: usize = CATEGORIES.iter().map(|c| cases(c).len()).sum();
    assert!(total >= 12, "only {total} compile_fail cases");
    for category in CATEGORIES {
        for case in cases(category) {
            assert!(case.with_extension("stderr").exists(), "{} has no .stderr", case.display());
        }
    }
    assert!(!cases("pass").is_empty());
}
