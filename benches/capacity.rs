//! A fleet's capacity: how the database's work grows with instances (issue 22).
//!
//! `METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench capacity --features postgres,derive`
//!
//! For 1, 4, 16 and 64 instances, each its own `Meter` and connection pool, in a database of
//! its own (created, then dropped), every instance records into the same keys (`POINTS`) all
//! along (a load balancer spreads each customer over every instance: the worst case for
//! row locks) and commits every second, the default. What the server did is read from
//! `pg_stat_database` (transactions, rows, time active) and each backend's
//! `/proc/PID/schedstat` (CPU); commits and their latency from the meters' own metrics.
//!
//! The server's counters are exact only once a backend has exited (a live one reports
//! them a second or more late), so each measure is of whole lifetimes: instances started,
//! committing, closed, their connections gone. The steady state is a run of `WINDOW` less
//! a run of start-up alone (each instance connects, commits once, closes), both after a
//! first start-up that created the schema and the keys.
//!
//! Then, once, what sending costs the database: a seal of `SEALED` records, a flush that
//! claims and settles them all, and a flush that finds nothing, each on its own ledger
//! (the transport bills every record at once: the service is not what is measured here),
//! the tables analyzed after the seal, as autovacuum keeps a ledger in service.

use std::ops::Sub;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use marketplace_metering::ledger::{Flusher, Ledger, PostgresLedger};
use marketplace_metering::plan::PlannedRequest;
use marketplace_metering::submit::{RecordStatus, Response, Transport};
use marketplace_metering::{
    Clock, Customer, CustomerAwsAccountId, Dimension, Failure, ManualClock, Meter, MeterConfig,
    ProductCode, Quantity, SubmitConfig, Submitter, Timestamp, metrics as names,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_postgres::config::Host;

/// Instances, and the keys every one of them records into each tick: 1 to 64 instances on
/// 100 keys, then 4 on 10 and on 1,000 (what a key adds to a commit).
const POINTS: [(usize, usize); 6] = [
    (1, 100),
    (4, 100),
    (16, 100),
    (64, 100),
    (4, 10),
    (4, 1_000),
];
/// How often each instance records into all its keys.
const TICK: Duration = Duration::from_millis(100);
/// The steady run's length.
const WINDOW: Duration = Duration::from_secs(15);
/// Connections per instance: its writer uses one at a time, a flusher another.
const POOL: usize = 2;
/// Records sealed, claimed and settled in the sending part (100 claims of 25).
const SEALED: usize = 2_500;
/// Idle flushes timed in the sending part.
const IDLE_FLUSHES: usize = 20;
/// Connections left to the other users of the server.
const SPARE_CONNECTIONS: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
}

fn customers(count: usize) -> Arc<Vec<Customer>> {
    Arc::new(
        (0..count)
            .map(|i| Customer::Account {
                product: ProductCode::new("prod-capacity").unwrap(),
                account: CustomerAwsAccountId::new(format!("{}", 100_000_000_000 + i)).unwrap(),
            })
            .collect(),
    )
}

/// What the server did for one database, from `pg_stat_database`, and its backends' CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Server {
    transactions: i64,
    rollbacks: i64,
    inserted: i64,
    updated: i64,
    deleted: i64,
    /// Rows read (returned by scans and fetched by index).
    read: i64,
    /// Shared buffers touched.
    buffers: i64,
    sessions: i64,
    /// The clients' messages, counted on the wire: exchanges (a simple query, or a `Sync`
    /// ending an extended one; tokio-postgres closes a statement it no longer holds with
    /// one, not waited for), statements run, statements parsed.
    exchanges: i64,
    statements: i64,
    parsed: i64,
    /// Time backends spent running statements, in milliseconds.
    active_ms: f64,
    /// CPU the backends used, in nanoseconds (read before they exit).
    cpu_ns: i64,
}

