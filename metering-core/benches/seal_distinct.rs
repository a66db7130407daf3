//! Sealing an hour of 1,000,000 distinct identifiers recorded by 4 instances on PostgreSQL
//! (`METERING_TEST_POSTGRES_URL`), beside its baseline in the same run.
//!
//! - **Ours.** 4 simulated instances commit `Usage::Distinct` deltas of one key and hour
//!   straight through the `Ledger` API, in checkpoints of 10,000 identifiers each; their
//!   sets overlap (each instance marks 375,000 identifiers, half of them shared with the
//!   next instance's), so 1,500,000 marks hold 1,000,000 distinct identifiers. Then one
//!   `Ledger::seal` of the hour is timed: it counts the identifiers into the key's usage,
//!   deletes them and writes the record. The record's quantity is checked to be exactly
//!   1,000,000.
//! - **Baseline.** The least any seal must do, in bare SQL on one connection: the same
//!   1,000,000 identifiers in a table keyed as the ledger's (`key_id, hour, high, low`),
//!   counted per key and hour into a table and deleted, in one transaction.
//!
//! A seal of 1,000,000 rows takes seconds, so this is a custom harness: 3 rounds of each,
//! interleaved, the commits untimed (their time is printed apart).
//!
//! `METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p metering-core --bench seal_distinct --features postgres`

use std::sync::Arc;
use std::time::{Duration, Instant};

use metering_core::kind::Identifier;
use metering_core::ledger::{
    Checkpoint, Delta, InstanceId, Ledger, LedgerInspection, PostgresLedger, Usage, UsageKey,
};
use metering_core::{Customer, CustomerAwsAccountId, DimensionKey, Hour, ProductCode, Timestamp};

const DISTINCT: u64 = 1_000_000;
const INSTANCES: u64 = 4;
/// Identifiers each instance marks: its quarter, and half of the next instance's.
const PER_INSTANCE: u64 = DISTINCT / INSTANCES * 3 / 2;
const PER_CHECKPOINT: usize = 10_000;
const ROUNDS: usize = 3;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid instant")
}

/// The identifiers instance `instance` marks: from the start of its quarter on, wrapping
/// around, so that every identifier is marked by one or two instances.
fn marks(instance: u64) -> impl Iterator<Item = u64> {
    let start = instance * DISTINCT / INSTANCES;
    (start..start + PER_INSTANCE).map(|id| id % DISTINCT)
}

/// A string identifier hashed, as a seller's user names are: 128 bits spread over both
/// columns.
fn identifier(id: u64) -> Identifier {
    Identifier::from(format!("user-{id}").as_str())
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers at METERING_TEST_POSTGRES_URL");
    tokio::spawn(connection);
    client
}

/// A fresh, empty schema `name`.
async fn schema(url: &str, name: &str) {
    connect(url)
        .await
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .await
        .expect("a schema is made");
}

async fn drop_schema(url: &str, name: &str) {
    connect(url)
        .await
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .expect("the schema is dropped");
}

/// Commits the 4 instances' marks of `key` in `hour`; returns how long the commits took.
async fn commit_marks(ledger: &PostgresLedger, key: &Arc<UsageKey>, hour: Hour) -> Duration {
    let now = at("2026-11-26T10:59:00Z");
    let started = Instant::now();
    for instance in 0..INSTANCES {
        let id = InstanceId::random();
        let all: Vec<Identifier> = marks(instance).map(identifier).collect();
        for (number, chunk) in (1..).zip(all.chunks(PER_CHECKPOINT)) {
            let checkpoint = Checkpoint {
                instance: id,
                number,
                deltas: vec![Delta {
                    key: Arc::clone(key),
                    hour,
                    usage: Usage::Distinct(chunk.to_vec()),
                }],
            };
            ledger
                .commit(&checkpoint, now)
                .await
                .expect("the commit succeeds");
        }
    }
    started.elapsed()
}

