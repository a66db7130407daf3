//! Compile-fail tests of the layer's configuration: one mistake per file, the expected
//! compiler output beside it, compared only on the compiler it was recorded with (as the
//! root package's `tests/compiletest.rs` does). Regenerate with
//! `TRYBUILD=overwrite cargo test -p metering-tower --test compiletest`.

use std::process::Command;

/// The `major.minor` of the rustc that recorded the `.stderr` files.
const RECORDED_WITH: &str = "1.95";

#[test]
fn ui() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("--version")
        .output()
        .expect("rustc runs");
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let recorded = version
        .strip_prefix("rustc ")
        .and_then(|rest| rest.strip_prefix(RECORDED_WITH))
        .is_some_and(|rest| rest.starts_with('.'));
    if !recorded {
        println!(
            "skipping the UI tests: their .stderr files were recorded with rustc {RECORDED_WITH}, this is {version}"
        );
        return;
    }
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
