//! Operating the example SaaS, over real HTTP on loopback: its `/metrics` shows the
//! documented series moving as usage is recorded, committed, sealed and sent, and then as
//! the service fails and a record comes within an hour of its deadline, when `/healthz`
//! turns 503.
#![allow(
    clippy::float_cmp,
    reason = "the series compared are whole counts and seconds, exact in an f64"
)]

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/saas.rs"]
mod saas;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use marketplace_metering::metrics as names;
use marketplace_metering::{Clock, ManualClock, Timestamp};
use metering_emulator::{Faults, Registration as Token, RunningEmulator};
use saas::{EXPORT, PRODUCT, Saas, client, marketplace};

const ALICE: &str = "111111111111";
const ALICE_LICENSE: &str = "arn:aws:license-manager::111111111111:license:l-0123456789abcdef";

/// One scrape of `/metrics`: each sample's value by its series as rendered
/// (`name{label="value"}`), and each family's type and help.
struct Scrape {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
    helps: BTreeMap<String, String>,
}

impl Scrape {
    async fn of(saas: &Saas) -> Self {
        let (status, text) = client::probe(saas.addr, "/metrics").await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        let mut helps = BTreeMap::new();
        for line in text.lines().filter(|line| !line.is_empty()) {
            if let Some(declared) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declared.split_once(' ').unwrap();
                types.insert(name.to_owned(), kind.to_owned());
            } else if let Some(help) = line.strip_prefix("# HELP ") {
                let (name, help) = help.split_once(' ').unwrap();
                helps.insert(name.to_owned(), help.to_owned());
            } else if !line.starts_with('#') {
                let (series, value) = line.rsplit_once(' ').unwrap();
                samples.insert(series.to_owned(), value.parse().unwrap());
            }
        }
        Self {
            samples,
            types,
            helps,
        }
    }

    /// The value of `series`, 0 when it is not (yet) exported.
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// How much `series` moved since `before`.
    fn moved(&self, before: &Self, series: &str) -> f64 {
        self.get(series) - before.get(series)
    }
}

/// `name{label="value"}`, as the exporter renders a series.
fn series(name: &str, label: &str, value: &str) -> String {
    format!("{name}{{{label}=\"{value}\"}}")
}

/// `name` with the suffix of a histogram's part: `_count`, `_sum`.
fn part(name: &str, suffix: &str) -> String {
    format!("{name}{suffix}")
}

/// A whole-second time, as the exporter renders a timestamp gauge.
fn unix_seconds(at: Timestamp) -> f64 {
    f64::from(u32::try_from(at.unix_seconds()).unwrap())
}

/// The example running on a manual clock at 10:05, AWS stood in for by the emulator, one
/// buyer registered.
struct Shop {
    clock: ManualClock,
    aws: RunningEmulator,
    saas: Saas,
    key: String,
}

impl Shop {
    async fn open() -> Self {
        let clock = ManualClock::new(at("2026-05-12T10:05:00Z"));
        let aws = marketplace(
            clock.clone(),
            [Token::licensed("tok-alice", ALICE, PRODUCT, ALICE_LICENSE)],
        )
        .await
        .unwrap();
        let saas = Saas::start(clock.clone(), aws.endpoint_url())
            .await
            .unwrap();
        let (status, key) = client::register(saas.addr, "tok-alice").await.unwrap();
        assert_eq!(status, StatusCode::OK, "{key}");
        Self {
            clock,
            aws,
            saas,
            key,
        }
    }

    /// One search, answered 200.
    async fn search(&self) {
        let answer = client::get(self.saas.addr, "/api/search?q=meter", &self.key)
            .await
            .unwrap();
        assert_eq!(answer.0, StatusCode::OK, "{answer:?}");
    }

    /// The hour closes with its grace (11:20): a flush seals and sends it.
    async fn close_the_hour_and_flush(&self) {
        self.clock.advance(Duration::from_mins(75));
        self.saas.meter().flush().await.unwrap();
    }

    /// The service fails every request from now on: a search at 11:20 is sealed and sent
    /// in vain the next day at 10:30, 30 minutes before its deadline (11:00).
    async fn fail_until_near_the_deadline(&self) {
        self.search().await;
        self.saas.meter().commit().await.unwrap();
        let failing = Faults {
            internal_error: 1.0,
            ..Faults::none()
        };
        self.aws.set_faults(failing).unwrap();
        self.clock.set(at("2026-05-13T10:30:00Z"));
        self.saas.meter().flush().await.unwrap();
    }

