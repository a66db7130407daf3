//! The crash test: a child process records a known, seeded stream of usage into a Meter on
//! a `SQLite` file while a flusher sends it through the real AWS SDK to the emulator, which
//! runs here in the parent and injects throttling, 500s, dropped connections and unprocessed
//! records. The flusher is a task of its own beside a Meter built without a submitter (the
//! production shape: recorders record, flushers send), or, in every other group of four
//! rounds, the Meter's own (`MeterBuilder::submitter`). Each child is killed (SIGKILL at a random moment, or by aborting itself at a
//! failpoint: after a commit, after a seal, after a send) and the next one starts on the
//! same file. One clock runs for all of them, fast, so hours close within the test.
//!
//! At the end, per key (customer, dimension, tags), what the emulator billed must hold every
//! event acknowledged by `record_durable`, every event acknowledged by `record` more than
//! the loss window before its process died, and nothing more than the events that may have
//! been recorded: nothing is billed twice, and the emulator answered no `DuplicateRecord`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use marketplace_metering::ledger::{
    BoxFuture, Checkpoint, Claim, CommitReport, Flusher, HourStatus, Ledger, LedgerError,
    LedgerStatus, RecordId, RecordState, SealReport, SettleReport, Settlement, SqliteLedger,
};
use marketplace_metering::plan::PlannedRequest;
use marketplace_metering::submit::{Response, Transport};
use marketplace_metering::{
    AwsTransport, Clock, Customer, CustomerAwsAccountId, Dimension, Failure, Meter, MeterConfig,
    ProductCode, Quantity, SubmitConfig, Submitter, Tags, Timestamp, UsageTags, aws_sdk,
};
use metering_emulator::{Emulator, Faults, RunningEmulator};

/// Mid-month, so that the run (about 20 virtual hours) never meets a month's end.
const T0: i128 = 1_778_544_000 * 1_000_000_000; // 2026-05-12T00:00:00Z
/// Virtual seconds per real second: an hour passes in 2 s.
const SPEED: i128 = 1800;
/// Killed rounds, then one that finishes.
const ROUNDS: usize = 32;
/// Events the last child records before it drains the ledger.
const FINAL_EVENTS: u64 = 300;
/// The meter's commit interval (real time): the loss window of `record`.
const COMMIT: Duration = Duration::from_millis(50);
/// The window, with room for a commit's own time and for noticing the child's death.
const LOSS_WINDOW: Duration = Duration::from_millis(400);
const CUSTOMERS: [&str; 6] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
    "666666666666",
];
const TEAMS: [Option<&str>; 3] = [None, Some("red"), Some("blue")];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    StorageGbHours,
    Seats,
}

const DIMENSIONS: [Usage; 3] = [Usage::ApiCalls, Usage::StorageGbHours, Usage::Seats];

#[derive(UsageTags)]
struct Team<'a> {
    team: &'a str,
}

/// One event of the stream, the same in every process for a seed and an index.
#[derive(Debug, Clone, Copy)]
struct Event {
    customer: usize,
    dimension: Usage,
    team: Option<&'static str>,
    /// In millionths: some whole, most decimal.
    micros: u64,
    /// How many hours before now it happened (most: none).
    late_hours: u64,
    durable: bool,
}

fn event(seed: u64, index: u64) -> Event {
    let mut rng = fastrand::Rng::with_seed(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    Event {
        customer: rng.usize(..CUSTOMERS.len()),
        dimension: DIMENSIONS[rng.usize(..DIMENSIONS.len())],
        team: TEAMS[rng.usize(..TEAMS.len())],
        micros: if rng.bool() {
            rng.u64(1..=20) * 1_000_000
        } else {
            rng.u64(1..=4_000) * 250
        },
        late_hours: if rng.u8(..10) == 0 { rng.u64(1..=3) } else { 0 },
        durable: rng.u8(..4) == 0,
    }
}

type Key = (usize, &'static str, Option<&'static str>);

fn key_of(event: &Event) -> Key {
    (event.customer, event.dimension.as_str(), event.team)
}

fn customer(index: usize) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-crash").unwrap(),
        account: CustomerAwsAccountId::new(CUSTOMERS[index]).unwrap(),
    }
}