/// One round of ours: a fresh schema, the commits, then the timed seal, checked.
async fn ours(url: &str, round: usize) -> (Duration, Duration) {
    let name = format!("bench_seal_distinct_{}_{round}", std::process::id());
    schema(url, &name).await;
    let ledger = PostgresLedger::builder(url)
        .expect("a valid URL")
        .schema(&name)
        .expect("a valid schema name")
        .connect()
        .await
        .expect("the ledger opens");
    let customer = Customer::Account {
        product: ProductCode::new("prod-bench").expect("valid"),
        account: CustomerAwsAccountId::new("111111111111").expect("valid"),
    };
    let key = Arc::new(UsageKey::new(
        customer,
        DimensionKey::new("active_users").expect("valid"),
        None,
    ));
    let hour = Hour::of(at("2026-11-26T10:00:00Z"));
    let committing = commit_marks(&ledger, &key, hour).await;
    let started = Instant::now();
    let report = ledger
        .seal(at("2026-11-26T11:00:00Z"), at("2026-11-26T11:00:00Z"))
        .await
        .expect("the seal succeeds");
    let sealing = started.elapsed();
    assert_eq!(report.sealed, 1, "{report:?}");
    let records = ledger.records(None).await.expect("records are read");
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].record.quantity().to_string(),
        DISTINCT.to_string(),
        "exactly the distinct count"
    );
    drop(ledger);
    drop_schema(url, &name).await;
    (committing, sealing)
}

/// One round of the baseline: the same identifiers in a table keyed as the ledger's,
/// counted and deleted in one transaction (the fill untimed).
async fn baseline(url: &str, round: usize) -> Duration {
    let name = format!("bench_seal_baseline_{}_{round}", std::process::id());
    schema(url, &name).await;
    let mut client = connect(url).await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {name}.ids (key_id BIGINT NOT NULL, hour BIGINT NOT NULL, \
             high BIGINT NOT NULL, low BIGINT NOT NULL, PRIMARY KEY (key_id, hour, high, low)); \
             CREATE TABLE {name}.counts (key_id BIGINT NOT NULL, hour BIGINT NOT NULL, \
             count BIGINT NOT NULL, PRIMARY KEY (key_id, hour))"
        ))
        .await
        .expect("the tables are made");
    let insert = client
        .prepare(&format!(
            "INSERT INTO {name}.ids SELECT 1, 0, * FROM unnest($1::bigint[], $2::bigint[]) \
             ON CONFLICT DO NOTHING"
        ))
        .await
        .expect("the insert is prepared");
    for instance in 0..INSTANCES {
        let all: Vec<u64> = marks(instance).collect();
        for chunk in all.chunks(PER_CHECKPOINT) {
            let (high, low): (Vec<i64>, Vec<i64>) = chunk
                .iter()
                .map(|&id| {
                    let bytes = identifier(id).as_u128().to_be_bytes();
                    let (high, low) = bytes.split_at(8);
                    let half = |bytes: &[u8]| i64::from_be_bytes(bytes.try_into().expect("8"));
                    (half(high), half(low))
                })
                .unzip();
            client
                .execute(&insert, &[&high, &low])
                .await
                .expect("the identifiers are stored");
        }
    }
    let started = Instant::now();
    let tx = client.transaction().await.expect("a transaction");
    tx.execute(
        &format!(
            "INSERT INTO {name}.counts SELECT key_id, hour, COUNT(*) FROM {name}.ids \
             GROUP BY key_id, hour"
        ),
        &[],
    )
    .await
    .expect("counted");
    tx.execute(&format!("DELETE FROM {name}.ids"), &[])
        .await
        .expect("deleted");
    tx.commit().await.expect("committed");
    let elapsed = started.elapsed();
    let count: i64 = client
        .query_one(&format!("SELECT count FROM {name}.counts"), &[])
        .await
        .expect("one count")
        .get(0);
    assert_eq!(count.unsigned_abs(), DISTINCT);
    drop_schema(url, &name).await;
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let Some(url) = std::env::var("METERING_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!(
            "skipped: set METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
        );
        return;
    };
    // `cargo test --benches` runs this once with `--bench` absent: a quick pass is not
    // possible at this size, so it only says so.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("seal_distinct: run with `cargo bench` to measure");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut seals, mut commits, mut baselines) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (commit, seal) = runtime.block_on(ours(&url, round));
        let bare = runtime.block_on(baseline(&url, round));
        println!(
            "round {round}: seal {seal:.2?} (commits {commit:.2?}), baseline count and delete {bare:.2?}"
        );
        seals.push(seal);
        commits.push(commit);
        baselines.push(bare);
    }
    let (seal, bare) = (median(seals), median(baselines));
    println!(
        "seal of {DISTINCT} distinct identifiers from {INSTANCES} instances \
         ({} marks): median {seal:.2?} (commits {:.2?}); baseline {bare:.2?}; ratio {:.2}x",
        PER_INSTANCE * INSTANCES,
        median(commits),
        seal.as_secs_f64() / bare.as_secs_f64()
    );
}
