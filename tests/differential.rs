//! The core reader (`RequestRecords`) and the emulator judge the same request bodies alike:
//! both accept or both reject.

use std::io::{Read, Write};
use std::net::TcpStream;

use metering_core::{ManualClock, RequestRecords, Timestamp};
use metering_emulator::{CONTENT_TYPE_JSON, Emulator, TARGET};

/// Posts `body` over plain HTTP/1.1 and answers the status code.
fn post(addr: std::net::SocketAddr, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {CONTENT_TYPE_JSON}\r\nX-Amz-Target: {TARGET}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_and_emulator_accept_and_reject_the_same_bodies() {
    let now = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
    let emulator = Emulator::builder()
        .clock(ManualClock::new(now))
        .start()
        .await
        .unwrap();
    let ts = now.unix_seconds() - 600;
    let entry = |extra: &str| {
        format!(
            r#"{{"Timestamp":{ts},"CustomerAWSAccountId":"111122223333","Dimension":"d"{extra}}}"#
        )
    };
    let request = |product: &str, entries: &[String]| {
        format!(r#"{{{product}"UsageRecords":[{}]}}"#, entries.join(","))
    };
    let p = r#""ProductCode":"prod-a","#;
    let licence = r#","LicenseArn":"arn:aws:license-manager::1:license:l-1""#;
    let bodies = [
        request(p, &[entry(r#","Quantity":1"#)]),
        request(p, &[]),
        request(p, &vec![entry(""); 25]),
        request(p, &vec![entry(""); 26]),
        request(r#""ProductCode":"","#, &[entry("")]),
        request(r#""ProductCode":"","#, &[entry(licence)]),
        request("", &[entry(licence)]),
        request(p, &[entry(licence)]),
        request("", &[entry(r#","ProductCode":"prod-b""#)]),
        request(p, &[entry(r#","Quantity":1,"Quantity":2"#)]),
        request(p, &[entry(r#","Quantity":"1""#)]),
        request(p, &[entry(r#","Quantity":1.5"#)]),
        request(p, &[entry(r#","QuantityAsDecimal":"1.5""#)]),
        request(p, &[entry(r#","QuantityAsDecimal":1.5"#)]),
        request(p, &[entry(r#","Quantity":2147483648"#)]),
        request(p, &[entry(r#","QuantityAsDecimal":"3000000000""#)]),
        request(p, &[entry(r#","CustomerIdentifier":"""#)]),
        request(p, &[entry(r#","UsageAllocations":[[1]]"#)]),
        request(
            p,
            &[entry(
                r#","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1,"Tags":[["k","v"]]}]"#,
            )],
        ),
        request(
            p,
            &[entry(
                r#","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1,"Tags":[{"Key":"k","Value":"v","Value":"w"}]}]"#,
            )],
        ),
        request(p, &[entry(r#","Quantity":1,"UsageAllocations":{}"#)]),
        request(p, &[entry(r#","Unknown":{"x":1}"#)]),
        request(
            p,
            &[r#"{"Timestamp":"2026-11-26T11:50:00Z","CustomerAWSAccountId":"111122223333","Dimension":"d"}"#.to_owned()],
        ),
        request(p, &[entry(r#","Dimension":"e""#)]),
        r#"["prod-a", []]"#.to_owned(),
        format!(r#"{{{p}"UsageRecords":[[{ts},null,"111122223333",null,"d",1]]}}"#),
        r#"{"ProductCode":"prod-a"}"#.to_owned(),
        r#"{"ProductCode":"prod-a","UsageRecords":null}"#.to_owned(),
    ];
    let addr = emulator.local_addr();
    let mut disagreements = Vec::new();
    let mut accepted = 0;
    for body in bodies {
        let core = serde_json::from_str::<RequestRecords>(&body);
        let status = {
            let body = body.clone();
            tokio::task::spawn_blocking(move || post(addr, &body))
                .await
                .unwrap()
        };
        accepted += usize::from(status == 200);
        if core.is_ok() != (status == 200) {
            disagreements.push(format!(
                "{body}\n  core: {core:?}\n  emulator: HTTP {status}"
            ));
        }
    }
    emulator.shutdown().await;
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(
        (5..20).contains(&accepted),
        "{accepted} accepted: both sides must be tried"
    );
}