impl Server {
    /// Its figures per one of `count`, as table cells: exchanges, statements run and
    /// parsed, transactions, rows inserted, updated, deleted and read, buffers,
    /// milliseconds active, microseconds of backend CPU.
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    fn cells(self, count: u64) -> String {
        format!(
            "{:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0} | {:.3} | {:.1} |",
            per(self.exchanges, count),
            per(self.statements, count),
            per(self.parsed, count),
            per(self.transactions, count),
            per(self.inserted, count),
            per(self.updated, count),
            per(self.deleted, count),
            per(self.read, count),
            per(self.buffers, count),
            self.active_ms / count as f64,
            per(self.cpu_ns, count) / 1e3,
        )
    }
}

impl Sub for Server {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            transactions: self.transactions - o.transactions,
            rollbacks: self.rollbacks - o.rollbacks,
            inserted: self.inserted - o.inserted,
            updated: self.updated - o.updated,
            deleted: self.deleted - o.deleted,
            read: self.read - o.read,
            buffers: self.buffers - o.buffers,
            sessions: self.sessions - o.sessions,
            exchanges: self.exchanges - o.exchanges,
            statements: self.statements - o.statements,
            parsed: self.parsed - o.parsed,
            active_ms: self.active_ms - o.active_ms,
            cpu_ns: self.cpu_ns - o.cpu_ns,
        }
    }
}

/// The messages clients sent through a proxy, by type (`Q` a simple query, `P` parse, `E`
/// execute, `S` sync, ...): what the server was asked, without `pg_stat_statements`.
struct Wire {
    by_type: [AtomicI64; 256],
}

impl Wire {
    /// A proxy on loopback to the server of `url`, counting what clients send; the URL
    /// through it.
    async fn proxy(url: &str) -> (String, Arc<Self>) {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let Host::Tcp(host) = &config.get_hosts()[0] else {
            panic!("the server must be reached over TCP: {url}");
        };
        let server = format!("{host}:{}", config.get_ports()[0]);
        assert!(url.contains(&server), "{url} must name {server}");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let through = url.replacen(&server, &listener.local_addr().unwrap().to_string(), 1);
        let wire = Arc::new(Self {
            by_type: std::array::from_fn(|_| AtomicI64::new(0)),
        });
        let counting = Arc::clone(&wire);
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let upstream = TcpStream::connect(&server).await.unwrap();
                tokio::spawn(Arc::clone(&counting).relay(client, upstream));
            }
        });
        (through, wire)
    }

    /// Passes one connection's bytes both ways, counting the client's messages.
    async fn relay(self: Arc<Self>, client: TcpStream, server: TcpStream) {
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        let answers = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        });
        let mut buffer = vec![0; 64 * 1024];
        // The start-up messages have no type byte (an 8-byte TLS or GSS request may come
        // first); every message after them has one.
        let (mut starting, mut header, mut left) = (true, Vec::with_capacity(5), 0_usize);
        while let Ok(read) = from_client.read(&mut buffer).await {
            if read == 0 || to_server.write_all(&buffer[..read]).await.is_err() {
                break;
            }
            let mut bytes = &buffer[..read];
            while !bytes.is_empty() {
                if left > 0 {
                    let skipped = left.min(bytes.len());
                    (bytes, left) = (&bytes[skipped..], left - skipped);
                    continue;
                }
                let wanted = if starting { 4 } else { 5 };
                let taken = (wanted - header.len()).min(bytes.len());
                header.extend_from_slice(&bytes[..taken]);
                bytes = &bytes[taken..];
                if header.len() == wanted {
                    let length = u32::from_be_bytes(header[wanted - 4..].try_into().unwrap());
                    left = length as usize - 4;
                    if starting {
                        starting = length == 8;
                    } else {
                        self.by_type[usize::from(header[0])].fetch_add(1, Ordering::Relaxed);
                    }
                    header.clear();
                }
            }
        }
        let _ = to_server.shutdown().await;
        let _ = answers.await;
    }

    fn count(&self, types: &[u8]) -> i64 {
        types
            .iter()
            .map(|&kind| self.by_type[usize::from(kind)].load(Ordering::Relaxed))
            .sum()
    }
}

