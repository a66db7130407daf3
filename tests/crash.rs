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
//!
//! The stream has every kind of usage: besides sums, hosts observed (a maximum), users
//! marked (a distinct count) and gigabytes stored (a level), recorded with the durable
//! calls. Per customer and hour, what is billed of them is exactly the maximum, the number
//! of distinct users and the integral of the levels acknowledged (an event whose process
//! died before its acknowledgment may count or not, as a whole), whatever the kills: the
//! level's integral neither stops nor doubles because a process did.

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
    AwsTransport, Clock, Customer, CustomerAwsAccountId, Dimension, Failure, Hour, Meter,
    MeterConfig, ProductCode, Quantity, SubmitConfig, Submitter, Tags, Timestamp, UsageTags,
    aws_sdk,
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

/// Hosts running: billed by the hour's peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "max")]
enum Peak {
    Hosts,
}

/// Users seen: billed per distinct user per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "distinct")]
enum Seen {
    ActiveUsers,
}

/// Gigabytes stored: held until changed, billed as GB-hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "level")]
enum Stored {
    GbStored,
}

/// What an event of another kind than a sum does (always durable, never late: a late
/// maximum or identifier would be set aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinded {
    /// Hosts running now.
    Observe(u64),
    /// A user seen.
    Mark(u64),
    /// Gigabytes stored from now on.
    Set(u64),
}

impl Kinded {
    fn dimension(self) -> &'static str {
        match self {
            Self::Observe(_) => Peak::Hosts.as_str(),
            Self::Mark(_) => Seen::ActiveUsers.as_str(),
            Self::Set(_) => Stored::GbStored.as_str(),
        }
    }
}

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
    /// Set for an event of another kind (the fields above then say nothing).
    kinded: Option<Kinded>,
}

