//! `metering submit` against the emulator (in this process, on 127.0.0.1) with faults:
//! interrupted, then resumed, and no key ever billed a second quantity.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Files, NOW, entry, metering};
use metering_core::{ManualClock, Outcome, RecordOutcome, Timestamp};
use metering_emulator::{Emulator, Faults};
use serde_json::Value;

/// The AWS SDK's configuration from the environment, and none from this machine.
fn with_test_credentials(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
}

fn outcomes(path: &std::path::Path) -> Vec<RecordOutcome> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// 2,000 keys, and 200 more records for keys already there (merged into one quantity);
/// with the quantity each account must be billed.
fn usage() -> (Vec<Value>, HashMap<String, i64>) {
    let mut entries: Vec<Value> = (0..2_000)
        .map(|i| entry(&format!("{i:012}"), "api", i % 3, i + 1))
        .collect();
    entries.extend((0..200).map(|i| entry(&format!("{i:012}"), "api", i % 3, 1_000)));
    let mut expected: HashMap<String, i64> = HashMap::new();
    for e in &entries {
        *expected
            .entry(e["CustomerAWSAccountId"].as_str().unwrap().to_owned())
            .or_default() += e["Quantity"].as_i64().unwrap();
    }
    (entries, expected)
}

/// The emulator billed each key once, with the quantity of all its records.
fn assert_billed_once(billed: &[metering_emulator::LedgerEntry], expected: &HashMap<String, i64>) {
    let mut seen = HashSet::new();
    for line in billed {
        let account = line.customer.account().unwrap().as_str().to_owned();
        assert!(
            seen.insert((account.clone(), line.hour)),
            "two records for one key"
        );
        assert_eq!(
            line.quantity.to_string(),
            expected[&account].to_string(),
            "{account}"
        );
    }
    assert_eq!(billed.len(), expected.len());
}

#[test]
fn an_interrupted_submission_resumes_without_a_second_quantity_for_any_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now = Timestamp::parse_rfc3339(NOW).unwrap();
    let faults = Faults {
        seed: 11,
        throttle: 0.15,
        internal_error: 0.1,
        unprocessed: 0.15,
        ..Faults::none()
    };
    let emulator = runtime
        .block_on(
            Emulator::builder()
                .clock(ManualClock::new(now))
                .faults(faults)
                .start(),
        )
        .unwrap();
    let url = emulator.endpoint_url();

    let (entries, expected) = usage();
    let files = Files::new();
    let usage = files.lines("usage.jsonl", &entries);
    let outcomes_path = files.path("usage.jsonl.outcomes.jsonl");
    let submit = |resume: bool| {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("metering"));
        with_test_credentials(&mut command).args(["submit", "--endpoint-url", &url, "--now", NOW]);
        if resume {
            command.arg("--resume");
        }
        command.arg(&usage);
        command
    };

    // Interrupted as soon as its first outcomes are on disk.
    let mut first = submit(false)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    while outcomes(&outcomes_path).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no outcome written within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before = outcomes(&outcomes_path);
    let settled_before: HashSet<_> = before
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Pending { .. }))
        .map(|o| o.record.key())
        .collect();
    assert!(
        !settled_before.is_empty() && settled_before.len() < 2_000,
        "{}",
        settled_before.len()
    );

    // A second run without --resume refuses: it would send settled records again.
    let refused = metering()
        .args(["submit", "--endpoint-url", &url])
        .arg(&usage)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--resume"));

    // Resumed until nothing is pending (faults may leave some after the retries).
    for _ in 0..5 {
        let output = submit(true).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.code() == Some(0) {
            break;
        }
        assert_eq!(
            output.status.code(),
            Some(1),
            "{text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let after = outcomes(&outcomes_path);
    for resent in &after[before.len()..] {
        assert!(
            !settled_before.contains(&resent.record.key()),
            "a settled record was sent again: {:?}",
            resent.record
        );
    }
    assert!(
        after
            .iter()
            .all(|o| !matches!(o.outcome, Outcome::DuplicateRecord)),
        "no key was sent with a second quantity"
    );

    assert_billed_once(&emulator.ledger(), &expected);
    runtime.block_on(emulator.shutdown());
}

/// The README's command against the emulator, on a machine with no AWS settings at all: no
/// variables, no `~/.aws`, no instance role to ask. Records kept back are named with why.
#[test]
fn submit_to_a_local_emulator_needs_no_aws_settings_and_says_why_records_are_kept_back() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now = Timestamp::parse_rfc3339(NOW).unwrap();
    let emulator = runtime
        .block_on(Emulator::builder().clock(ManualClock::new(now)).start())
        .unwrap();
    let url = emulator.endpoint_url();
    let files = Files::new();
    let home = tempfile::tempdir().unwrap();
    let usage = files.lines(
        "usage.jsonl",
        &[
            entry("111122223333", "api_calls", 1, 7),
            entry("111122223334", "api_calls", 30, 3),
            entry("111122223335", "api_cals", 1, 4),
        ],
    );
    let catalog = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog/describe-entity.json"
    );
    let output = Command::new(assert_cmd::cargo::cargo_bin("metering"))
        .env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .args(["submit", "--endpoint-url", &url, "--now", NOW])
        .args(["--catalog", catalog])
        .arg(&usage)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}{errors}");
    assert!(
        text.contains(r#"kept back {"ProductCode":"prod-a","Timestamp":1795586400,"CustomerAWSAccountId":"111122223334","Dimension":"api_calls""#)
            && text.contains("Timestamp 2026-11-25T06:00:00Z is 30h 0m 0s old at 2026-11-26T12:00:00Z; the service accepts records up to 24h 0m 0s after the event"),
        "{text}"
    );
    assert!(
        text.contains("1 success, 0 customer not subscribed, 0 duplicate, 1 quarantined"),
        "{text}"
    );
    // A dimension the catalog does not list is named, and not sent at all.
    assert!(
        text.contains(r#"Dimension: dimension key "api_cals" is not in the catalog"#),
        "{text}"
    );
    let billed = emulator.ledger();
    assert_eq!(billed.len(), 1);
    assert_eq!(billed[0].quantity.to_string(), "7");
    // The outcomes file says it in words too, beside what --resume reads.
    let lines = std::fs::read_to_string(files.path("usage.jsonl.outcomes.jsonl")).unwrap();
    let kept: Value =
        serde_json::from_str(lines.lines().find(|l| l.contains("Quarantined")).unwrap()).unwrap();
    assert!(
        kept["message"]
            .as_str()
            .unwrap()
            .contains("is 30h 0m 0s old"),
        "{kept}"
    );
    assert_eq!(outcomes(&files.path("usage.jsonl.outcomes.jsonl")).len(), 2);
    runtime.block_on(emulator.shutdown());
}

#[test]
fn only_an_endpoint_on_this_machine_gets_the_local_defaults() {
    let files = Files::new();
    let home = tempfile::tempdir().unwrap();
    let usage = files.lines("usage.jsonl", &[entry("111122223333", "api", 1, 7)]);
    // Nothing listens there; what matters is that no local credentials are made up for it:
    // it stops for want of credentials before any connection.
    let output = Command::new(assert_cmd::cargo::cargo_bin("metering"))
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args([
            "submit",
            "--endpoint-url",
            "http://192.0.2.1:9",
            "--now",
            NOW,
        ])
        .arg(&usage)
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{errors}");
    assert!(
        errors.contains("the submission stopped") && errors.contains("no credentials"),
        "{errors}"
    );
}
