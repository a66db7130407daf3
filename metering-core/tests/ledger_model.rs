//! A model-based property test of the `SQLite` ledger: random sequences of commits (some
//! retried), seals, customer seals, claims, settles (some stale), requeues, clock moves and
//! crashes (every handle dropped, the file reopened), checked against what was committed:
//! - every committed quantity ends in exactly one sealed record or the set-aside list;
//! - no key (customer, dimension, hour) ever has two sealed records, and a record never
//!   changes once sealed;
//! - a settled outcome is never overwritten, and a settle under a lost lease is refused.
//!
//! And (`kinds`) maxima, distinct identifiers and levels: every sealed record is exactly
//! the maximum, the distinct count or the integral of what was committed, late
//! observations set aside.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use metering_core::ledger::conformance::{at, customer, key, licensed};
use metering_core::ledger::{
    Checkpoint, Claim, Delta, InstanceId, Ledger, LedgerInspection, RecordId, RecordState,
    Settlement, SqliteLedger, StoredRecord, Usage,
};
use metering_core::{Customer, Hour, Quantity, RecordKey, Timestamp, UsageRecord};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A checkpoint of instance `instance`; `retry` commits its previous one again instead.
    Commit {
        instance: usize,
        retry: bool,
        deltas: Vec<(usize, usize, bool, i64, u64)>,
    },
    /// Seal with a grace of this many minutes.
    Seal(u64),
    SealCustomer(usize),
    /// Claim with a lease of this many seconds.
    Claim(u64),
    /// Settle the claim at this index (modulo) with this outcome.
    Settle(usize, u8),
    Requeue,
    Advance(u64),
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let delta = (
        0..4usize,
        0..2usize,
        any::<bool>(),
        -30..2i64,
        1..2_000_000u64,
    );
    prop_oneof![
        4 => (0..2usize, prop::bool::weighted(0.2), prop::collection::vec(delta, 1..6))
            .prop_map(|(instance, retry, deltas)| Op::Commit { instance, retry, deltas }),
        2 => (0..120u64).prop_map(Op::Seal),
        1 => (0..4usize).prop_map(Op::SealCustomer),
        2 => (1..600u64).prop_map(Op::Claim),
        2 => (any::<usize>(), 0..5u8).prop_map(|(i, o)| Op::Settle(i, o)),
        1 => Just(Op::Requeue),
        2 => (1..240u64).prop_map(Op::Advance),
        1 => Just(Op::Crash),
    ]
}

const STARTS: [&str; 3] = [
    "2026-11-26T10:20:00Z",
    "2026-11-30T21:40:00Z",
    "2026-12-01T04:50:00Z",
];

fn customers() -> [Customer; 4] {
    [
        customer("111111111111"),
        customer("222222222222"),
        licensed("222222222222"),
        licensed("333333333333"),
    ]
}

/// What the test knows independently of the ledger.
struct Model {
    now: Timestamp,
    /// Per instance: its id, next number, and the last checkpoint it committed.
    instances: Vec<(InstanceId, u64, Option<Checkpoint>)>,
    /// Micros committed per (customer, dimension).
    committed: BTreeMap<(Customer, String), u64>,
    claims: Vec<Claim>,
    /// Every record seen, as first sealed, and each terminal state once reached.
    sealed: HashMap<RecordId, UsageRecord>,
    terminal: HashMap<RecordId, RecordState>,
}

struct Run {
    path: std::path::PathBuf,
    ledger: SqliteLedger,
    model: Model,
}

impl Run {
    async fn apply(&mut self, op: Op) {
        let now = self.model.now;
        match op {
            Op::Commit {
                instance,
                retry,
                deltas,
            } => self.commit(instance, retry, &deltas).await,
            Op::Seal(grace) => {
                let until = now.saturating_sub(Duration::from_mins(grace));
                self.ledger.seal(until, now).await.unwrap();
            }
            Op::SealCustomer(c) => {
                self.ledger
                    .seal_customer(&customers()[c], now)
                    .await
                    .unwrap();
            }
            Op::Claim(lease) => {
                let owner = format!("owner-{}", self.model.claims.len());
                let lease = Duration::from_secs(lease);
                if let Some(claim) = self.ledger.claim(&owner, now, lease).await.unwrap() {
                    assert!((1..=25).contains(&claim.records.len()));
                    self.model.claims.push(claim);
                }
            }
            Op::Settle(index, outcome) => self.settle(index, outcome).await,
            Op::Requeue => {
                let quarantined = self
                    .ledger
                    .records(Some(RecordState::Quarantined))
                    .await
                    .unwrap();
                if let Some(record) = quarantined.first() {
                    assert!(self.ledger.requeue(record.id, now).await.unwrap());
                }
            }
            Op::Advance(minutes) => {
                self.model.now = now.saturating_add(Duration::from_mins(minutes));
            }
            Op::Crash => {
                // Every handle goes; the file stays.
                self.ledger = SqliteLedger::open(&self.path).unwrap();
            }
        }
        self.check_records().await;
    }

