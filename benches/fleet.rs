//! A fleet on one PostgreSQL database (`METERING_TEST_POSTGRES_URL`), each beside its baseline
//! in the same run:
//!
//! - **Commits.** 4 writers record durably into hot keys they all share (8 customers, one
//!   dimension, one hour), 64 callers each. Ours: 4 Meters (4 instances) whose writers
//!   group-commit checkpoints of deltas; every call resolves once its usage is committed.
//!   Baseline: what a seller writes by hand, one upsert statement per event on 4
//!   connections, 64 statements in flight on each (pipelined), the same durability.
//! - **Claim and send.** 2,500 sealed records (100 requests) sent to the emulator enforcing
//!   the service's quota (10 requests a second × 25 records = 250 records a second): ours
//!   claims from the ledger, sends and settles, with one flusher and with two; baseline: the
//!   same records sent from memory by a `Submitter`, no ledger.
//!
//! `METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench fleet --features postgres`

#[allow(dead_code)] // shared with the other submission benchmarks
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use marketplace_metering::ledger::{Flusher, PostgresLedger};
use marketplace_metering::submit::Submitter;
use marketplace_metering::{
    AwsTransport, Customer, CustomerAwsAccountId, Dimension, Meter, MeterConfig, ProductCode,
    Quantity, Timestamp, UsageRecord,
};
use metering_emulator::{Emulator, Quota, RunningEmulator};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const WRITERS: usize = 4;
const CALLERS: usize = 64;
const HOT_KEYS: usize = 8;
/// Events per caller and iteration.
const EVENTS: usize = 16;
const RECORDS: usize = 2_500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    StorageGb,
    Seats,
    Reports,
    Exports,
}

fn customer(i: usize) -> Customer {
    Customer::Account {
        product: ProductCode::new(common::PRODUCT).unwrap(),
        account: CustomerAwsAccountId::new(format!("{}", 100_000_000_000 + i)).unwrap(),
    }
}

/// A schema of its own on the server, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: format!("bench_fleet_{:016x}", fastrand::u64(..)),
        }
    }

    fn ledger(&self) -> PostgresLedger {
        PostgresLedger::builder(&self.url)
            .unwrap()
            .max_connections(4)
            .schema(&self.name)
            .unwrap()
            .build()
            .unwrap()
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    async fn drop_all(&self) {
        let name = &self.name;
        self.client()
            .await
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .await
            .unwrap();
    }
}

/// Ours: `WRITERS` meters, each with `CALLERS` tasks calling `record_durable` `EVENTS` times.
async fn meters_durable(meters: &[Arc<Meter>], customers: &Arc<Vec<Customer>>) -> Duration {
    let started = Instant::now();
    let mut callers = JoinSet::new();
    for meter in meters {
        for caller in 0..CALLERS {
            let (meter, customers) = (Arc::clone(meter), Arc::clone(customers));
            callers.spawn(async move {
                for event in 0..EVENTS {
                    let customer = &customers[(caller + event) % HOT_KEYS];
                    meter
                        .record_durable(customer, Usage::ApiCalls, Quantity::new(1).unwrap())
                        .await
                        .unwrap();
                }
            });
        }
    }
    callers.join_all().await;
    started.elapsed()
}

/// The baseline: one upsert per event, `CALLERS` in flight on each of `WRITERS` connections.
async fn statement_per_event(clients: &[Arc<tokio_postgres::Client>], table: &str) -> Duration {
    let upsert = format!(
        "INSERT INTO {table} (customer, dimension, hour, quantity) VALUES ($1, 'api_calls', $2, 1) \
         ON CONFLICT (customer, dimension, hour) DO UPDATE SET quantity = {table}.quantity + 1"
    );
    let hour = Timestamp::now().hour_start().unix_seconds();
    let started = Instant::now();
    let mut callers = JoinSet::new();
    for client in clients {
        let statement = client.prepare(&upsert).await.unwrap();
        for caller in 0..CALLERS {
            let (client, statement) = (Arc::clone(client), statement.clone());
            callers.spawn(async move {
                for event in 0..EVENTS {
                    let customer = format!("{}", 100_000_000_000 + (caller + event) % HOT_KEYS);
                    client
                        .execute(&statement, &[&customer, &hour])
                        .await
                        .unwrap();
                }
            });
        }
    }
    callers.join_all().await;
    started.elapsed()
}

