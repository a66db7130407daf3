//! Compile-fail tests of the derives and the record builder: one mistake per file, the
//! expected compiler output beside it.
//!
//! The `.stderr` files were made with rustc 1.95.0; another compiler may word its own
//! parts of a message differently. Regenerate
//! with `TRYBUILD=overwrite cargo test --test compiletest` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
