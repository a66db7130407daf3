//! Requests per second the emulator serves on loopback with 25-record `BatchMeterUsage`
//! requests over keep-alive connections, beside a baseline: a bare hyper server answering a
//! canned response of the same size, driven by the same client in the same run.
//!
//! `cargo bench -p metering-emulator --bench throughput`

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1 as client;
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use metering_core::{ManualClock, Timestamp};
use metering_emulator::{CONTENT_TYPE_JSON, Emulator, TARGET};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Distinct request bodies the client cycles through: the first round bills, later rounds are
/// idempotent resends, as a retrying submitter's would be.
const BODIES: usize = 400;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap()
}

/// 25 records of one customer, one per dimension.
fn body(customer: usize) -> Bytes {
    let timestamp = now().unix_seconds() - 600;
    let records: Vec<_> = (0..25)
        .map(|d| {
            serde_json::json!({
                "Timestamp": timestamp,
                "CustomerAWSAccountId": format!("{:012}", 100_000_000_000 + customer),
                "CustomerIdentifier": "",
                "Dimension": format!("dimension_{d}"),
                "Quantity": 1000 + d,
            })
        })
        .collect();
    serde_json::json!({ "ProductCode": "prod-example123", "UsageRecords": records })
        .to_string()
        .into()
}

/// A bare hyper server answering every request with `canned`.
async fn baseline(canned: Bytes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let canned = canned.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let canned = canned.clone();
                    async move {
                        let _ = request.into_body().collect().await;
                        Ok::<_, Infallible>(Response::new(Full::new(canned)))
                    }
                });
                let _ = server::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Sends `total` requests over `connections` keep-alive connections; the time taken.
async fn drive(
    addr: SocketAddr,
    bodies: Arc<Vec<Bytes>>,
    total: u64,
    connections: u64,
) -> Duration {
    let mut senders = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, connection) = client::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        senders.push(sender);
    }
    let started = Instant::now();
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(lane, mut sender)| {
            let bodies = Arc::clone(&bodies);
            let count = total / connections + u64::from((lane as u64) < total % connections);
            tokio::spawn(async move {
                for n in 0..count {
                    let index = usize::try_from(n * connections + lane as u64).unwrap() % bodies.len();
                    let request = Request::post("/")
                        .header("content-type", CONTENT_TYPE_JSON)
                        .header("x-amz-target", TARGET)
                        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=0")
                        .body(Full::new(bodies[index].clone()))
                        .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    assert!(response.status().is_success());
                    response.into_body().collect().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..BODIES).map(body).collect());
    let emulator = runtime.block_on(async {
        Emulator::builder()
            .clock(ManualClock::new(now()))
            .start()
            .await
            .unwrap()
    });
    // The baseline answers what the emulator answers to the first body, byte for byte.
    let canned = runtime.block_on(async {
        let stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
        let (mut sender, connection) = client::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let request = Request::post("/")
            .header("x-amz-target", TARGET)
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AKID")
            .body(Full::new(bodies[0].clone()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    });
    assert!(canned.starts_with(b"{\"Results\""), "{canned:?}");
    let baseline = runtime.block_on(baseline(canned));

    let mut group = c.benchmark_group("batch_meter_usage_25_records");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for connections in [1, 16] {
        for (name, addr) in [
            ("emulator", emulator.local_addr()),
            ("baseline_hyper", baseline),
        ] {
            group.bench_with_input(BenchmarkId::new(name, connections), &addr, |b, &addr| {
                b.iter_custom(|iters| {
                    runtime.block_on(drive(addr, Arc::clone(&bodies), iters, connections))
                });
            });
        }
    }
    group.finish();
    println!(
        "emulator billed {} entries over {} requests",
        emulator.ledger().len(),
        emulator.requests()
    );
}

criterion_group!(benches, throughput);
criterion_main!(benches);
