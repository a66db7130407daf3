//! Hostile input over raw HTTP: what no SDK would send, answered as the service would.

use std::time::Duration;

use metering_core::{ManualClock, Timestamp};
use metering_emulator::{Emulator, RunningEmulator, TARGET};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NOW: i64 = 1_795_694_400; // 2026-11-26T12:00:00Z
const TIMEOUT: Duration = Duration::from_millis(300);

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .clock(ManualClock::new(Timestamp::from_unix_seconds(NOW).unwrap()))
        .request_timeout(TIMEOUT)
        .start()
        .await
        .unwrap()
}

/// The head of a signed `BatchMeterUsage` request to `path`, without its length headers.
fn head(method: &str, path: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         x-amz-target: {TARGET}\r\ncontent-type: application/x-amz-json-1.1\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=00\r\n"
    )
}

/// Sends `parts` with `pause` between them and reads the whole answer, within 5 seconds.
async fn exchange(emulator: &RunningEmulator, parts: &[&[u8]], pause: Duration) -> String {
    let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
    let talk = async {
        for part in parts {
            // The server may answer and close before the client is done sending.
            if stream.write_all(part).await.is_err() {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    tokio::time::timeout(Duration::from_secs(5), talk)
        .await
        .expect("no answer within 5 seconds")
}

async fn post(emulator: &RunningEmulator, body: &str) -> String {
    let request = format!(
        "{}content-length: {}\r\n\r\n{body}",
        head("POST", "/"),
        body.len()
    );
    exchange(emulator, &[request.as_bytes()], Duration::ZERO).await
}

fn json_body(answer: &str) -> serde_json::Value {
    let body = &answer[answer.find("\r\n\r\n").expect(answer) + 4..];
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:.200}"))
}

fn record(members: &str) -> String {
    format!(
        r#"{{"ProductCode":"prod-1","UsageRecords":[{{"Timestamp":{},"CustomerAWSAccountId":"123456789012","Dimension":"api","Quantity":3{members}}}]}}"#,
        NOW - 60
    )
}

#[tokio::test]
async fn answers_echo_the_records_read_not_the_bytes_sent() {
    let emulator = emulator().await;
    let deep = format!(
        r#","Unknown":{}{}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let answer = post(&emulator, &record(&deep)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
    // serde_json, like botocore, refuses JSON nested deeper than 128 levels.
    let body = json_body(&answer);
    let echoed = &body["Results"][0]["UsageRecord"];
    assert_eq!(echoed["Quantity"], 3, "{body}");
    assert_eq!(echoed["Timestamp"], NOW - 60, "{body}");
    assert!(echoed.get("Unknown").is_none(), "{body}");
}

#[tokio::test]
async fn a_body_that_never_arrives_or_trickles_times_out() {
    let emulator = emulator().await;
    let body = record("");
    let request = format!(
        "{}content-length: {}\r\n\r\n",
        head("POST", "/"),
        body.len()
    );
    let answer = exchange(
        &emulator,
        &[request.as_bytes(), &body.as_bytes()[..10]],
        Duration::ZERO,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");

    let trickle: Vec<&[u8]> = std::iter::once(request.as_bytes())
        .chain(body.as_bytes().chunks(1))
        .collect();
    let started = tokio::time::Instant::now();
    let answer = exchange(&emulator, &trickle, Duration::from_millis(50)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < TIMEOUT * 4, "{:?}", started.elapsed());
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_not_called_too_large() {
    let emulator = emulator().await;
    let request = format!(
        "{}transfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        head("POST", "/")
    );
    let answer = exchange(&emulator, &[request.as_bytes()], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("could not be read"), "{answer}");
    assert!(!answer.contains("1 MB"), "{answer}");
}

#[tokio::test]
async fn other_methods_and_paths_are_unknown_operations() {
    let emulator = emulator().await;
    let body = record("");
    for (method, path) in [("GET", "/"), ("GET", "/other"), ("POST", "/other")] {
        let request = format!(
            "{}content-length: {}\r\n\r\n{body}",
            head(method, path),
            body.len()
        );
        let answer = exchange(&emulator, &[request.as_bytes()], Duration::ZERO).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{method} {path}: {answer}"
        );
        assert_eq!(
            json_body(&answer)["__type"],
            "UnknownOperationException",
            "{method} {path}"
        );
    }
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let emulator = emulator().await;
    let mut ids = Vec::new();
    for body in [record(""), "not json".to_owned(), record("")] {
        let answer = post(&emulator, &body).await;
        let id = answer
            .lines()
            .find_map(|line| line.strip_prefix("x-amzn-requestid: "))
            .unwrap_or_else(|| panic!("{answer}"))
            .to_owned();
        assert_eq!(id.len(), 36, "{id}");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
}
