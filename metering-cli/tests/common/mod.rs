//! Helpers shared by the binary's tests: the built `metering`, usage files on disk.

#![allow(dead_code)] // each test binary uses its own share of these

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};

/// The moment the tests judge records at: fixed, so they pass on every day.
pub(crate) const NOW: &str = "2026-11-26T12:00:00Z";

/// The built binary.
pub(crate) fn metering() -> Command {
    let mut command = Command::cargo_bin("metering").expect("the metering binary is built");
    command.env("NO_COLOR", "1");
    command
}

/// A valid entry for `prod-a`'s customer `account`, `hours` hours before [`NOW`].
pub(crate) fn entry(account: &str, dimension: &str, hours: i64, quantity: i64) -> Value {
    json!({
        "ProductCode": "prod-a",
        "Timestamp": 1_795_694_400 - hours * 3600, // NOW is 1_795_694_400
        "CustomerAWSAccountId": account,
        "Dimension": dimension,
        "Quantity": quantity,
    })
}

/// A directory of files that lives as long as the test.
pub(crate) struct Files(tempfile::TempDir);

impl Files {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("a temporary directory"))
    }

    /// Writes `text` to `name` and returns its path.
    pub(crate) fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path
    }

    /// Writes entries as JSON Lines.
    pub(crate) fn lines(&self, name: &str, entries: &[Value]) -> PathBuf {
        let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
        self.write(name, lines.join("\n"))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

/// The JSON Lines a `--format json` run printed.
pub(crate) fn json_lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}