    async fn commit(
        &mut self,
        instance: usize,
        retry: bool,
        deltas: &[(usize, usize, bool, i64, u64)],
    ) {
        let now = self.model.now;
        let (id, next, last) = &mut self.model.instances[instance];
        let checkpoint = if let (true, Some(previous)) = (retry, last.clone()) {
            previous
        } else {
            let deltas = deltas
                .iter()
                .map(|&(c, d, tagged, hours, micros)| Delta {
                    key: key(
                        &customers()[c],
                        ["calls", "bytes"][d],
                        if tagged { &[("env", "prod")] } else { &[] },
                    ),
                    hour: Hour::of(shifted(now, hours)),
                    usage: Usage::Sum(Quantity::from_micros(micros).unwrap()),
                })
                .collect();
            *next += 1;
            Checkpoint {
                instance: *id,
                number: *next,
                deltas,
            }
        };
        let report = self.ledger.commit(&checkpoint, now).await.unwrap();
        assert_eq!(report.applied, !retry || last.is_none());
        if report.applied {
            for delta in &checkpoint.deltas {
                let key = (
                    delta.key.customer().clone(),
                    delta.key.dimension().to_string(),
                );
                let Usage::Sum(quantity) = delta.usage else {
                    unreachable!("the model commits sums")
                };
                *self.model.committed.entry(key).or_default() += quantity.micros();
            }
            *last = Some(checkpoint);
        }
    }

    async fn settle(&mut self, index: usize, outcome: u8) {
        if self.model.claims.is_empty() {
            return;
        }
        let now = self.model.now;
        let claim = &self.model.claims[index % self.model.claims.len()];
        let settlement = match outcome {
            0 => Settlement::Success {
                metering_record_id: format!("mr-{}", claim.owner),
            },
            1 => Settlement::NotSubscribed,
            2 => Settlement::Duplicate,
            3 => Settlement::Quarantined {
                reason: "model".into(),
            },
            _ => Settlement::Retry {
                error: "model".into(),
                retry_at: now.saturating_add(Duration::from_mins(5)),
            },
        };
        // The claim still holds a record when it is leased under the claim's attempt.
        let current: HashMap<RecordId, StoredRecord> = self
            .ledger
            .records(None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let held = claim
            .records
            .iter()
            .filter(|r| {
                let stored = &current[&r.id];
                stored.state == RecordState::Leased && stored.attempt == r.attempt
            })
            .count();
        let outcomes: Vec<_> = claim
            .records
            .iter()
            .map(|r| (r.id, settlement.clone()))
            .collect();
        let report = self.ledger.settle(claim, &outcomes, now).await.unwrap();
        assert_eq!(
            (report.settled, report.fenced),
            (held, claim.records.len() - held)
        );
    }

    /// Records are immutable, unique per key, and terminal states stay.
    async fn check_records(&mut self) {
        let records = self.ledger.records(None).await.unwrap();
        let mut keys: HashMap<RecordKey, RecordId> = HashMap::new();
        for stored in records {
            if let Some(other) = keys.insert(stored.record.key(), stored.id) {
                panic!("two records {other} and {} for one key", stored.id);
            }
            let first = self
                .model
                .sealed
                .entry(stored.id)
                .or_insert_with(|| stored.record.clone());
            assert_eq!(*first, stored.record, "record {} changed", stored.id);
            match self.model.terminal.get(&stored.id) {
                Some(state) => {
                    assert_eq!(*state, stored.state, "outcome of {} overwritten", stored.id);
                }
                None if stored.state.is_terminal() => {
                    self.model.terminal.insert(stored.id, stored.state);
                }
                None => {}
            }
        }
    }

    /// After sealing everything: each committed quantity is in exactly one record or set
    /// aside.
    async fn check_conservation(&mut self) {
        let far = self.model.now.saturating_add(Duration::from_hours(48));
        self.ledger.seal(far, far).await.unwrap();
        assert_eq!(self.ledger.status().await.unwrap().open_keys, 0);
        let mut found: BTreeMap<(Customer, String), u64> = BTreeMap::new();
        for stored in self.ledger.records(None).await.unwrap() {
            let record = &stored.record;
            let key = (record.customer().clone(), record.dimension().to_string());
            *found.entry(key).or_default() += record.quantity().micros();
        }
        for aside in self.ledger.set_aside().await.unwrap() {
            let key = (
                aside.key.customer().clone(),
                aside.key.dimension().to_string(),
            );
            *found.entry(key).or_default() += aside.quantity.micros();
        }
        assert_eq!(found, self.model.committed);
        self.check_records().await;
    }
}

/// `now` moved by `hours`, back when negative.
fn shifted(now: Timestamp, hours: i64) -> Timestamp {
    let by = Duration::from_hours(hours.unsigned_abs());
    if hours < 0 {
        now.saturating_sub(by)
    } else {
        now.saturating_add(by)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_keeps_every_quantity_once(
        start in 0..STARTS.len(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ledger.sqlite");
            let mut run = Run {
                ledger: SqliteLedger::open(&path).unwrap(),
                path,
                model: Model {
                    now: at(STARTS[start]),
                    instances: (0..2).map(|_| (InstanceId::random(), 0, None)).collect(),
                    committed: BTreeMap::new(),
                    claims: Vec::new(),
                    sealed: HashMap::new(),
                    terminal: HashMap::new(),
                },
            };
            for op in ops {
                run.apply(op).await;
            }
            run.check_conservation().await;
        });
    }
}

/// The other kinds against a model: maxima, distinct identifiers and levels committed by two
/// instances (some retried, some late), sealed at random moments with crashes between;
/// every sealed record is exactly the maximum, the distinct count or the integral of what
/// was committed (computed minute by minute), and every late observation is set aside.
mod kinds {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use metering_core::kind::Identifier;
    use metering_core::ledger::conformance::{at, customer, key};
    use metering_core::ledger::{
        Checkpoint, Delta, InstanceId, Ledger, LedgerInspection, LevelChange, SqliteLedger, Usage,
    };
    use metering_core::{Hour, Quantity, Timestamp};
    use proptest::prelude::*;

