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
