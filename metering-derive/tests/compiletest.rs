//! Compile-fail tests of the derives, the record builder and `metering-tower`'s layer: one
//! mistake per file, the expected compiler output beside it (and, in `ui/pass`, what must
//! compile and run). They live in this crate, whose
//! dev-dependencies are few: trybuild builds the tested crate's dependencies again, apart,
//! and the facade's (the AWS SDK, the database drivers) took minutes.
//!
//! The `.stderr` files hold rustc's own words too, which change between releases, so they
//! are compared only on the compiler they were recorded with ([`RECORDED_WITH`]); on any
//! other the test says so in one line and passes. Regenerate with
//! `TRYBUILD=overwrite cargo test -p metering-derive --test compiletest`, review the diff, and update
//! [`RECORDED_WITH`].

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `major.minor` of the rustc that recorded the `.stderr` files.
const RECORDED_WITH: &str = "1.95";

#[test]
fn ui() {
    let version = rustc_version();
    if !recorded_with(&version) {
        println!(
            "skipping the UI tests: their .stderr files were recorded with rustc {RECORDED_WITH}, this is {version}"
        );
        return;
    }
    copy_catalogs();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

/// `rustc --version` of the toolchain running the tests (rustup passes its choice on to
/// the `rustc` this starts).
fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("--version")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn recorded_with(version: &str) -> bool {
    version
        .strip_prefix("rustc ")
        .and_then(|rest| rest.strip_prefix(RECORDED_WITH))
        .is_some_and(|rest| rest.starts_with('.'))
}

/// A catalog path is relative to the crate being compiled, which under trybuild is the
/// project it generates in the target directory: the catalogs the cases name are copied
/// there, to the same relative paths.
fn copy_catalogs() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = Command::new(cargo)
        .args(["metadata", "--format-version=1", "--no-deps", "--offline"])
        .output()
        .expect("cargo metadata runs");
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).expect("cargo metadata prints JSON");
    let target = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .expect("cargo metadata names the target directory"),
    );
    let project = target.join("tests/trybuild").join(env!("CARGO_PKG_NAME"));
    copy_dir(
        Path::new("tests/ui/catalog"),
        &project.join("tests/ui/catalog"),
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the trybuild project directory can be written");
    for entry in std::fs::read_dir(from).expect("the catalog fixtures exist") {
        let entry = entry.expect("a directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a catalog is copied");
    }
}

#[test]
fn only_the_recording_compiler_compares() {
    assert!(recorded_with(&format!(
        "rustc {RECORDED_WITH}.0 (59807616e 2026-04-14)"
    )));
    assert!(recorded_with(&format!("rustc {RECORDED_WITH}.2")));
    assert!(!recorded_with("rustc 1.94.1 (e408947bf 2026-03-25)"));
    assert!(!recorded_with(&format!("rustc {RECORDED_WITH}0.0")));
    assert!(!recorded_with("rustc 1.96.0-nightly (abc 2026-05-01)"));
    assert!(!recorded_with(""));
}
