//! The `metering-emulator` binary: the flags of `metering emulator` (one definition,
//! `ServeArgs`), served until standard input closes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"ProductCode":"prod-a","UsageRecords":[{"Timestamp":1795690800,"CustomerAWSAccountId":"111122223333","Dimension":"api","Quantity":3}]}"#;

fn emulator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_metering-emulator"))
}

/// One signed-looking `BatchMeterUsage` exchange; returns the whole answer.
fn send(address: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSMPMeteringService.BatchMeterUsage\r\nContent-Length: {}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn faults_from_the_command_line_are_injected_and_closing_stdin_stops_it() {
    let mut child = emulator()
        .args(["--bind", "127.0.0.1:0", "--now", "2026-11-26T12:00:00Z"])
        .args(["--fault", "throttle=1", "--exit-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first.trim().trim_start_matches("http://").to_owned();
    assert!(address.starts_with("127.0.0.1:"), "{first:?}");
    let mut said = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert!(
        said.contains(&format!(
            "metering submit --endpoint-url http://{address} FILE"
        )),
        "{said}"
    );

    let answer = send(&address);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("ThrottlingException"), "{answer}");

    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still serving after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn a_bad_flag_is_named_with_what_to_write() {
    let output = emulator().args(["--fault", "jitter=0.5"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("jitter=0.5") && errors.contains("NAME one of throttle"),
        "{errors}"
    );
    let output = emulator().args(["--fault", "throttle=2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("faults.throttle") && errors.contains("0.0..=1.0"),
        "{errors}"
    );
}