/// One database of the server, made for one measure and dropped after it.
struct Database {
    admin: tokio_postgres::Client,
    url: String,
    /// The same database through the counting proxy, for the ledgers.
    counted_url: String,
    wire: Arc<Wire>,
    name: String,
    clock: ManualClock,
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

impl Database {
    async fn create(admin_url: &str, label: &str) -> Self {
        let admin = connect(admin_url).await;
        let name = format!("metering_capacity_{}_{label}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (base, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!(
            "{server}/{name}{}{query}",
            if query.is_empty() { "" } else { "?" }
        );
        let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-12-07T10:05:00Z").unwrap());
        let (counted_url, wire) = Wire::proxy(&url).await;
        Self {
            admin,
            url,
            counted_url,
            wire,
            name,
            clock,
        }
    }

    fn ledger(&self) -> PostgresLedger {
        PostgresLedger::builder(&self.counted_url)
            .unwrap()
            .max_connections(POOL)
            .build()
            .unwrap()
    }

    fn config(&self) -> MeterConfig {
        MeterConfig::new().with_clock(self.clock.clone())
    }

    async fn backends(&self) -> Vec<i32> {
        self.admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                &[&self.name],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// CPU the database's live backends have used, from `/proc/PID/schedstat` (nanoseconds).
    async fn backend_cpu(&self) -> i64 {
        self.backends()
            .await
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok())
            .map(|stat| {
                stat.split_whitespace()
                    .next()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap()
            })
            .sum()
    }

    /// The counters once every backend of the database has exited and reported.
    async fn settled(&self) -> Server {
        while !self.backends().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut last = self.counters().await;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.counters().await;
            if now == last {
                return now;
            }
            last = now;
        }
    }

    async fn counters(&self) -> Server {
        let row = self
            .admin
            .query_one(
                "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, \
                 tup_returned + tup_fetched, blks_hit + blks_read, sessions, active_time \
                 FROM pg_stat_database WHERE datname = $1",
                &[&self.name],
            )
            .await
            .unwrap();
        Server {
            transactions: row.get(0),
            rollbacks: row.get(1),
            inserted: row.get(2),
            updated: row.get(3),
            deleted: row.get(4),
            read: row.get(5),
            buffers: row.get(6),
            sessions: row.get(7),
            exchanges: self.wire.count(b"QS"),
            statements: self.wire.count(b"QE"),
            parsed: self.wire.count(b"P"),
            active_ms: row.get(8),
            cpu_ns: 0,
        }
    }

    /// Statistics for the planner, as autovacuum keeps them on a ledger in service: a table
    /// just filled has none, and the claim's scans of `records` would read it all.
    async fn analyze(&self) {
        connect(&self.url)
            .await
            .batch_execute("ANALYZE")
            .await
            .unwrap();
    }

    async fn drop_database(self) {
        self.admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .unwrap();
    }
}

/// What the meters' metrics said about their commits.
#[derive(Debug, Default)]
struct Commits {
    count: u64,
    /// Each commit's duration, in seconds, sorted.
    durations: Vec<f64>,
}

impl Commits {
    fn read(snapshotter: &Snapshotter) -> Self {
        let mut commits = Self::default();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            match (key.key().name(), value) {
                (names::COMMITS, DebugValue::Counter(count))
                    if key.key().labels().any(|label| label.value() == "ok") =>
                {
                    commits.count += count;
                }
                (names::COMMIT_DURATION, DebugValue::Histogram(values)) => {
                    commits.durations = values.into_iter().map(|v| v.0).collect();
                }
                _ => {}
            }
        }
        commits.durations.sort_by(f64::total_cmp);
        commits
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.durations.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a short list"
        )]
        let index = ((self.durations.len() - 1) as f64 * p).round() as usize;
        self.durations[index] * 1e3
    }
}

/// One lifetime of `instances` instances: what the server did, and the commits after each
/// instance's first.
struct Lifetime {
    server: Server,
    commits: Commits,
}

