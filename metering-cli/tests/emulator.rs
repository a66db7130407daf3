//! `metering emulator`: the emulator library served by the built binary.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use common::metering;

/// The running binary, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `metering emulator` with `args` and returns it with its endpoint's address.
fn start(args: &[&str]) -> (Running, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("metering"))
        .arg("emulator")
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first.trim().trim_start_matches("http://").to_owned();
    assert!(
        address.starts_with("127.0.0.1:"),
        "first line is the URL: {first:?}"
    );
    // For people: the command that submits to it.
    let mut said = String::new();
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    errors.read_line(&mut said).unwrap();
    errors.read_line(&mut said).unwrap();
    assert!(
        said.contains(&format!(
            "metering submit --endpoint-url http://{address} FILE"
        )),
        "{said}"
    );
    (Running(child), address)
}

/// One HTTP/1.1 exchange; returns the whole answer.
fn exchange(address: &str, method: &str, path: &str, target: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nContent-Length: {}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

const BODY: &str = r#"{"ProductCode":"prod-a","UsageRecords":[{"Timestamp":1795690800,"CustomerAWSAccountId":"111122223333","Dimension":"api","Quantity":3}]}"#;
const TARGET: &str = "AWSMPMeteringService.BatchMeterUsage";

#[test]
fn serves_batch_meter_usage_at_the_time_given() {
    let (_emulator, address) = start(&["--now", "2026-11-26T12:00:00Z"]);
    let answer = exchange(&address, "POST", "/", TARGET, BODY);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"Status\":\"Success\""), "{answer}");
    let ledger = exchange(&address, "GET", "/_emulator/ledger", "", "");
    assert!(ledger.contains("111122223333"), "{ledger}");
}

#[test]
fn faults_from_the_command_line_are_injected() {
    let (_emulator, address) = start(&["--now", "2026-11-26T12:00:00Z", "--fault", "throttle=1"]);
    let answer = exchange(&address, "POST", "/", TARGET, BODY);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("ThrottlingException"), "{answer}");
}

#[test]
fn a_bad_fault_or_configuration_says_what_to_change() {
    let output = metering()
        .args(["emulator", "--fault", "throttle=2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("faults.throttle") && errors.contains("0.0..=1.0"),
        "{errors}"
    );
    let output = metering()
        .args(["emulator", "--fault", "jitter=0.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("jitter=0.5") && errors.contains("NAME one of throttle"),
        "{errors}"
    );

    let files = common::Files::new();
    let config = files.write("emulator.json", r#"{"quota": 3}"#);
    let output = metering()
        .args(["emulator", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("emulator.json") && errors.contains("quota"),
        "{errors}"
    );
}