    const KINDS: [&str; 3] = ["hosts", "users", "gb_stored"];

    #[derive(Debug, Clone)]
    enum Op {
        /// (kind, minutes before now, value) per delta; `retry` commits the previous again.
        Commit {
            instance: usize,
            retry: bool,
            deltas: Vec<(usize, u64, u64)>,
        },
        /// Seal with this grace in minutes.
        Seal(u64),
        Advance(u64),
        Crash,
    }

    fn op() -> impl Strategy<Value = Op> {
        let delta = (0..3usize, 0..150u64, 0..5u64);
        prop_oneof![
            5 => (0..2usize, prop::bool::weighted(0.2), prop::collection::vec(delta, 1..5))
                .prop_map(|(instance, retry, deltas)| Op::Commit { instance, retry, deltas }),
            2 => (0..90u64).prop_map(Op::Seal),
            3 => (1..90u64).prop_map(Op::Advance),
            1 => Just(Op::Crash),
        ]
    }

    #[derive(Default)]
    struct Model {
        sealed_before: Option<Hour>,
        max: BTreeMap<Hour, u64>,
        distinct: BTreeMap<Hour, BTreeSet<u64>>,
        /// The level from each minute (since the epoch) on; at one minute the larger.
        levels: BTreeMap<i64, u64>,
        /// The integral of each sealed hour, as it was when sealed (in unit-minutes).
        level_sealed: BTreeMap<Hour, u64>,
        set_aside: usize,
    }

    fn minute(at: Timestamp) -> i64 {
        at.unix_seconds().div_euclid(60)
    }

    impl Model {
        fn commit(&mut self, kind: usize, at: Timestamp, value: u64) {
            let hour = Hour::of(at);
            let late = self.sealed_before.is_some_and(|open| hour < open);
            match (kind, late) {
                (0 | 1, true) => self.set_aside += 1,
                (0, false) => {
                    let max = self.max.entry(hour).or_default();
                    *max = (*max).max(value);
                }
                (1, false) => {
                    self.distinct.entry(hour).or_default().insert(value);
                }
                _ => {
                    // A late change keeps its instant: the sealed hours' integrals stand.
                    self.set_aside += usize::from(late);
                    let level = self.levels.entry(minute(at)).or_default();
                    *level = (*level).max(value);
                }
            }
        }

        /// The level's integral over `hour` from the levels known now, in unit-minutes.
        fn level_minutes(&self, hour: Hour) -> u64 {
            let start = minute(hour.start());
            (start..start + 60)
                .map(|m| self.levels.range(..=m).next_back().map_or(0, |(_, &l)| l))
                .sum()
        }