/// `instances` meters started; each records `keys` keys and commits once, then, for
/// `window`, records them each `TICK`; committed and closed.
async fn lifetime(
    db: &Database,
    (instances, keys): (usize, usize),
    window: Duration,
    snapshotter: &Snapshotter,
) -> Lifetime {
    let before = db.settled().await;
    let _ = snapshotter.snapshot();
    let keys = customers(keys);
    let meters: Vec<Arc<Meter>> = (0..instances)
        .map(|_| {
            let meter = Meter::builder()
                .config(db.config())
                .ledger(db.ledger())
                .build()
                .unwrap();
            Arc::new(meter)
        })
        .collect();
    let record_all = |meter: &Meter, keys: &[Customer]| {
        for customer in keys {
            meter
                .record(customer, Usage::ApiCalls, Quantity::from(1))
                .unwrap();
        }
    };
    let mut starting = JoinSet::new();
    for meter in &meters {
        record_all(meter, &keys);
        let meter = Arc::clone(meter);
        starting.spawn(async move { meter.commit().await.unwrap() });
    }
    starting.join_all().await;
    let _first_commits = Commits::read(snapshotter);
    let deadline = tokio::time::Instant::now() + window;
    let mut recording = JoinSet::new();
    for meter in &meters {
        let (meter, keys) = (Arc::clone(meter), Arc::clone(&keys));
        recording.spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            while tokio::time::Instant::now() < deadline {
                tick.tick().await;
                record_all(&meter, &keys);
            }
            meter.commit().await.unwrap();
        });
    }
    recording.join_all().await;
    let commits = Commits::read(snapshotter);
    // Read before the backends exit; closing commits nothing more (all is committed).
    let cpu_ns = db.backend_cpu().await;
    for meter in meters {
        meter.close().await.unwrap();
    }
    let after = db.settled().await;
    Lifetime {
        server: Server { cpu_ns, ..after } - before,
        commits,
    }
}

/// Per commit: `total` over `commits`.
#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn per(total: i64, commits: u64) -> f64 {
    total as f64 / commits as f64
}

/// Prints the point's steady run; returns its start-up's line.
async fn fleet_point(admin_url: &str, point: (usize, usize), snapshotter: &Snapshotter) -> String {
    let (instances, keys) = point;
    let db = Database::create(admin_url, &format!("{instances}_{keys}")).await;
    // The schema and the keys, then start-up alone, then start-up and the steady run.
    lifetime(&db, point, Duration::ZERO, snapshotter).await;
    let start_up = lifetime(&db, point, Duration::ZERO, snapshotter).await;
    let run = lifetime(&db, point, WINDOW, snapshotter).await;
    db.drop_database().await;
    assert_eq!(
        start_up.commits.count, 0,
        "start-up alone commits once each"
    );
    let steady = run.server - start_up.server;
    let commits = run.commits.count;
    let seconds = WINDOW.as_secs_f64();
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let (rate, instances_f) = (commits as f64 / seconds, instances as f64);
    println!(
        "| {instances} | {keys} | {commits} | {rate:.1} ({:.2}) | {:.1} / {:.1} / {:.1} | {}",
        rate / instances_f,
        run.commits.percentile_ms(0.5),
        run.commits.percentile_ms(0.99),
        run.commits.percentile_ms(1.0),
        steady.cells(commits),
    );
    assert_eq!(steady.rollbacks, 0);
    format!(
        "| {instances} | {keys} | {} {} |",
        start_up.server.cells(instances as u64),
        start_up.server.sessions
    )
}

/// A transport that bills every record at once.
struct BillEverything;

impl Transport for BillEverything {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        let results = (0..request.records().len())
            .map(|i| (i, RecordStatus::Success(format!("id-{i}"))))
            .collect();
        Ok(Response {
            results,
            unprocessed: Vec::new(),
        })
    }
}