    async fn health(&self) -> (StatusCode, String) {
        client::probe(self.saas.addr, "/healthz").await.unwrap()
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_series_move_as_usage_is_recorded_sealed_and_sent() {
    let _alone = ALONE.lock().await;
    let shop = Shop::open().await;
    let (clock, saas) = (&shop.clock, &shop.saas);

    // Recorded and committed: the usage, per dimension, and the commit.
    let start = Scrape::of(saas).await;
    for _ in 0..3 {
        shop.search().await;
    }
    let export = client::get(saas.addr, "/api/export", &shop.key)
        .await
        .unwrap();
    assert_eq!(export.0, StatusCode::OK, "{export:?}");
    saas.meter().commit().await.unwrap();
    let committed = Scrape::of(saas).await;
    let recorded = |dimension| series(names::USAGE_RECORDED, names::DIMENSION, dimension);
    assert_eq!(committed.moved(&start, &recorded("api_calls")), 3.0);
    assert_eq!(
        committed.moved(&start, &recorded("exported_bytes")),
        f64::from(u32::try_from(EXPORT.len()).unwrap())
    );
    let ok_commits = series(names::COMMITS, names::OUTCOME, "ok");
    assert!(committed.moved(&start, &ok_commits) >= 1.0);
    let commit_count = part(names::COMMIT_DURATION, "_count");
    assert!(committed.moved(&start, &commit_count) >= 1.0);
    assert_eq!(committed.get(names::LAST_COMMIT), unix_seconds(clock.now()));
    assert_eq!(committed.get(names::BACKLOG), 0.0);

    // Sealed, sent and settled once the hour has closed with its grace: two records
    // (searches, exported bytes), one request.
    shop.close_the_hour_and_flush().await;
    let sent = Scrape::of(saas).await;
    for (name, moved) in [
        (names::RECORDS_SEALED.to_owned(), 2.0),
        (names::RECORDS_SENT.to_owned(), 2.0),
        (
            series(names::RECORDS_SETTLED, names::OUTCOME, "success"),
            2.0,
        ),
        (series(names::REQUESTS, names::OUTCOME, "ok"), 1.0),
        (part(names::REQUEST_DURATION, "_count"), 1.0),
    ] {
        assert_eq!(sent.moved(&committed, &name), moved, "{name}");
    }
    // The meter's own flushes (every 10 s) run too.
    let ok_flushes = series(names::FLUSHES, names::OUTCOME, "ok");
    assert!(sent.moved(&committed, &ok_flushes) >= 1.0);
    assert_eq!(sent.get(names::LAST_FLUSH), unix_seconds(clock.now()));
    assert_eq!(
        sent.get(&series(names::RECORDS, names::STATE, "unsent")),
        0.0
    );
    assert_eq!(sent.get(names::DEADLINE_REMAINING), 86_400.0);
    let (status, body) = shop.health().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("healthy\n"), "{body}");

    // The service fails every request: 11:20's search is sealed and sent in vain, and
    // kept to send again; the next day it is within the error margin of its deadline, and
    // so is the service.
    shop.fail_until_near_the_deadline().await;
    let failing = Scrape::of(saas).await;
    let near = |level| series(names::RECORDS_NEAR_DEADLINE, names::LEVEL, level);
    assert!(failing.moved(&sent, &series(names::REQUESTS, names::OUTCOME, "failed")) >= 1.0);
    assert_eq!(
        failing.moved(
            &sent,
            &series(names::RECORDS_SETTLED, names::OUTCOME, "pending")
        ),
        1.0
    );
    assert_eq!(failing.get(&near("error")), 1.0);
    assert_eq!(failing.get(&near("warning")), 0.0);
    assert_eq!(failing.get(names::DEADLINE_REMAINING), 30.0 * 60.0);
    assert_eq!(
        failing.get(names::OLDEST_UNSENT_HOUR_AGE),
        (23.0 * 60.0 + 30.0) * 60.0
    );
    assert_eq!(
        failing.get(&series(names::RECORDS, names::STATE, "unsent")),
        1.0
    );
    let (status, body) = shop.health().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("unhealthy\n"), "{body}");
    assert!(
        body.contains(
            "problem: 1 records of hour 2026-05-12T11:00:00Z are unsent with 0h 30m 0s left"
        ),
        "{body}"
    );

    // Every family exported is in the README's table, with the type and the meaning it
    // documents (`metrics::describe`).
    let documented = documented();
    assert!(failing.types.len() >= 15, "{:?}", failing.types);
    for (name, kind) in &failing.types {
        let (documented_kind, meaning) = &documented[name.as_str()];
        assert_eq!(kind, documented_kind, "{name}");
        assert_eq!(failing.helps.get(name), Some(meaning), "{name}");
    }
    shop.saas.shutdown().await.unwrap();
}

