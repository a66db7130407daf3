//! Compile cost of the derives, against strum's `AsRefStr` + `EnumString` on the same enum.
//!
//! Run with `cargo bench --bench compile_cost` (it skips itself under `cargo test`). It
//! writes two crates into a temporary workspace: `ours`, a 200-variant
//! `#[derive(Dimension)]` enum and five `#[derive(UsageTags)]` structs (with two
//! `#[derive(ToTagValue)]` enums); `baseline`, the same enum with strum's derives and the
//! same structs without derives. Dependencies are built first; then each crate is rebuilt
//! `RUNS` times (debug profile, its `lib.rs` rewritten each time, the two interleaved).
//! From each figure the same figure of a no-op `cargo build` is subtracted, so the ratios
//! are of the crates' own compile time. Wall time is reported as median and minimum (the
//! minimum is the least disturbed by other work on the machine), and CPU time (user +
//! system of cargo and rustc, from `/proc/self/stat`, Linux only) as median.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VARIANTS: usize = 200;
const RUNS: usize = 11;

/// Wall and CPU time of one build.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("compile_cost: skipped (run it with `cargo bench --bench compile_cost`)");
        return;
    }
    let dir = std::env::temp_dir().join("metering-compile-cost");
    write_workspace(&dir);
    println!("compile_cost: warming dependencies in {}", dir.display());
    for package in ["ours", "baseline"] {
        build(&dir, package);
    }

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut noop = Vec::new();
    for run in 0..RUNS {
        ours.push(timed_rebuild(&dir, "ours", &ours_source(run)));
        baseline.push(timed_rebuild(&dir, "baseline", &baseline_source(run)));
        noop.push(timed(|| build(&dir, "baseline")));
    }
    println!(
        "compile_cost: {VARIANTS}-variant enum + 5 tag structs, debug build, {RUNS} runs each\n\
         {:<42} {:>12} {:>12} {:>12}",
        "", "wall median", "wall min", "CPU median"
    );
    let figures = [
        ("ours (Dimension + UsageTags + ToTagValue)", figures(&ours)),
        ("baseline (strum AsRefStr + EnumString)", figures(&baseline)),
        ("no-op cargo build", figures(&noop)),
    ];
    for (name, [median, min, cpu]) in figures {
        println!(
            "{name:<42} {:>9.0} ms {:>9.0} ms {:>9.0} ms",
            ms(median),
            ms(min),
            ms(cpu)
        );
    }
    let [(_, ours), (_, baseline), (_, noop)] = figures;
    let ratio = |i: usize| {
        let own = |total: Duration| total.saturating_sub(noop[i]).as_secs_f64();
        own(ours[i]) / own(baseline[i])
    };
    println!(
        "ratio, own time (minus no-op): wall median {:.2}x, wall min {:.2}x, CPU median {:.2}x",
        ratio(0),
        ratio(1),
        ratio(2)
    );
}

/// Median wall, minimum wall, median CPU.
fn figures(samples: &[Sample]) -> [Duration; 3] {
    let mut wall: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let mut cpu: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
    wall.sort();
    cpu.sort();
    [wall[wall.len() / 2], wall[0], cpu[cpu.len() / 2]]
}

/// CPU time used so far by this process's waited-for children (cargo, and the rustc
/// processes cargo waited for): `cutime` + `cstime` of `/proc/self/stat`, in clock ticks
/// of 1/100 s (Linux's `USER_HZ`).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn timed(f: impl FnOnce()) -> Sample {
    let cpu = children_cpu();
    let start = Instant::now();
    f();
    Sample {
        wall: start.elapsed(),
        cpu: children_cpu().saturating_sub(cpu),
    }
}

fn timed_rebuild(dir: &Path, package: &str, source: &str) -> Sample {
    std::fs::write(dir.join(package).join("src/lib.rs"), source).expect("write lib.rs");
    timed(|| build(dir, package))
}

fn build(dir: &Path, package: &str) {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "-p", package])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {package} failed");
}

fn write_workspace(dir: &Path) {
    let metering = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = [
        (
            "Cargo.toml".to_owned(),
            "[workspace]\nmembers = [\"ours\", \"baseline\"]\nresolver = \"3\"\n\n\
             [profile.dev]\ndebug = \"line-tables-only\"\n"
                .to_owned(),
        ),
        (
            "ours/Cargo.toml".to_owned(),
            format!(
                "[package]\nname = \"ours\"\nedition = \"2024\"\n\n[dependencies]\n\
                 marketplace-metering = {{ path = {:?} }}\n",
                metering.display().to_string()
            ),
        ),
        (
            "baseline/Cargo.toml".to_owned(),
            "[package]\nname = \"baseline\"\nedition = \"2024\"\n\n[dependencies]\n\
             strum = { version = \"0.28\", features = [\"derive\"] }\n"
                .to_owned(),
        ),
        ("ours/src/lib.rs".to_owned(), ours_source(usize::MAX)),
        (
            "baseline/src/lib.rs".to_owned(),
            baseline_source(usize::MAX),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
        std::fs::write(path, text).expect("write file");
    }
}

/// The enum's variants: `Metric000Units` ... (keys `metric000_units` ...).
fn variants() -> String {
    (0..VARIANTS).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "    Metric{i:03}Units,");
        out
    })
}

/// Five tag structs of 1..=5 fields; `derive` is put on each, `value_derive` on the enums.
fn tag_structs(derive: &str, value_derive: &str) -> String {
    let mut out = format!(
        "{value_derive}\npub enum Env {{ Prod, Staging, Dev }}\n\
         {value_derive}\npub enum Tier {{ Free, Pro, Enterprise }}\n"
    );
    for n in 1..=5 {
        let _ = write!(out, "{derive}\npub struct Tags{n} {{\n");
        for field in 0..n {
            let ty = match field % 3 {
                0 => "String",
                1 => "Env",
                _ => "Tier",
            };
            let _ = writeln!(out, "    pub field_{field}: {ty},");
        }
        out.push_str("}\n");
    }
    out
}

fn ours_source(run: usize) -> String {
    format!(
        "//! run {run}\n#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]\n\
         #[metering(rename_all = \"snake_case\")]\npub enum Usage {{\n{}}}\n{}",
        variants(),
        tag_structs(
            "#[derive(marketplace_metering::UsageTags)]",
            "#[derive(marketplace_metering::ToTagValue)]"
        ),
    )
}

fn baseline_source(run: usize) -> String {
    format!(
        "//! run {run}\n#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, strum::AsRefStr, \
         strum::EnumString)]\n#[strum(serialize_all = \"snake_case\")]\npub enum Usage {{\n{}}}\n{}",
        variants(),
        tag_structs("", ""),
    )
}