fn commits(c: &mut Criterion, runtime: &Runtime, url: &str) {
    let schema = Schema::new(url);
    let customers = Arc::new((0..HOT_KEYS).map(customer).collect::<Vec<_>>());
    let meters: Vec<Arc<Meter>> = runtime.block_on(async {
        (0..WRITERS)
            .map(|_| {
                Arc::new(
                    Meter::builder()
                        .config(MeterConfig::new())
                        .ledger(schema.ledger())
                        .build()
                        .unwrap(),
                )
            })
            .collect()
    });
    let table = format!("{}.usage_by_event", schema.name);
    let clients: Vec<_> = runtime.block_on(async {
        let admin = schema.client().await;
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {name}; CREATE TABLE {table} (customer text, \
                 dimension text, hour bigint, quantity bigint, \
                 PRIMARY KEY (customer, dimension, hour))",
                name = schema.name
            ))
            .await
            .unwrap();
        let mut clients = Vec::new();
        for _ in 0..WRITERS {
            clients.push(Arc::new(schema.client().await));
        }
        clients
    });

    let mut group = c.benchmark_group("fleet_commit");
    group.sample_size(10);
    group.throughput(Throughput::Elements((WRITERS * CALLERS * EVENTS) as u64));
    group.bench_function("meters_record_durable", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += meters_durable(&meters, &customers).await;
                }
                total
            })
        });
    });
    group.bench_function("baseline_statement_per_event", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += statement_per_event(&clients, &table).await;
                }
                total
            })
        });
    });
    group.finish();
    runtime.block_on(async {
        for meter in meters {
            meter.close().await.unwrap();
        }
        schema.drop_all().await;
    });
}

/// `RECORDS` records of distinct keys two hours back (so that the default grace has sealed
/// their hour), as the meter records them and as the baseline sends them.
fn records() -> Vec<UsageRecord> {
    let hour = Timestamp::now()
        .hour_start()
        .saturating_sub(Duration::from_hours(2));
    (0..RECORDS)
        .map(|i| {
            let dimension = Usage::ALL[i % Usage::ALL.len()];
            UsageRecord::new(
                customer(i / Usage::ALL.len()),
                dimension.key(),
                hour,
                Quantity::new(1 + i as u64).unwrap(),
            )
        })
        .collect()
}

fn submitter(emulator: &RunningEmulator) -> Submitter<AwsTransport> {
    Submitter::new(emulator.transport())
}

/// Ours: the records committed by a meter, then sealed, claimed, sent and settled by
/// `flushers` flushers at once; the time from the first flush to the last settlement.
async fn claim_and_send(url: &str, flushers: usize) -> Duration {
    let schema = Schema::new(url);
    let emulator = Emulator::builder()
        .quota(Some(Quota::SERVICE))
        .start()
        .await
        .unwrap();
    let meter = Meter::builder().ledger(schema.ledger()).build().unwrap();
    for record in records() {
        let dimension = Usage::from_key(record.dimension().as_str()).unwrap();
        meter
            .usage(record.customer(), dimension)
            .at(record.timestamp())
            .add(record.quantity())
            .unwrap();
    }
    meter.shutdown().await.unwrap();
    let started = Instant::now();
    let mut flushing = JoinSet::new();
    for _ in 0..flushers {
        let flusher = Flusher::new(schema.ledger(), submitter(&emulator), MeterConfig::new());
        flushing.spawn(async move { flusher.flush().await.unwrap() });
    }
    let billed: usize = flushing
        .join_all()
        .await
        .iter()
        .map(|report| report.outcomes.success)
        .sum();
    let elapsed = started.elapsed();
    assert_eq!(billed, RECORDS);
    assert_eq!(emulator.duplicates(), 0);
    schema.drop_all().await;
    elapsed
}

/// The baseline: the same records sent from memory.
async fn send_from_memory() -> Duration {
    let emulator = Emulator::builder()
        .quota(Some(Quota::SERVICE))
        .start()
        .await
        .unwrap();
    let submitter = submitter(&emulator);
    let records = records();
    let started = Instant::now();
    let report = submitter.submit(records).await;
    let elapsed = started.elapsed();
    assert_eq!(report.summary().success, RECORDS);
    elapsed
}

fn claim_and_send_against_the_quota(runtime: &Runtime, url: &str) {
    let ceiling = Quota::SERVICE.per_second * 25.0;
    let records = f64::from(u32::try_from(RECORDS).unwrap());
    let per_second = |elapsed: Duration| records / elapsed.as_secs_f64();
    let baseline = per_second(runtime.block_on(send_from_memory()));
    println!(
        "claim_and_send/baseline_from_memory: {baseline:.1} records/s ({:.3}x the ceiling of {ceiling} records/s)",
        baseline / ceiling
    );
    for flushers in [1, 2] {
        let ours = per_second(runtime.block_on(claim_and_send(url, flushers)));
        println!(
            "claim_and_send/{flushers}_flusher(s): {ours:.1} records/s ({:.3}x the ceiling, {:.3}x the baseline)",
            ours / ceiling,
            ours / baseline
        );
    }
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let Ok(url) = std::env::var("METERING_TEST_POSTGRES_URL") else {
        eprintln!(
            "set METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run the fleet benchmarks"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    commits(&mut criterion, &runtime, &url);
    criterion.final_summary();
    claim_and_send_against_the_quota(&runtime, &url);
}