/// The README's metrics table: each name, its type and its meaning (as plain text).
fn documented() -> BTreeMap<&'static str, (String, String)> {
    include_str!("../../README.md")
        .lines()
        .filter(|line| line.starts_with("| `metering_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            (name, (cells[2].to_owned(), cells[5].replace('`', "")))
        })
        .collect()
}

/// One test at a time: the process has one metrics recorder, and each test reads its
/// gauges.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A Prometheus server on 127.0.0.1 (the binary `METERING_PROMETHEUS` names), scraping
/// `target` every second with `ops/prometheus-rules.yml` loaded; stopped when dropped.
struct Prometheus {
    addr: std::net::SocketAddr,
    process: std::process::Child,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: std::net::SocketAddr) -> Self {
        let binary = std::env::var("METERING_PROMETHEUS").expect(
            "METERING_PROMETHEUS names the prometheus binary: run scripts/prometheus-check",
        );
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/prometheus-rules.yml");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: saas\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        // A free port: Prometheus does not say which one it took for port 0.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let process = std::process::Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { addr, process, dir }
    }

    /// `GET path` of Prometheus's HTTP API: its `data`; none while it starts (not listening
    /// yet, then 503 until its storage is ready).
    async fn api(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = client::probe(self.addr, path).await.ok()?;
        if status != StatusCode::OK {
            return None;
        }
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        Some(answer["data"].clone())
    }

    /// The alerts firing, by name.
    async fn firing(&self) -> Option<Vec<String>> {
        let alerts = self.api("/api/v1/alerts").await?;
        let mut firing: Vec<String> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|alert| alert["state"] == "firing")
            .map(|alert| alert["labels"]["alertname"].as_str().unwrap().to_owned())
            .collect();
        firing.sort();
        Some(firing)
    }

    /// Waits up to 30 seconds for `done` to hold of what `read` returns, and returns it.
    async fn wait<T: std::fmt::Debug, F: Future<Output = T>>(
        &self,
        what: &str,
        read: impl Fn() -> F,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let mut last = None;
        for _ in 0..120 {
            let value = read().await;
            if done(&value) {
                return value;
            }
            last = Some(value);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("prometheus.log"));
        panic!("{what}: still {last:?} after 30 s; Prometheus said: {log:?}");
    }

    /// Waits for the alerts firing to be `alerts`, and only those.
    async fn wait_firing(&self, alerts: &[&str]) {
        let what = format!("{alerts:?} firing");
        let firing =
            |firing: &Option<Vec<String>>| firing.as_ref().is_some_and(|firing| firing == alerts);
        self.wait(&what, || self.firing(), firing).await;
    }

    /// The value of the instant query `query` (one series), once Prometheus has it.
    async fn value(&self, query: &str) -> Option<f64> {
        // Percent-encoded: a selector's braces and quotes are not allowed in a URI.
        let encoded: String = query
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => char::from(byte).to_string(),
                _ => format!("%{byte:02X}"),
            })
            .collect();
        let data = self.api(&format!("/api/v1/query?query={encoded}")).await?;
        data["result"].get(0)?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The shipped rules in a real Prometheus scraping the example: no alert while usage is
/// sent; with the service failing, `MeteringDeadlineImminent` fires when a record is
/// within an hour of its deadline; past it, the record is quarantined, and
/// `MeteringRecordsQuarantined` fires instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Prometheus: scripts/prometheus-check runs it"]
async fn the_shipped_alert_rules_fire_in_prometheus_scraping_the_example() {
    let _alone = ALONE.lock().await;
    let shop = Shop::open().await;

    // All is well: 10:00's usage is sent, and Prometheus has seen it.
    shop.search().await;
    shop.saas.meter().commit().await.unwrap();
    shop.close_the_hour_and_flush().await;
    let prometheus = Prometheus::start(shop.saas.addr);
    // (A gauge: the counters also count what another test in this process did.)
    let nothing_to_send = names::DEADLINE_REMAINING;
    prometheus
        .wait(
            "the scrape",
            || prometheus.value(nothing_to_send),
            |left| *left == Some(86_400.0),
        )
        .await;
    // Two evaluations of the rules on what was scraped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(prometheus.firing().await, Some(Vec::new()));

    // The service fails: 11:20's search is still unsent with 30 minutes left.
    shop.fail_until_near_the_deadline().await;
    prometheus.wait_firing(&["MeteringDeadlineImminent"]).await;

    // Past its deadline, the record is kept back for a person.
    shop.clock.set(at("2026-05-13T11:30:00Z"));
    shop.saas.meter().flush().await.unwrap();
    prometheus
        .wait_firing(&["MeteringRecordsQuarantined"])
        .await;
    drop(prometheus);
    shop.saas.shutdown().await.unwrap();
}
