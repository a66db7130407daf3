//! The flush rate against the service's ceiling (10 requests a second × 25 records = 250
//! records a second; the emulator enforces `Quota::SERVICE`), on a `SQLite` ledger file.
//!
//! 2,500 records of distinct keys, committed and sealed into a new ledger (100 claims),
//! then claimed, sent through the default `Submitter` (the real SDK client) and settled:
//!
//! - **after**: `Flusher::flush`, which sends each claim as claimed
//!   (`Submitter::send_keyed`: an outcome per record id);
//! - **before**: the flush loop as it was until issue 19, written here with the public API:
//!   each claim's records planned again and time-checked by `Submitter::submit`, and each
//!   outcome matched back to its record id by its key.
//!
//! The two alternate, each on a new ledger and a new emulator, so that both see the same
//! machine; the rate is 2,500 over the time from the seal to the last settlement.
//!
//! `cargo bench --bench flush --features "sqlite aws"`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use marketplace_metering::ledger::{
    Checkpoint, Delta, Flusher, InstanceId, Ledger, RecordId, Settlement, SqliteLedger, Usage,
    UsageKey,
};
use marketplace_metering::plan::RecordKey;
use marketplace_metering::{
    AwsTransport, Customer, CustomerAwsAccountId, DimensionKey, Hour, MeterConfig, Outcome,
    ProductCode, Quantity, Submitter, Timestamp,
};
use metering_emulator::{Emulator, Quota, RunningEmulator};
use tokio::runtime::Runtime;

const RECORDS: usize = 2_500;
const ROUNDS: usize = 5;

/// A new ledger file in `dir` holding `RECORDS` sealed records of two hours ago.
async fn sealed_ledger(dir: &tempfile::TempDir, name: &str) -> SqliteLedger {
    let ledger = SqliteLedger::create(dir.path().join(name)).unwrap();
    let hour = Hour::of(Timestamp::now().saturating_sub(Duration::from_hours(2)));
    let deltas = (0..RECORDS)
        .map(|i| {
            let customer = Customer::Account {
                product: ProductCode::new("prod-bench").unwrap(),
                account: CustomerAwsAccountId::new(format!("{}", 100_000_000_000 + i / 25))
                    .unwrap(),
            };
            let dimension = DimensionKey::new(format!("dimension_{}", i % 25)).unwrap();
            Delta {
                key: Arc::new(UsageKey::new(customer, dimension, None)),
                hour,
                usage: Usage::Sum(Quantity::new(1 + i as u64).unwrap()),
            }
        })
        .collect();
    let checkpoint = Checkpoint {
        instance: InstanceId::random(),
        number: 1,
        deltas,
    };
    let now = Timestamp::now();
    ledger.commit(&checkpoint, now).await.unwrap();
    ledger
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .quota(Some(Quota::SERVICE))
        .start()
        .await
        .unwrap()
}

/// After: the `Flusher`. Returns the records billed and the time taken.
async fn after(ledger: SqliteLedger, emulator: &RunningEmulator) -> (usize, Duration) {
    let flusher = Flusher::new(
        ledger,
        Submitter::new(emulator.transport()),
        MeterConfig::new(),
    );
    let started = Instant::now();
    let report = flusher.flush().await.unwrap();
    (report.outcomes.success, started.elapsed())
}

/// Before: the flush loop until issue 19 (less its check of each record's deadline against
/// the lease, which costs the same in both).
async fn before(ledger: SqliteLedger, emulator: &RunningEmulator) -> (usize, Duration) {
    let submitter: Submitter<AwsTransport> = Submitter::new(emulator.transport());
    let config = MeterConfig::new();
    let started = Instant::now();
    let now = Timestamp::now();
    ledger.seal(config.seal_until(now), now).await.unwrap();
    let mut billed = 0;
    while let Some(claim) = ledger
        .claim("before", Timestamp::now(), config.lease())
        .await
        .unwrap()
    {
        let mut ids: HashMap<RecordKey, RecordId> = HashMap::new();
        let records: Vec<_> = claim
            .records
            .iter()
            .map(|claimed| {
                ids.insert(claimed.record.key(), claimed.id);
                claimed.record.clone()
            })
            .collect();
        let report = submitter.submit(records).await;
        let settlements: Vec<(RecordId, Settlement)> = report
            .outcomes
            .into_iter()
            .filter_map(|entry| {
                let id = ids.remove(&entry.record.key())?;
                Some((
                    id,
                    match entry.outcome {
                        Outcome::Success { metering_record_id } => {
                            billed += 1;
                            Settlement::Success { metering_record_id }
                        }
                        other => panic!("not billed: {other}"),
                    },
                ))
            })
            .collect();
        ledger
            .settle(&claim, &settlements, Timestamp::now())
            .await
            .unwrap();
    }
    (billed, started.elapsed())
}

fn main() {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ceiling = Quota::SERVICE.per_second * 25.0;
    let rate = |(billed, elapsed): (usize, Duration)| {
        assert_eq!(billed, RECORDS, "every record billed");
        f64::from(u32::try_from(RECORDS).unwrap()) / elapsed.as_secs_f64()
    };
    println!("flush of {RECORDS} records against the service's ceiling ({ceiling} records/s)");
    let (mut befores, mut afters) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Which goes first alternates: the account's rate limit is shared in the process.
        for first in [round % 2 == 0, round % 2 == 1] {
            let name = format!("round-{round}-{first}.sqlite");
            runtime.block_on(async {
                let ledger = sealed_ledger(&dir, &name).await;
                let emulator = emulator().await;
                if first {
                    afters.push(rate(after(ledger, &emulator).await));
                } else {
                    befores.push(rate(before(ledger, &emulator).await));
                }
            });
        }
        let (b, a) = (befores[round], afters[round]);
        println!(
            "round {}: before {b:.1} records/s ({:.3}x of the ceiling), after {a:.1} records/s ({:.3}x), after/before {:.3}",
            round + 1,
            b / ceiling,
            a / ceiling,
            a / b
        );
    }
    let median = |mut rates: Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (b, a) = (median(befores), median(afters));
    println!(
        "median: before {b:.1} records/s ({:.3}x of the ceiling), after {a:.1} records/s ({:.3}x), after/before {:.3}",
        b / ceiling,
        a / ceiling,
        a / b
    );
}