        /// Seals every hour before `until`: their levels' integrals are final.
        fn seal(&mut self, until: Hour) {
            if let Some(&first) = self.levels.keys().next() {
                let first = Hour::of(Timestamp::from_unix_seconds(first * 60).unwrap());
                let mut hour = self.sealed_before.map_or(first, |open| open.max(first));
                while hour < until {
                    self.level_sealed.insert(hour, self.level_minutes(hour));
                    hour = Hour::of(hour.start().saturating_add(Duration::from_hours(1)));
                }
            }
            self.sealed_before = self.sealed_before.max(Some(until));
        }

        /// Every record the ledger must have sealed before `before`: (dimension, hour) ->
        /// quantity.
        fn expected(&self, before: Hour) -> BTreeMap<(String, Hour), Quantity> {
            let mut records = BTreeMap::new();
            for (&hour, &max) in &self.max {
                records.insert((KINDS[0].to_owned(), hour), Quantity::new(max).unwrap());
            }
            for (&hour, ids) in &self.distinct {
                let count = Quantity::new(ids.len() as u64).unwrap();
                records.insert((KINDS[1].to_owned(), hour), count);
            }
            for (&hour, &unit_minutes) in self.level_sealed.range(..before) {
                // Millionths of unit-hours, half-up.
                let micros = (unit_minutes * 1_000_000 + 30) / 60;
                if micros > 0 {
                    let quantity = Quantity::from_micros(micros).unwrap();
                    records.insert((KINDS[2].to_owned(), hour), quantity);
                }
            }
            records
        }
    }

    fn usage(kind: usize, at: Timestamp, value: u64) -> Usage {
        match kind {
            0 => Usage::Max(Quantity::new(value).unwrap()),
            1 => Usage::Distinct(vec![Identifier::from(value)]),
            _ => Usage::Level(vec![LevelChange {
                at,
                level: Quantity::new(value).unwrap(),
            }]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_kind_bills_exactly_what_was_committed(ops in prop::collection::vec(op(), 1..40)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("ledger.sqlite");
                let mut ledger = SqliteLedger::open(&path).unwrap();
                let keys = KINDS.map(|dimension| key(&customer("111111111111"), dimension, &[]));
                let mut model = Model::default();
                let mut now = at("2026-11-26T10:00:00Z");
                let mut instances: Vec<(InstanceId, u64, Option<Checkpoint>)> =
                    (0..2).map(|_| (InstanceId::random(), 0, None)).collect();
                for op in ops {
                    match op {
                        Op::Commit { instance, retry, deltas } => {
                            let (id, next, last) = &mut instances[instance];
                            if let (true, Some(previous)) = (retry, last.as_ref()) {
                                let report = ledger.commit(previous, now).await.unwrap();
                                assert!(!report.applied, "a retry applies once");
                                continue;
                            }
                            *next += 1;
                            let deltas: Vec<(usize, Timestamp, u64)> = deltas
                                .into_iter()
                                .map(|(kind, back, value)| {
                                    let at = now.saturating_sub(Duration::from_mins(back));
                                    (kind, at.max(at_start()), value)
                                })
                                .collect();
                            let checkpoint = Checkpoint {
                                instance: *id,
                                number: *next,
                                deltas: deltas
                                    .iter()
                                    .map(|&(kind, at, value)| Delta {
                                        key: keys[kind].clone(),
                                        hour: Hour::of(at),
                                        usage: usage(kind, at, value),
                                    })
                                    .collect(),
                            };
                            assert!(ledger.commit(&checkpoint, now).await.unwrap().applied);
                            for (kind, at, value) in deltas {
                                model.commit(kind, at, value);
                            }
                            *last = Some(checkpoint);
                        }
                        Op::Seal(grace) => {
                            let until = now.saturating_sub(Duration::from_mins(grace));
                            ledger.seal(until, now).await.unwrap();
                            model.seal(Hour::of(until));
                        }
                        Op::Advance(minutes) => now = now.saturating_add(Duration::from_mins(minutes)),
                        Op::Crash => ledger = SqliteLedger::open(&path).unwrap(),
                    }
                }
                let end = now.saturating_add(Duration::from_hours(3));
                ledger.seal(end, end).await.unwrap();
                model.seal(Hour::of(end));
                let sealed: BTreeMap<(String, Hour), Quantity> = ledger
                    .records(None)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|stored| {
                        let record = stored.record;
                        let key = (record.dimension().to_string(), Hour::of(record.timestamp()));
                        (key, record.quantity())
                    })
                    .collect();
                assert_eq!(sealed, model.expected(Hour::of(end)));
                assert_eq!(ledger.set_aside().await.unwrap().len(), model.set_aside);
            });
        }
    }

    /// No usage before the first hour of the run.
    fn at_start() -> Timestamp {
        at("2026-11-26T08:00:00Z")
    }
}