fn event(seed: u64, index: u64) -> Event {
    let mut rng = fastrand::Rng::with_seed(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let kinded = match rng.u8(..10) {
        0 => Some(Kinded::Observe(rng.u64(1..=20))),
        1 => Some(Kinded::Mark(rng.u64(..40))),
        2 => Some(Kinded::Set(rng.u64(..=50))),
        _ => None,
    };
    Event {
        kinded,
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

/// A customer, a dimension of another kind, and an hour (its start, in microseconds).
type KindKey = (usize, &'static str, i64);

const HOUR_MICROS: i64 = 3_600_000_000;

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
/// (in memory), each with the event's index and the real time of its acknowledgment; a `p`
/// line before an event of another kind is recorded, with its instant (a `d` line follows
/// once it is acknowledged); `z` lines for the levels set to 0 at the end, per customer.
struct Acks(File);

impl Acks {
    fn ack(&mut self, index: u64, durable: bool) {
        let kind = if durable { 'd' } else { 'm' };
        self.line(&format!("{kind} {index} {}", real_nanos()), durable);
    }

    /// One write, so that a kill never leaves half a line (a killed process's writes stay
    /// in the file: only the machine's crash would lose them).
    fn line(&mut self, line: &str, sync: bool) {
        self.0.write_all(format!("{line}\n").as_bytes()).unwrap();
        if sync {
            self.0.sync_data().unwrap();
        }
    }
}

fn micros_of(at: Timestamp) -> i64 {
    i64::try_from(at.unix_nanos() / 1000).unwrap()
}

/// Now, to the microsecond (what the ledger keeps of a level change), out of the last 5
/// minutes of an hour: an observation there could reach the ledger after its hour is
/// sealed, which is set aside as late, not billed.
async fn kind_instant(clock: FastClock) -> Timestamp {
    let mut micros = micros_of(clock.now());
    let left = HOUR_MICROS - micros.rem_euclid(HOUR_MICROS);
    if left < 5 * 60 * 1_000_000 {
        let real = u64::try_from(left / i64::try_from(SPEED).unwrap()).unwrap() + 1;
        tokio::time::sleep(Duration::from_micros(real)).await;
        micros = micros_of(clock.now());
    }
    Timestamp::from_unix_nanos(i128::from(micros) * 1000).unwrap()
}

/// Records an event of another kind at `at`, durably.
async fn record_kinded(meter: &Meter, customer: &Customer, kinded: Kinded, at: Timestamp) {
    match kinded {
        Kinded::Observe(hosts) => meter
            .usage(customer, Peak::Hosts)
            .at(at)
            .observe_durable(Quantity::new(hosts).unwrap())
            .await
            .unwrap(),
        Kinded::Mark(user) => meter
            .usage(customer, Seen::ActiveUsers)
            .at(at)
            .mark_durable(user)
            .await
            .unwrap(),
        Kinded::Set(gigabytes) => meter
            .usage(customer, Stored::GbStored)
            .at(at)
            .set_durable(Quantity::new(gigabytes).unwrap())
            .await
            .unwrap(),
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
        .with_max_backoff(Duration::from_millis(20));
    // No clock of its own: the meter and the flusher give it theirs (two readings of this
    // fast clock a few milliseconds apart differ by seconds, which the meter refuses).
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
        if let Some(kinded) = event.kinded {
            let at = kind_instant(clock).await;
            acks.line(&format!("p {index} {}", micros_of(at)), false);
            record_kinded(&meter, &customers[event.customer], kinded, at).await;
            acks.ack(index, true);
            index += 1;
            continue;
        }
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

    // The last child (a separate flusher): every level set to 0, everything committed,
    // then flush until every hour up to the zeros' is sealed and sent.
    let end = kind_instant(clock).await;
    for (index, customer) in customers.iter().enumerate() {
        record_kinded(&meter, customer, Kinded::Set(0), end).await;
        acks.line(&format!("z {index} {}", micros_of(end)), true);
    }
    let (stop, flushing) = flushing.expect("the last child has a flusher of its own");
    meter.shutdown().await.unwrap();
    drain(&*ledger, Hour::of(end)).await;
    let _ = stop.send(());
    flushing.await.unwrap();
}

/// Waits until every hour up to `last` is sealed and every record sent.
async fn drain(ledger: &impl Ledger, last: Hour) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = ledger.status().await.unwrap();
        let waiting = status.count(RecordState::Unsent) + status.count(RecordState::Leased);
        // Level changes are no open keys: the zeros' hour must be sealed too.
        let levels_sealed = status.sealed_before.is_some_and(|h| h > last);
        if status.open_keys == 0 && waiting == 0 && levels_sealed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger did not drain: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    /// The instant (microseconds) of each event of another kind about to be recorded.
    instants: HashMap<u64, i64>,
    /// Per customer, when its level was set to 0 at the end.
    zeros: Vec<(usize, i64)>,
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
            match kind {
                "p" => {
                    self.instants.insert(index, i64::try_from(at).unwrap());
                    continue;
                }
                "z" => {
                    let zero = (usize::try_from(index).unwrap(), i64::try_from(at).unwrap());
                    if !self.zeros.contains(&zero) {
                        self.zeros.push(zero);
                    }
                    continue;
                }
                _ => {}
            }
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

/// Per key, the sum of these events' quantities (the sums' only).
fn sums(seed: u64, indices: impl Iterator<Item = u64>) -> HashMap<Key, u64> {
    let mut sums = HashMap::new();
    for index in indices {
        let event = event(seed, index);
        if event.kinded.is_none() {
            *sums.entry(key_of(&event)).or_default() += event.micros;
        }
    }
    sums
}

/// Per customer, dimension and hour, what the events of other kinds bill (in millionths):
/// the maximum observed, the number of distinct users, the levels' integral (each change
/// an instant and a level, held until the next, rounded half-up once per hour); none of 0.
fn kinds_billed(events: &[(usize, Kinded, i64)]) -> BTreeMap<KindKey, u64> {
    let mut billed: BTreeMap<KindKey, u64> = BTreeMap::new();
    let mut users: BTreeMap<KindKey, std::collections::BTreeSet<u64>> = BTreeMap::new();
    let mut levels: BTreeMap<usize, BTreeMap<i64, u64>> = BTreeMap::new();
    for &(customer, kinded, at) in events {
        let key = (
            customer,
            kinded.dimension(),
            at - at.rem_euclid(HOUR_MICROS),
        );
        match kinded {
            Kinded::Observe(hosts) => {
                let peak = billed.entry(key).or_default();
                *peak = (*peak).max(hosts * 1_000_000);
            }
            Kinded::Mark(user) => {
                users.entry(key).or_default().insert(user);
            }
            Kinded::Set(gigabytes) => {
                let level = levels.entry(customer).or_default().entry(at).or_default();
                *level = (*level).max(gigabytes);
            }
        }
    }
    for (key, seen) in users {
        billed.insert(key, seen.len() as u64 * 1_000_000);
    }
    for (customer, changes) in levels {
        // Level × microseconds per hour; a level holds until the next change.
        let mut held: BTreeMap<i64, u128> = BTreeMap::new();
        let changes: Vec<(i64, u64)> = changes.into_iter().collect();
        for (i, &(from, level)) in changes.iter().enumerate() {
            let Some(&(until, _)) = changes.get(i + 1) else {
                assert_eq!(level, 0, "the last level change is the end's zero");
                break;
            };
            let mut start = from;
            while start < until {
                let hour = start - start.rem_euclid(HOUR_MICROS);
                let end = until.min(hour + HOUR_MICROS);
                *held.entry(hour).or_default() +=
                    u128::from(level) * u128::try_from(end - start).unwrap();
                start = end;
            }
        }
        for (hour, unit_micros) in held {
            // In millionths of a GB-hour: × 1e6 / 3.6e9 µs, half-up.
            let hour_micros = u128::try_from(HOUR_MICROS).unwrap();
            let quantity = (unit_micros * 1_000_000 + hour_micros / 2) / hour_micros;
            billed.insert(
                (customer, Stored::GbStored.as_str(), hour),
                u64::try_from(quantity).unwrap(),
            );
        }
    }
    billed.retain(|_, quantity| *quantity > 0);
    billed
}

/// What the emulator billed of the other kinds, per customer, dimension and hour.
fn billed_kinds(emulator: &RunningEmulator) -> BTreeMap<KindKey, u64> {
    let kinded = [Kinded::Observe(0), Kinded::Mark(0), Kinded::Set(0)].map(Kinded::dimension);
    let mut billed = BTreeMap::new();
    for entry in emulator.ledger() {
        let Some(dimension) = kinded.iter().find(|d| **d == entry.dimension.as_str()) else {
            continue;
        };
        let account = entry.customer.account().unwrap().as_str();
        let customer = CUSTOMERS.iter().position(|c| *c == account).unwrap();
        if !entry.quantity.is_zero() {
            billed.insert(
                (customer, *dimension, micros_of(entry.hour)),
                entry.quantity.micros(),
            );
        }
    }
    billed
}

/// Checks the other kinds: the bill must be what the acknowledged events make, with each
/// event in doubt (its process died between recording and acknowledging it) counted or
/// not, as a whole: per customer, some choice of them must give exactly what was billed.
fn check_kinds(seed: u64, acked: &Acked, billed: &BTreeMap<KindKey, u64>) {
    let kinded = |index: u64| {
        let event = event(seed, index);
        Some((event.customer, event.kinded?, *acked.instants.get(&index)?))
    };
    let mut sure: Vec<(usize, Kinded, i64)> =
        acked.events.keys().filter_map(|&i| kinded(i)).collect();
    sure.extend(
        acked
            .zeros
            .iter()
            .map(|&(customer, at)| (customer, Kinded::Set(0), at)),
    );
    let doubt: Vec<(usize, Kinded, i64)> =
        acked.in_doubt.iter().filter_map(|&i| kinded(i)).collect();
    for customer in 0..CUSTOMERS.len() {
        let theirs = |events: &[(usize, Kinded, i64)]| -> Vec<(usize, Kinded, i64)> {
            events.iter().filter(|e| e.0 == customer).copied().collect()
        };
        let (sure, doubt) = (theirs(&sure), theirs(&doubt));
        let billed: BTreeMap<KindKey, u64> = billed
            .iter()
            .filter(|((c, ..), _)| *c == customer)
            .map(|(key, quantity)| (*key, *quantity))
            .collect();
        assert!(
            doubt.len() < 16,
            "too many events in doubt to try: {doubt:?}"
        );
        let found = (0..1_u32 << doubt.len()).any(|choice| {
            let mut events = sure.clone();
            events.extend(
                doubt
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| choice & (1 << i) != 0)
                    .map(|(_, event)| *event),
            );
            kinds_billed(&events) == billed
        });
        assert!(
            found,
            "customer {customer}: the other kinds billed {billed:?}, but the acknowledged events make {:?} (in doubt: {doubt:?})",
            kinds_billed(&sure)
        );
    }
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
        let Some(dimension) = DIMENSIONS
            .iter()
            .map(|d| d.as_str())
            .find(|d| *d == entry.dimension.as_str())
        else {
            continue; // another kind: `billed_kinds`
        };
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
    let kinds = billed_kinds(&emulator);
    check_kinds(seed, &acked, &kinds);
    assert!(
        [
            Peak::Hosts.as_str(),
            Seen::ActiveUsers.as_str(),
            Stored::GbStored.as_str()
        ]
        .iter()
        .all(|dimension| kinds.keys().any(|(_, d, _)| d == dimension)),
        "every kind billed something: {kinds:?}"
    );
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
