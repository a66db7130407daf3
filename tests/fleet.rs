//! A fleet on one `PostgreSQL` database (`METERING_TEST_POSTGRES_URL`): four recorder
//! processes meter overlapping customers and dimensions while two flusher processes seal and
//! send to the emulator, killed with SIGKILL at random moments and restarted, their leases
//! expiring mid-send (slow requests outlast them). At the end the emulator has billed
//! exactly what was recorded, and every record has one terminal outcome.
//!
//! Every process reads one accelerated clock: simulated time runs `SPEED` times faster than
//! the wall clock, from a wall instant the parent hands down.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use marketplace_metering::ledger::{
    Flusher, Ledger, LedgerInspection, PostgresLedger, RecordState,
};
use marketplace_metering::{
    AwsTransport, Clock, Customer, CustomerAwsAccountId, Dimension, Meter, MeterConfig,
    ProductCode, Quantity, SubmitConfig, Submitter, Tag, TagKey, TagValue, Tags, Timestamp,
};
use metering_emulator::{Emulator, Faults};

const VARIABLE: &str = "METERING_TEST_POSTGRES_URL";
/// Simulated seconds per wall second: an hour passes in 6 seconds.
const SPEED: u32 = 600;
/// Where simulated time starts.
const START: &str = "2026-11-26T10:50:00Z";
const RECORDERS: usize = 4;
const EVENTS: u64 = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    StorageGb,
    Seats,
}

/// Simulated time: `START` plus `SPEED` times the wall time since `wall_start`.
#[derive(Clone, Copy)]
struct Accelerated {
    wall_start: SystemTime,
}

impl Clock for Accelerated {
    fn now(&self) -> Timestamp {
        let elapsed = self.wall_start.elapsed().unwrap_or_default() * SPEED;
        Timestamp::parse_rfc3339(START)
            .unwrap()
            .saturating_add(elapsed)
    }
}

fn customers() -> Vec<Customer> {
    (0..6)
        .map(|i| Customer::Account {
            product: ProductCode::new("prod-fleet").unwrap(),
            account: CustomerAwsAccountId::new(format!("{:012}", 100_000 + i)).unwrap(),
        })
        .collect()
}

fn config(clock: Accelerated) -> MeterConfig {
    MeterConfig::new()
        .with_clock(clock)
        .with_commit_interval(Duration::from_millis(20))
        .with_grace(Duration::from_mins(2))
        .with_lease(Duration::from_mins(1))
        .with_flush_interval(Duration::from_millis(30))
        .with_shutdown_timeout(Duration::from_secs(10))
}

fn ledger(url: &str, schema: &str) -> PostgresLedger {
    PostgresLedger::builder(url)
        .unwrap()
        .max_connections(4)
        .schema(schema)
        .unwrap()
        .build()
        .unwrap()
}

fn flusher(
    url: &str,
    schema: &str,
    endpoint: &str,
    clock: Accelerated,
    owner: &str,
) -> Flusher<AwsTransport> {
    let transport = Emulator::transport_at(endpoint);
    let submit = SubmitConfig::default()
        .with_requests_per_second(None)
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_clock(clock);
    let submitter = Submitter::with_config(transport, submit);
    Flusher::new(ledger(url, schema), submitter, config(clock)).with_owner(owner)
}

/// The child processes' entry: does nothing unless started by the fleet test.
#[test]
fn fleet_child() {
    let Ok(role) = std::env::var("FLEET_ROLE") else {
        return;
    };
    let var = |name| std::env::var(name).unwrap();
    let wall_start = UNIX_EPOCH + Duration::from_nanos(var("FLEET_WALL_START").parse().unwrap());
    let clock = Accelerated { wall_start };
    let (url, schema) = (var(VARIABLE), var("FLEET_SCHEMA"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if role == "recorder" {
            let index: u64 = var("FLEET_INDEX").parse().unwrap();
            record(&url, &schema, clock, index).await;
        } else {
            let flusher = flusher(&url, &schema, &var("FLEET_ENDPOINT"), clock, &role);
            flusher.run(std::future::pending()).await;
        }
    });
}

/// Records this recorder's share of the stream, then prints its totals per customer and
/// dimension.
async fn record(url: &str, schema: &str, clock: Accelerated, index: u64) {
    let meter = Meter::builder()
        .config(config(clock))
        .ledger(ledger(url, schema))
        .build()
        .unwrap();
    let customers = customers();
    let team = |name: &str| {
        Tags::new(vec![Tag::new(
            TagKey::new("team").unwrap(),
            TagValue::new(name.to_owned()).unwrap(),
        )])
        .unwrap()
    };
    let tag_sets = [team("a"), team("b")];
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for step in 0..EVENTS {
        let customer = &customers[usize::try_from((index * 7 + step / 3) % 6).unwrap()];
        let dimension = Usage::ALL[usize::try_from(step % 3).unwrap()];
        // Whole units and decimals down to the millionth.
        let micros = (step * 37 + index * 11) % 5000 * 1000 + step % 7;
        let quantity = Quantity::from_micros(micros).unwrap();
        let usage = meter.usage(customer, dimension);
        match step % 4 {
            0 => usage.tag_set(&tag_sets[0]).add(quantity),
            1 => usage.tag_set(&tag_sets[1]).add(quantity),
            _ => usage.add(quantity),
        }
        .unwrap();
        *totals
            .entry(total_key(customer, dimension.as_str()))
            .or_default() += micros;
        if step % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
    }
    meter.shutdown().await.unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "FLEET_TOTALS {}",
        serde_json::to_string(&totals).unwrap()
    )
    .unwrap();
    out.flush().unwrap();
}