fn real_nanos() -> i128 {
    i128::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

/// `T0 + (real time since the anchor) * SPEED`: the same in every process given the anchor.
#[derive(Debug, Clone, Copy)]
struct FastClock {
    anchor: i128,
}

impl Clock for FastClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(T0 + (real_nanos() - self.anchor) * SPEED).unwrap()
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

// ----- The child -----

/// Where a child aborts itself: after the n-th commit, seal that sealed something, or send.
#[derive(Debug)]
struct Failpoint {
    point: String,
    left: AtomicU32,
}

impl Failpoint {
    fn from_env() -> Self {
        let spec = std::env::var("CRASH_FAILPOINT").unwrap_or_default();
        let (point, n) = spec.split_once(':').unwrap_or(("none", "0"));
        Self {
            point: point.to_owned(),
            left: AtomicU32::new(n.parse().unwrap()),
        }
    }

    /// Aborts the process when `point` is reached for the n-th time.
    fn reached(&self, point: &str) {
        if self.point == point && self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            eprintln!("crash child: failpoint {point}: aborting");
            std::process::abort();
        }
    }
}

/// The `SQLite` ledger, with failpoints after a commit and after a seal.
struct Failing {
    inner: SqliteLedger,
    failpoint: Arc<Failpoint>,
}

impl Ledger for Failing {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        Box::pin(async move {
            let report = self.inner.commit(checkpoint, now).await?;
            self.failpoint.reached("commit");
            Ok(report)
        })
    }

    fn seal(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(async move {
            let report = self.inner.seal(until, now).await?;
            if report.sealed > 0 {
                self.failpoint.reached("seal");
            }
            Ok(report)
        })
    }

    fn seal_customer<'a>(
        &'a self,
        customer: &'a Customer,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        Box::pin(async move { self.inner.seal_customer(customer, now).await })
    }

    fn claim<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        Box::pin(async move { self.inner.claim(owner, now, lease).await })
    }

    fn settle<'a>(
        &'a self,
        claim: &'a Claim,
        outcomes: &'a [(RecordId, Settlement)],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        Box::pin(async move { self.inner.settle(claim, outcomes, now).await })
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(async move { self.inner.status().await })
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move { self.inner.unsettled().await })
    }
}

/// The real AWS SDK transport, with a failpoint after a send (billed, not yet settled).
struct FailingTransport {
    inner: AwsTransport,
    failpoint: Arc<Failpoint>,
}

impl Transport for FailingTransport {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        let response = self.inner.send(request).await;
        self.failpoint.reached("send");
        response
    }
}

