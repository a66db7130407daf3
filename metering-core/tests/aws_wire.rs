//! What the real AWS SDK puts on the wire through `AwsTransport`, captured by a plain TCP
//! listener on loopback: no empty `CustomerIdentifier`, decimal quantities the SDK has no
//! field for, a signed request with a consistent content length, and a body our own wire
//! types read back as the same records.

mod common;

use common::{account, allocated, at, licensed, record, tags};
use metering_core::aws_sdk::config::{Builder, Credentials, Region};
use metering_core::submit::Transport;
use metering_core::{
    AwsTransport, Customer, CustomerIdentifier, Planner, ProductCode, RequestRecords,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one connection, captures one request, answers with an empty result.
async fn capture_one(listener: TcpListener) -> (String, Vec<u8>) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buffer = Vec::new();
    let (head, body_start, length) = loop {
        let mut chunk = [0; 8192];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a whole request");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buffer[..end].to_vec()).unwrap();
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .expect("a content-length header");
            break (head, end + 4, length);
        }
    };
    while buffer.len() < body_start + length {
        let mut chunk = [0; 8192];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let answer = r#"{"Results":[],"UnprocessedRecords":[]}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{answer}",
        answer.len()
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    assert_eq!(
        buffer.len(),
        body_start + length,
        "the body is exactly content-length long"
    );
    (head, buffer[body_start..].to_vec())
}

async fn send_and_capture(records: Vec<metering_core::UsageRecord>) -> (String, Vec<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let capture = tokio::spawn(capture_one(listener));
    let transport = AwsTransport::from_conf(
        Builder::new()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "not-a-real-secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(url)
            .build(),
    );
    let plan = Planner::default().plan(records, at("2026-11-26T12:00:00Z"));
    assert_eq!(plan.requests.len(), 1);
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        transport.send(&plan.requests[0]),
    )
    .await
    .expect("answered in time")
    .expect("a 200 answer");
    assert!(response.results.is_empty());
    capture.await.unwrap()
}

#[tokio::test]
async fn no_empty_customer_identifier_goes_on_the_wire() {
    let t = at("2026-11-26T11:00:00Z");
    let records = vec![
        record(account("prod-a", "111122223333"), "api", t, 5),
        allocated(
            account("prod-a", "444455556666"),
            "gb",
            t,
            &[(3, tags(&[("team", "a")])), (4, tags(&[("team", "b")]))],
        ),
        // The bucket with no tags travels without `Tags`.
        metering_core::UsageRecord::with_allocations(
            account("prod-a", "777700001111"),
            "gb".parse().unwrap(),
            t,
            vec![
                metering_core::UsageAllocation::untagged(metering_core::Quantity::new(2).unwrap()),
                metering_core::UsageAllocation::new(
                    metering_core::Quantity::new(1).unwrap(),
                    tags(&[("team", "a")]),
                ),
            ],
        )
        .unwrap(),
        // Decimal quantities, which SDK 1.124 has no field for, travel as the model says.
        metering_core::UsageRecord::new(
            account("prod-a", "888800001111"),
            "gb".parse().unwrap(),
            t,
            "2.5".parse().unwrap(),
        ),
    ];
    let (head, body) = send_and_capture(records.clone()).await;
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(!text.contains("CustomerIdentifier"), "{text}");
    assert!(text.contains(r#"{"AllocatedUsageQuantity":2}"#), "{text}");
    assert!(text.contains(r#""QuantityAsDecimal":"2.5""#), "{text}");
    assert!(
        text.contains(r#""CustomerAWSAccountId":"111122223333""#),
        "{text}"
    );
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("x-amz-target: awsmpmeteringservice.batchmeterusage"),
        "{head}"
    );
    assert!(
        head.contains("authorization: aws4-hmac-sha256"),
        "signed after the edit: {head}"
    );
    assert!(
        !head.contains("not-a-real-secret"),
        "the secret never travels"
    );

    // The bytes the SDK sent read back, through our wire types, as the records sent.
    let read: RequestRecords = serde_json::from_slice(&body).unwrap();
    assert_eq!(read.product_code, Some(ProductCode::new("prod-a").unwrap()));
    let mut sent = read.records;
    sent.sort_by_key(metering_core::UsageRecord::key);
    let mut expected = records;
    expected.sort_by_key(metering_core::UsageRecord::key);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn licence_and_legacy_records_keep_their_own_fields() {
    let t = at("2026-11-26T11:00:00Z");
    let (_, body) = send_and_capture(vec![record(licensed("777788889999"), "api", t, 1)]).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        !text.contains("ProductCode") && !text.contains("CustomerIdentifier"),
        "{text}"
    );
    assert!(
        text.contains(
            r#""LicenseArn":"arn:aws:license-manager::777788889999:license:l-777788889999""#
        ),
        "{text}"
    );

    let legacy = Customer::Legacy {
        product: ProductCode::new("prod-a").unwrap(),
        identifier: CustomerIdentifier::new("cust-abc").unwrap(),
    };
    let (_, body) = send_and_capture(vec![record(legacy, "api", t, 1)]).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains(r#""CustomerIdentifier":"cust-abc""#),
        "{text}"
    );
    assert!(!text.contains("CustomerAWSAccountId"), "{text}");
}

/// A JSON reader takes the `Timestamp` number as a double (the SDK reading the service's
/// echo of a record does), which rounds a second's last nanoseconds up: a record of
/// 10:59:59.999999999 read back in the 11:00 hour was billed there and, its echo matching
/// no record sent, resent as unprocessed until it was left pending.
#[tokio::test]
async fn a_timestamp_read_back_as_a_double_stays_in_its_hour() {
    let t = at("2026-11-26T10:59:59.999999999Z");
    let (_, body) =
        send_and_capture(vec![record(account("prod-a", "111122223333"), "api", t, 1)]).await;
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let seconds = sent["UsageRecords"][0]["Timestamp"].as_f64().unwrap();
    // 2026-11-26T10:59:59Z and 11:00:00Z
    assert!(
        (1_795_690_799.0..1_795_690_800.0).contains(&seconds),
        "{seconds} read back outside the record's second and hour"
    );
}