fn total_key(customer: &Customer, dimension: &str) -> String {
    format!("{} {dimension}", customer.account().unwrap())
}

struct Fleet {
    url: String,
    schema: String,
    wall_start: SystemTime,
    endpoint: String,
}

impl Fleet {
    fn spawn(&self, role: &str, index: usize) -> Child {
        let wall = self
            .wall_start
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fleet_child", "--nocapture", "--test-threads=1"])
            .env("FLEET_ROLE", role)
            .env("FLEET_INDEX", index.to_string())
            .env("FLEET_WALL_START", wall.to_string())
            .env("FLEET_SCHEMA", &self.schema)
            .env("FLEET_ENDPOINT", &self.endpoint)
            .env(VARIABLE, &self.url)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// The recorders' totals, added up, once they all exited.
fn generated(recorders: &mut [Child]) -> BTreeMap<String, u64> {
    let mut generated: BTreeMap<String, u64> = BTreeMap::new();
    for recorder in recorders {
        assert!(recorder.wait().unwrap().success());
        let line = BufReader::new(recorder.stdout.take().unwrap())
            .lines()
            .map(Result::unwrap)
            // The test harness prints the test's name first, on the same line.
            .find_map(|line| {
                line.split_once("FLEET_TOTALS ")
                    .map(|(_, json)| json.to_owned())
            })
            .expect("the recorder's totals");
        let totals: BTreeMap<String, u64> = serde_json::from_str(&line).unwrap();
        for (key, micros) in totals {
            *generated.entry(key).or_default() += micros;
        }
    }
    generated
}

/// The emulator's billed totals per customer and dimension.
fn billed(emulator: &metering_emulator::RunningEmulator) -> BTreeMap<String, u64> {
    let mut billed: BTreeMap<String, u64> = BTreeMap::new();
    for row in emulator.summary() {
        let total: Quantity = row.total.to_string().parse().unwrap();
        *billed
            .entry(total_key(&row.customer, row.dimension.as_str()))
            .or_default() += total.micros();
    }
    billed
}

/// Flushes until every hour is sealed and every record settled; the ledger.
async fn settle_everything(
    last: &Flusher<AwsTransport>,
    ledger: PostgresLedger,
    clock: Accelerated,
    deadline: std::time::Instant,
) -> PostgresLedger {
    let until = clock
        .now()
        .hour_start()
        .saturating_add(Duration::from_hours(1));
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the records were not all sent in time"
        );
        last.flush().await.unwrap();
        let status = ledger.status().await.unwrap();
        let unsettled = status.count(RecordState::Unsent) + status.count(RecordState::Leased);
        if clock.now() > until && status.open_keys == 0 && unsettled == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_bills_every_unit_once() {
    let Some(url) = std::env::var(VARIABLE).ok().filter(|url| !url.is_empty()) else {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL fleet test skipped: set {VARIABLE}=postgres://postgres@127.0.0.1:5432/test to run it"
        );
        return;
    };
    let schema = format!("fleet_test_{:016x}", fastrand::u64(..));
    let clock = Accelerated {
        wall_start: SystemTime::now(),
    };
    // Slow requests (300 ms: three simulated minutes) outlast the one-minute lease, so
    // another flusher claims and resends their records meanwhile.
    let faults = Faults {
        seed: fastrand::u64(..),
        slow: 0.2,
        slow_delay: Duration::from_millis(300),
        internal_error: 0.05,
        ..Faults::none()
    };
    let emulator = Emulator::builder()
        .clock(clock)
        .faults(faults)
        .start()
        .await
        .unwrap();
    PostgresLedger::builder(&url)
        .unwrap()
        .schema(&schema)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let fleet = Fleet {
        url: url.clone(),
        schema: schema.clone(),
        wall_start: clock.wall_start,
        endpoint: emulator.endpoint_url(),
    };
    let mut recorders: Vec<Child> = (0..RECORDERS).map(|i| fleet.spawn("recorder", i)).collect();
    let mut flushers: Vec<Child> = (0..2)
        .map(|i| fleet.spawn(&format!("flusher-{i}"), i))
        .collect();
    let mut kills = 0;
    let mut restarts = 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    while recorders
        .iter_mut()
        .any(|child| child.try_wait().unwrap().is_none())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the recorders did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(fastrand::u64(200..900))).await;
        let victim = fastrand::usize(..flushers.len());
        flushers[victim].kill().unwrap();
        flushers[victim].wait().unwrap();
        kills += 1;
        flushers[victim] = fleet.spawn(&format!("flusher-{restarts}"), victim);
        restarts += 1;
    }
    let generated = generated(&mut recorders);
    // Let the last hour close and its grace pass while the flushers go on, then settle what
    // is left from here, without faults.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for flusher in &mut flushers {
        flusher.kill().unwrap();
        flusher.wait().unwrap();
    }
    emulator.set_faults(Faults::none()).unwrap();
    let last = flusher(&url, &schema, &fleet.endpoint, clock, "final");
    let ledger = settle_everything(&last, ledger(&url, &schema), clock, deadline).await;
    let billed = billed(&emulator);
    assert_eq!(
        billed, generated,
        "billed totals per customer and dimension"
    );
    let records = ledger.records(None).await.unwrap();
    assert!(
        records.iter().all(|r| r.state == RecordState::Success),
        "{:?}",
        records
            .iter()
            .filter(|r| r.state != RecordState::Success)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        records.len(),
        emulator.ledger().len(),
        "one billed entry per record"
    );
    assert!(ledger.set_aside().await.unwrap().is_empty());
    assert!(kills >= 3, "flushers were killed {kills} times");
    eprintln!(
        "fleet: {} records, {kills} flusher kills, {} requests",
        records.len(),
        emulator.requests()
    );
}