fn transport(endpoint: &str) -> AwsTransport {
    AwsTransport::from_conf(
        Emulator::sdk_config_at(endpoint)
            .to_builder()
            .timeout_config(
                aws_sdk::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build(),
    )
}

fn meter_config(clock: FastClock) -> MeterConfig {
    // Virtual durations: 5 minutes are 167 ms here, a lease of an hour 2 s.
    MeterConfig::new()
        .with_clock(clock)
        .with_commit_interval(COMMIT)
        .with_flush_interval(Duration::from_millis(20))
        .with_grace(Duration::from_mins(5))
        .with_lease(Duration::from_hours(1))
        // More than a lease: the time to send a month's last hour (never met: mid-month).
        .with_month_close_margin(Duration::from_hours(2))
}

/// Appends acknowledgments: `d` lines (durable, synced before the next event) and `m` lines
/// (in memory), each with the event's index and the real time of its acknowledgment.
struct Acks(File);

impl Acks {
    fn ack(&mut self, index: u64, durable: bool) {
        let kind = if durable { 'd' } else { 'm' };
        // One write, so that a kill never leaves half a line.
        let line = format!("{kind} {index} {}\n", real_nanos());
        self.0.write_all(line.as_bytes()).unwrap();
        if durable {
            self.0.sync_data().unwrap();
        }
    }
}

#[test]
#[ignore = "the child process of `crash_rounds`, which starts it with CRASH_* variables"]
fn crash_child() {
    if std::env::var_os("CRASH_DIR").is_none() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(child());
}

async fn child() {
    let dir = PathBuf::from(env("CRASH_DIR"));
    let clock = FastClock {
        anchor: env("CRASH_ANCHOR").parse().unwrap(),
    };
    let seed: u64 = env("CRASH_SEED").parse().unwrap();
    let from: u64 = env("CRASH_FROM").parse().unwrap();
    let last = std::env::var("CRASH_FINAL")
        .ok()
        .map(|_| from + FINAL_EVENTS);
    let failpoint = Arc::new(Failpoint::from_env());
    let ledger = Arc::new(Failing {
        inner: SqliteLedger::open(dir.join("ledger.sqlite")).unwrap(),
        failpoint: failpoint.clone(),
    });
    let config = meter_config(clock);
    let submit = SubmitConfig::default()
        .with_requests_per_second(None)
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(20))
        .with_clock(clock);
    let transport = FailingTransport {
        inner: transport(&env("CRASH_ENDPOINT")),
        failpoint,
    };
    let submitter = Submitter::with_config(transport, submit);
    let builder = Meter::builder()
        .config(config.clone())
        .ledger(ledger.clone());
    let (meter, flushing) = if std::env::var_os("CRASH_EMBEDDED").is_some() {
        (builder.submitter(submitter).build().unwrap(), None)
    } else {
        let flusher = Flusher::new(ledger.clone(), submitter, config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            flusher
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        (builder.build().unwrap(), Some((stop, task)))
    };

    let mut acks = Acks(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("acks"))
            .unwrap(),
    );
    let customers: Vec<Customer> = (0..CUSTOMERS.len()).map(customer).collect();
    let mut index = from;
    while last.is_none_or(|last| index < last) {
        let event = event(seed, index);
        let at = clock
            .now()
            .saturating_sub(Duration::from_hours(event.late_hours));
        let mut usage = meter
            .usage(&customers[event.customer], event.dimension)
            .at(at);
        if let Some(team) = event.team {
            usage = usage.tags(&Team { team });
        }
        let quantity = Quantity::from_micros(event.micros).unwrap();
        if event.durable {
            usage.add_durable(quantity).await.unwrap();
        } else {
            usage.add(quantity).unwrap();
        }
        acks.ack(index, event.durable);
        index += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // The last child (a separate flusher): commit everything, then flush until every hour
    // is sealed and sent.
    let (stop, flushing) = flushing.expect("the last child has a flusher of its own");
    meter.shutdown().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = ledger.status().await.unwrap();
        let waiting = status.count(RecordState::Unsent) + status.count(RecordState::Leased);
        if status.open_keys == 0 && waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger did not drain: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    flushing.await.unwrap();
}

// ----- The parent -----

/// What the acknowledgment file says, and when each round's process died.
#[derive(Default)]
struct Acked {
    /// Event index -> (durable, real time of the ack, round).
    events: BTreeMap<u64, (bool, i128, usize)>,
    /// Events a child may have recorded without acknowledging them.
    in_doubt: Vec<u64>,
    /// Real time each round's process was seen dead (`None`: it shut down).
    died: Vec<Option<i128>>,
    /// Each round's last durable acknowledgment: a durable add commits everything added
    /// before it, so only events after it may be lost.
    last_durable: Vec<Option<u64>>,
}

impl Acked {
    /// Reads the acknowledgments a round added; returns the index the next child starts at.
    fn read_round(&mut self, path: &Path, round: usize, from: u64, died: Option<i128>) -> u64 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let mut fields = line.split(' ');
            let (Some(kind), Some(index), Some(at)) = (fields.next(), fields.next(), fields.next())
            else {
                continue; // a line cut by the kill
            };
            let (Ok(index), Ok(at)) = (index.parse::<u64>(), at.parse::<i128>()) else {
                continue;
            };
            if index >= from {
                self.events.insert(index, (kind == "d", at, round));
            }
        }
        self.died.push(died);
        self.last_durable.push(
            self.events
                .range(from..)
                .filter(|(_, (durable, ..))| *durable)
                .map(|(index, _)| *index)
                .next_back(),
        );
        let next = self
            .events
            .keys()
            .next_back()
            .map_or(from, |last| last + 1)
            .max(from);
        if died.is_some() {
            // It may have added this one and died before acknowledging it.
            self.in_doubt.push(next);
            next + 1
        } else {
            next
        }
    }

    /// Whether an acknowledged event must have reached the ledger.
    fn must_survive(&self, index: u64) -> bool {
        let (durable, at, round) = self.events[&index];
        let window = i128::try_from(LOSS_WINDOW.as_nanos()).unwrap();
        durable
            || self.last_durable[round].is_some_and(|last| index < last)
            || self.died[round].is_none_or(|died| died - at > window)
    }
}

