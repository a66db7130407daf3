//! The `SQLite` ledger passes the `Ledger` conformance suite: each case on a new file, with
//! every handle a separate connection, as separate processes would hold.

use metering_core::ledger::SqliteLedger;
use metering_core::ledger::conformance::Harness;

/// A fresh ledger file in a temporary directory, removed at the end.
struct SqliteFile {
    dir: tempfile::TempDir,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

impl Harness for SqliteFile {
    type Ledger = SqliteLedger;

    fn open(&self) -> SqliteLedger {
        SqliteLedger::open(self.dir.path().join("ledger.sqlite")).expect("the ledger opens")
    }
}

metering_core::ledger_conformance_tests!(SqliteFile::new());

/// A tool's `open_existing` opens a ledger, and refuses a missing file (leaving none behind)
/// or a database no Meter made, naming the path.
#[test]
fn open_existing_opens_only_a_ledger() {
    let file = SqliteFile::new();
    let missing = file.dir.path().join("missing.sqlite");
    let error = SqliteLedger::open_existing(&missing)
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing.sqlite"), "{error}");
    assert!(!missing.exists(), "no file was created");

    let empty = file.dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let error = SqliteLedger::open_existing(&empty).unwrap_err().to_string();
    assert!(error.contains("not a ledger"), "{error}");

    drop(file.open());
    SqliteLedger::open_existing(file.dir.path().join("ledger.sqlite")).expect("a ledger opens");
}