/// What one ledger's lifetime cost the server, doing `work` with it.
async fn measured<F: Future<Output = ()>>(
    db: &Database,
    work: impl FnOnce(PostgresLedger) -> F,
) -> Server {
    let before = db.settled().await;
    let ledger = db.ledger();
    work(ledger.clone()).await;
    let cpu_ns = db.backend_cpu().await;
    drop(ledger);
    Server {
        cpu_ns,
        ..db.settled().await
    } - before
}

async fn sending(admin_url: &str) {
    let db = Database::create(admin_url, "sending").await;
    let keys = customers(SEALED);
    let meter = Meter::builder()
        .config(db.config())
        .ledger(db.ledger())
        .build()
        .unwrap();
    for customer in keys.iter() {
        meter
            .record(customer, Usage::ApiCalls, Quantity::from(1))
            .unwrap();
    }
    meter.shutdown().await.unwrap();
    // The hour and its grace are over.
    db.clock.advance(Duration::from_mins(75));
    let now = db.clock.now();
    let until = db.config().seal_until(now);
    let sealing = measured(&db, |ledger| async move {
        let report = ledger.seal(until, now).await.unwrap();
        assert_eq!(report.sealed, SEALED);
    })
    .await;
    db.analyze().await;
    let flusher = |ledger| {
        let submit = SubmitConfig::default()
            .with_requests_per_second(None)
            .with_clock(db.clock.clone());
        Flusher::new(
            ledger,
            Submitter::with_config(BillEverything, submit),
            db.config(),
        )
    };
    let sending = measured(&db, |ledger| async move {
        let report = flusher(ledger).flush().await.unwrap();
        assert_eq!(report.outcomes.success, SEALED);
    })
    .await;
    let idle_flushes = |count| {
        measured(&db, move |ledger| async move {
            let flusher = flusher(ledger);
            for _ in 0..count {
                assert_eq!(flusher.flush().await.unwrap().claims, 0);
            }
        })
    };
    let idle_one = idle_flushes(1).await;
    let idle_many = idle_flushes(1 + IDLE_FLUSHES).await;
    db.drop_database().await;
    let claims = SEALED.div_ceil(25);
    println!(
        "\n| what | queries + syncs | statements run | parsed | transactions | rows inserted | updated | deleted | rows read | buffers | active ms | backend CPU µs |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (what, server, count) in [
        ("seal, per record sealed", sealing, SEALED),
        (
            "claim and settle, per claim of 25",
            sending - idle_one,
            claims,
        ),
        (
            "a flush that finds nothing",
            idle_many - idle_one,
            IDLE_FLUSHES,
        ),
    ] {
        println!("| {what} | {}", server.cells(count as u64));
    }
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let Ok(url) = std::env::var("METERING_TEST_POSTGRES_URL") else {
        eprintln!(
            "set METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run the capacity benchmark"
        );
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = connect(&url).await;
        let free: i64 = admin
            .query_one(
                "SELECT current_setting('max_connections')::bigint - count(*) FROM pg_stat_activity",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        println!(
            "keys shared by every instance, each recorded every {TICK:?}; a commit a second per instance; steady run of {WINDOW:?}\n"
        );
        println!(
            "| instances | keys | commits | commits/s (per instance) | commit p50 / p99 / max ms | per commit: queries + syncs | statements run | parsed | transactions | rows inserted | updated | deleted | rows read | buffers | active ms | backend CPU µs |"
        );
        println!(
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        let mut start_ups = Vec::new();
        for (instances, keys) in POINTS {
            // A writer holds one connection at a time: one per instance.
            let needed = i64::try_from(instances).unwrap() + SPARE_CONNECTIONS;
            if needed > free {
                println!(
                    "| {instances} | {keys} | skipped: {free} connections free on the server, {needed} needed |"
                );
                continue;
            }
            start_ups.push(fleet_point(&url, (instances, keys), &snapshotter).await);
        }
        println!(
            "\n| start-up: instances | keys | per instance: queries + syncs | statements run | parsed | transactions | rows inserted | updated | deleted | rows read | buffers | active ms | backend CPU µs | sessions |"
        );
        println!(
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for line in start_ups {
            println!("{line}");
        }
        sending(&url).await;
    });
}
