//! `metering validate` on 1,000,000 records (JSON Lines, 1 in 10 with tagged allocations),
//! in this process, against reading the same file into `serde_json::Value` with no checks,
//! in the same run. Both stream the file line by line from the page cache.
//!
//! `cargo bench -p metering-cli --bench validate`. For peak memory, run the bench binary
//! once per side under `/usr/bin/time -v` (see BENCHMARKS.md):
//! `METERING_BENCH_ONE=write:FILE` writes the file, `validate:FILE` and `value:FILE` read it
//! once.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use serde_json::{Value, json};

const RECORDS: u64 = 1_000_000;
/// The time records are judged at, and its Unix seconds.
const NOW: &str = "2026-11-26T12:00:00Z";
const NOW_SECONDS: u64 = 1_795_694_400;

/// Valid usage: 50,000 accounts, 4 dimensions, the last 20 hours; every tenth record has
/// two tagged allocations.
fn write_usage(path: &Path) {
    let mut out = BufWriter::new(File::create(path).expect("the usage file"));
    let dimensions = ["api_calls", "storage_gb", "users", "requests"];
    for i in 0..RECORDS {
        let mut entry = json!({
            "ProductCode": "prod-bench1234",
            "Timestamp": NOW_SECONDS - (i % 20) * 3600 - i % 3600,
            "CustomerAWSAccountId": format!("{:012}", 100_000_000_000 + i % 50_000),
            "Dimension": dimensions[usize::try_from(i % 4).unwrap()],
            "Quantity": i % 1000 + 1,
        });
        if i % 10 == 0 {
            entry["UsageAllocations"] = json!([
                {"AllocatedUsageQuantity": 1, "Tags": [{"Key": "team", "Value": "search"}]},
                {"AllocatedUsageQuantity": i % 1000, "Tags": [{"Key": "team", "Value": "ads"}]},
            ]);
        }
        serde_json::to_writer(&mut out, &entry).expect("written");
        out.write_all(b"\n").expect("written");
    }
    out.flush().expect("written");
}

/// `metering validate --now NOW FILE`, its report thrown away.
fn validate(path: &Path) -> ExitCode {
    let file = path.to_string_lossy();
    metering_cli::validate(["--now", NOW, &file], &mut std::io::sink()).expect("valid arguments")
}

/// Every line read into a `serde_json::Value`, nothing checked; the values counted.
fn read_values(path: &Path) -> usize {
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path).expect("the file"));
    let mut line = Vec::new();
    let mut count = 0;
    while reader.read_until(b'\n', &mut line).expect("read") > 0 {
        let value: Value = serde_json::from_slice(&line).expect("JSON");
        black_box(value);
        count += 1;
        line.clear();
    }
    count
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("usage.jsonl");
    write_usage(&path);
    assert_eq!(validate(&path), ExitCode::SUCCESS, "every record is valid");
    assert_eq!(read_values(&path), usize::try_from(RECORDS).unwrap());
    let mut group = c.benchmark_group("validate_1m_records");
    group
        .throughput(Throughput::Elements(RECORDS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("metering_validate", |b| b.iter(|| validate(&path)));
    group.bench_function("serde_json_value", |b| b.iter(|| read_values(&path)));
    group.finish();
}

fn main() {
    if let Ok(one) = std::env::var("METERING_BENCH_ONE") {
        let (what, file) = one.split_once(':').expect("WHAT:FILE");
        let path = Path::new(file);
        match what {
            "write" => write_usage(path),
            "validate" => assert_eq!(validate(path), ExitCode::SUCCESS),
            "value" => assert_eq!(read_values(path), usize::try_from(RECORDS).unwrap()),
            other => panic!("{other}: write, validate or value"),
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
