//! Every command's `--help` has an example and its exit codes; completions are printed.

mod common;

use common::metering;

#[test]
fn every_command_has_an_example_and_exit_codes() {
    let top = metering().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("Exit codes:"), "{text}");
    let commands: [&[&str]; 10] = [
        &["validate"],
        &["plan"],
        &["submit"],
        &["emulator"],
        &["completions"],
        &["ledger", "status"],
        &["ledger", "pending"],
        &["ledger", "quarantined"],
        &["ledger", "requeue"],
        &["ledger", "export"],
    ];
    for command in commands {
        let output = metering().args(command).arg("--help").output().unwrap();
        assert!(output.status.success(), "{command:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        let example = format!("metering {}", command.join(" "));
        assert!(
            text.contains("Example:") && text.contains(&example),
            "{command:?}:\n{text}"
        );
        if command[0] == "ledger" {
            assert!(text.contains("Exit codes:"), "{command:?}:\n{text}");
        }
    }
}

#[test]
fn completions_name_the_commands() {
    let output = metering().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    for command in ["validate", "submit", "ledger", "requeue"] {
        assert!(script.contains(command), "{command}");
    }
}