fn spawn_child(dir: &Path, endpoint: &str, anchor: i128, seed: u64, from: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["crash_child", "--exact", "--ignored", "--nocapture"])
        .env("CRASH_DIR", dir)
        .env("CRASH_ENDPOINT", endpoint)
        .env("CRASH_ANCHOR", anchor.to_string())
        .env("CRASH_SEED", seed.to_string())
        .env("CRASH_FROM", from.to_string())
        .env_remove("CRASH_FAILPOINT")
        .env_remove("CRASH_EMBEDDED")
        .env_remove("CRASH_FINAL")
        .stdout(Stdio::null());
    command
}

/// Waits for the child until `limit`, then kills it; returns its status and when it died.
fn kill_after(child: &mut Child, limit: Duration) -> (ExitStatus, i128) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, real_nanos());
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            let died = real_nanos();
            return (child.wait().unwrap(), died);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Per key, the sum of these events' quantities.
fn sums(seed: u64, indices: impl Iterator<Item = u64>) -> HashMap<Key, u64> {
    let mut sums = HashMap::new();
    for index in indices {
        let event = event(seed, index);
        *sums.entry(key_of(&event)).or_default() += event.micros;
    }
    sums
}

/// What the emulator billed, per key: each allocation to its team, untagged usage to none.
fn billed(emulator: &RunningEmulator) -> HashMap<Key, u64> {
    let team = |tags: &Tags| {
        let value = tags.as_slice()[0].value.as_str();
        TEAMS
            .iter()
            .flatten()
            .copied()
            .find(|t| *t == value)
            .unwrap()
    };
    let mut billed = HashMap::new();
    for entry in emulator.ledger() {
        let account = entry.customer.account().unwrap().as_str();
        let customer = CUSTOMERS.iter().position(|c| *c == account).unwrap();
        let dimension = DIMENSIONS
            .iter()
            .map(|d| d.as_str())
            .find(|d| *d == entry.dimension.as_str())
            .unwrap();
        let shares = entry.allocations.map_or_else(
            || vec![(None, entry.quantity.micros())],
            |allocations| {
                allocations
                    .iter()
                    .map(|a| (a.tags.as_ref().map(team), a.quantity.micros()))
                    .collect()
            },
        );
        for (team, micros) in shares {
            *billed.entry((customer, dimension, team)).or_default() += micros;
        }
    }
    billed
}

/// Runs the killed rounds and the last one; returns the acknowledgments and how many
/// rounds ended at a failpoint.
fn rounds(dir: &Path, endpoint: &str, anchor: i128, seed: u64) -> (Acked, usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let acks = dir.join("acks");
    let mut acked = Acked::default();
    let mut from = 0;
    let mut aborted = 0;
    for round in 0..ROUNDS {
        let mut command = spawn_child(dir, endpoint, anchor, seed, from);
        if round / 4 % 2 == 1 {
            command.env("CRASH_EMBEDDED", "1");
        }
        // Three in four abort at a failpoint (hours seal every 2 s: give those time), the
        // rest are killed at a random moment.
        let limit = match round % 4 {
            0 => {
                command.env("CRASH_FAILPOINT", format!("commit:{}", rng.u32(1..20)));
                Duration::from_secs(3)
            }
            1 => {
                command.env("CRASH_FAILPOINT", format!("seal:{}", rng.u32(1..3)));
                Duration::from_secs(3)
            }
            2 => {
                command.env("CRASH_FAILPOINT", format!("send:{}", rng.u32(1..6)));
                Duration::from_secs(3)
            }
            _ => Duration::from_millis(rng.u64(100..700)),
        };
        let mut child = command.spawn().unwrap();
        let (status, died) = kill_after(&mut child, limit);
        match status.signal() {
            Some(6) => aborted += 1,
            Some(9) => {}
            _ => panic!(
                "round {round}: the child ended by itself ({status}) instead of being killed"
            ),
        }
        from = acked.read_round(&acks, round, from, Some(died));
    }
    let mut last = spawn_child(dir, endpoint, anchor, seed, from);
    last.env("CRASH_FINAL", "1");
    let status = last.status().unwrap();
    assert!(status.success(), "the last child failed: {status}");
    acked.read_round(&acks, ROUNDS, from, None);
    (acked, aborted)
}

#[test]
fn crash_rounds() {
    let seed =
        std::env::var("CRASH_SEED").map_or_else(|_| fastrand::u64(..), |s| s.parse().unwrap());
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} replays the stream and the faults)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let anchor = real_nanos();
    let faults = Faults {
        seed,
        throttle: 0.1,
        internal_error: 0.1,
        drop_connection: 0.05,
        unprocessed: 0.1,
        ..Faults::none()
    };
    let emulator = runtime
        .block_on(
            Emulator::builder()
                .clock(FastClock { anchor })
                .faults(faults)
                .start(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (acked, aborted) = rounds(dir.path(), &emulator.endpoint_url(), anchor, seed);

    // Per key: at least what must have survived, at most what may have been recorded.
    let (kept, lost): (Vec<u64>, Vec<u64>) = acked
        .events
        .keys()
        .partition(|index| acked.must_survive(**index));
    let must = sums(seed, kept.iter().copied());
    let may = sums(seed, acked.events.keys().chain(&acked.in_doubt).copied());
    let billed = billed(&emulator);
    for key in may.keys().chain(billed.keys()) {
        let (low, high, got) = (
            must.get(key).copied().unwrap_or(0),
            may.get(key).copied().unwrap_or(0),
            billed.get(key).copied().unwrap_or(0),
        );
        assert!(
            (low..=high).contains(&got),
            "{key:?}: billed {got} micros, but it must be at least {low} (acknowledged) and at most {high} (possibly recorded)"
        );
    }
    assert_eq!(
        emulator.duplicates(),
        0,
        "the emulator answered DuplicateRecord"
    );

    // The ledger agrees: everything settled as billed, nothing kept back or set aside.
    let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite")).unwrap();
    let status = runtime.block_on(ledger.status()).unwrap();
    for state in RecordState::ALL {
        if state != RecordState::Success {
            assert_eq!(status.count(state), 0, "records {state}: {status:?}");
        }
    }
    assert_eq!(status.set_aside, 0, "{status:?}");
    let durable = acked.events.values().filter(|(d, ..)| *d).count();
    eprintln!(
        "crash test: {ROUNDS} rounds ({aborted} at a failpoint), {} events acknowledged ({durable} durable, {} in memory within the loss window, lost or not), {} in doubt, {} requests, {} records billed, {:?}",
        acked.events.len(),
        lost.len(),
        acked.in_doubt.len(),
        emulator.requests(),
        emulator.ledger().len(),
        started.elapsed()
    );
}
