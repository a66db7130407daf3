//! Every kind through the Meter: what checkpoints carry for maxima, identifiers and levels
//! (two checkpoints, the hour's turn, late observations, the close), and, on a real
//! `SQLite` file across a restart, what is billed: maxima of maxima, unions of identifiers,
//! a level's integral across hours.

use super::*;
use crate::kind::{self, Identifier};
use crate::ledger::{LevelChange, Usage as Seen};

macro_rules! dimension {
    ($name:ident, $kind:ty, $key:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        struct $name;
        impl crate::__private::DerivedDimension for $name {}
        impl Dimension for $name {
            type Kind = $kind;
            const ALL: &'static [Self] = &[Self];
            fn as_str(self) -> &'static str {
                $key
            }
        }
    };
}

dimension!(Hosts, kind::Max, "hosts");
dimension!(Users, kind::Distinct, "users");
dimension!(Stored, kind::Level, "stored_gb");
// A sum of the same name as the distinct one: a key apart.
dimension!(UserCalls, kind::Sum, "users");

impl MemoryLedger {
    /// Every delta committed, as `(key, hour, usage)`, in commit order.
    fn deltas(&self) -> Vec<(String, String, Seen)> {
        self.committed
            .lock()
            .unwrap()
            .iter()
            .flat_map(|checkpoint| checkpoint.deltas.iter())
            .map(|delta| {
                (
                    describe(&delta.key),
                    delta.hour.start().to_string(),
                    delta.usage.clone(),
                )
            })
            .collect()
    }

    /// What was committed for hour `hour` (its start, as RFC 3339), in commit order.
    fn of_hour(&self, hour: &str) -> Vec<Seen> {
        let hour = at(hour).to_string();
        self.deltas()
            .into_iter()
            .filter(|(_, of, _)| *of == hour)
            .map(|(_, _, usage)| usage)
            .collect()
    }
}

fn ids(ids: &[Identifier]) -> Seen {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    Seen::Distinct(ids)
}

/// A meter that takes checkpoints only when asked (its interval is an hour, its clock
/// manual), so that what each carries is known.
fn quiet_meter(ledger: &Arc<MemoryLedger>, clock: &ManualClock) -> Meter {
    meter_with(ledger, clock, |config| {
        config.with_commit_interval(Duration::from_hours(1))
    })
}

fn level(text: &str, level: &str) -> LevelChange {
    LevelChange {
        at: at(text),
        level: q(level),
    }
}

#[tokio::test]
async fn a_maximum_is_the_hours_highest_observation_taken_when_it_grows() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = quiet_meter(&ledger, &clock);
    let a = customer("111111111111");
    let hosts = meter.usage(&a, Hosts).handle().unwrap();
    for level in ["3", "7", "5"] {
        hosts.observe(q(level)).unwrap();
    }
    meter.commit().await.unwrap();
    // Below the maximum: nothing new to take.
    meter.usage(&a, Hosts).observe(q("6")).unwrap();
    meter.commit().await.unwrap();
    hosts.observe(q("9")).unwrap();
    meter.commit().await.unwrap();
    assert_eq!(
        ledger.of_hour("2026-12-01T05:00:00Z"),
        [Seen::Max(q("7")), Seen::Max(q("9"))]
    );
    clock.advance(Duration::from_hours(1));
    meter.commit().await.unwrap(); // the meter reads its clock
    hosts.observe(q("2")).unwrap();
    // The previous hour, still in the key's window: its maximum stays 9.
    hosts
        .observe_at(q("4"), at("2026-12-01T05:10:00Z"))
        .unwrap();
    // Three hours late: outside the window, kept aside, a maximum still.
    hosts
        .observe_at(q("11"), at("2026-12-01T03:10:00Z"))
        .unwrap();
    hosts
        .observe_at(q("10"), at("2026-12-01T03:20:00Z"))
        .unwrap();
    hosts.observe_durable(q("1")).await.unwrap();
    assert_eq!(
        ledger.of_hour("2026-12-01T05:00:00Z"),
        [Seen::Max(q("7")), Seen::Max(q("9"))]
    );
    assert_eq!(ledger.of_hour("2026-12-01T06:00:00Z"), [Seen::Max(q("2"))]);
    assert_eq!(ledger.of_hour("2026-12-01T03:00:00Z"), [Seen::Max(q("11"))]);
    meter.shutdown().await.unwrap();
    assert!(matches!(hosts.observe(q("1")), Err(MeterError::Closed)));
    assert!(matches!(
        hosts.observe_at(q("1"), at("2026-12-01T01:00:00Z")),
        Err(MeterError::Closed)
    ));
}

#[tokio::test]
async fn distinct_identifiers_are_taken_once_per_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = quiet_meter(&ledger, &clock);
    let a = customer("111111111111");
    let users = meter.usage(&a, Users).handle().unwrap();
    users.mark("alice").unwrap();
    users.mark("bob".to_owned()).unwrap();
    users.mark("alice").unwrap();
    meter.usage(&a, Users).mark(7_u64).unwrap();
    meter.commit().await.unwrap();
    users.mark("bob").unwrap();
    users.mark("carol").unwrap();
    meter.commit().await.unwrap();
    let (alice, bob, carol) = (
        Identifier::from("alice"),
        Identifier::from("bob"),
        Identifier::from("carol"),
    );
    assert_eq!(
        ledger.of_hour("2026-12-01T05:00:00Z"),
        [ids(&[alice, bob, Identifier::from(7_u64)]), ids(&[carol])]
    );
    clock.advance(Duration::from_hours(1));
    meter.commit().await.unwrap(); // the meter reads its clock
    users.mark("alice").unwrap();
    // The previous hour is still held: a repeat is not sent again.
    users.mark_at("carol", at("2026-12-01T05:59:00Z")).unwrap();
    users.mark_at("dave", at("2026-12-01T05:59:00Z")).unwrap();
    // An hour the key no longer holds: sent, for the ledger to take or set aside.
    users.mark_at("erin", at("2026-12-01T03:00:00Z")).unwrap();
    users.mark_durable("alice").await.unwrap();
    assert_eq!(ledger.of_hour("2026-12-01T06:00:00Z"), [ids(&[alice])]);
    assert_eq!(
        ledger.of_hour("2026-12-01T05:00:00Z")[2..],
        [ids(&[Identifier::from("dave")])]
    );
    assert_eq!(
        ledger.of_hour("2026-12-01T03:00:00Z"),
        [ids(&[Identifier::from("erin")])]
    );
    meter.shutdown().await.unwrap();
    assert!(matches!(users.mark("frank"), Err(MeterError::Closed)));
}

#[tokio::test]
async fn level_changes_are_passed_on_once_by_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at("2026-12-01T10:20:00Z"));
    let meter = quiet_meter(&ledger, &clock);
    let a = customer("111111111111");
    let stored = meter.usage(&a, Stored).handle().unwrap();
    stored.set(q("6")).unwrap();
    // Two levels at one instant: the larger holds, as in the ledger.
    stored.set_at(q("7"), at("2026-12-01T10:20:00Z")).unwrap();
    meter.commit().await.unwrap();
    meter.commit().await.unwrap();
    clock.set(at("2026-12-01T12:40:00Z"));
    meter.usage(&a, Stored).set(q("3")).unwrap();
    // A change of the past is passed on: the ledger places it.
    stored.set_at(q("5"), at("2026-12-01T09:00:00Z")).unwrap();
    // Set at one instant (the clock did not move): the larger holds.
    stored.set_durable(q("2")).await.unwrap();
    let key = "prod-1/111111111111 stored_gb";
    let hour = |text: &str| at(text).to_string();
    assert_eq!(
        ledger.deltas(),
        [
            (
                key.to_owned(),
                hour("2026-12-01T10:00:00Z"),
                Seen::Level(vec![level("2026-12-01T10:20:00Z", "7")])
            ),
            (
                key.to_owned(),
                hour("2026-12-01T09:00:00Z"),
                Seen::Level(vec![level("2026-12-01T09:00:00Z", "5")])
            ),
            (
                key.to_owned(),
                hour("2026-12-01T12:00:00Z"),
                Seen::Level(vec![level("2026-12-01T12:40:00Z", "3")])
            ),
        ]
    );
    meter.shutdown().await.unwrap();
    assert!(matches!(stored.set(q("1")), Err(MeterError::Closed)));
}

/// Two dimension types of one name and different kinds record apart (the ledger sets aside
/// the kind that is not the key's); a registered distinct pair's zero is an empty set.
#[tokio::test]
async fn kinds_of_one_name_stay_apart_and_registered_zeros_have_the_kind() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let (a, b) = (customer("111111111111"), customer("222222222222"));
    meter.record(&a, UserCalls, q("2")).unwrap();
    meter.usage(&a, Users).mark(1_u64).unwrap();
    meter.register(&b, Users);
    meter.register(&b, Hosts);
    meter.register(&b, Stored);
    meter.commit().await.unwrap();
    let mut deltas = ledger.deltas();
    deltas.sort_by(|one, other| (&one.0, one.2.kind()).cmp(&(&other.0, other.2.kind())));
    let hour = at("2026-12-01T05:00:00Z").to_string();
    let expected = [
        ("prod-1/111111111111 users", Seen::Sum(q("2"))),
        ("prod-1/111111111111 users", ids(&[Identifier::from(1_u64)])),
        ("prod-1/222222222222 hosts", Seen::Max(q("0"))),
        ("prod-1/222222222222 users", Seen::Distinct(Vec::new())),
    ]
    .map(|(key, usage)| (key.to_owned(), hour.clone(), usage));
    assert_eq!(deltas, expected);
    meter.shutdown().await.unwrap();
}

/// A key of every kind is forgotten once its hours have left the window and nothing waits
/// (a level's changes are the ledger's once committed), but not while a handle holds it; a
/// forgotten key opens again when it is next recorded.
#[tokio::test]
async fn idle_keys_of_every_kind_are_forgotten() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = quiet_meter(&ledger, &clock);
    let a = customer("111111111111");
    meter.usage(&a, Hosts).observe(q("3")).unwrap();
    meter.usage(&a, Users).mark("alice").unwrap();
    meter.usage(&a, Stored).set(q("6")).unwrap();
    let held = meter
        .usage(&a, Users)
        .tag_set(&tags(&[("team", "x")]))
        .handle()
        .unwrap();
    meter.commit().await.unwrap();
    assert_eq!(meter.status().await.unwrap().open_keys, 4);
    for _ in 0..3 {
        clock.advance(Duration::from_hours(1));
        meter.commit().await.unwrap();
    }
    assert_eq!(meter.status().await.unwrap().open_keys, 1);
    held.mark("bob").unwrap();
    meter.usage(&a, Users).mark("alice").unwrap();
    meter.commit().await.unwrap();
    assert_eq!(meter.status().await.unwrap().open_keys, 2);
    let hour = at("2026-12-01T08:00:00Z").to_string();
    let last: Vec<_> = ledger
        .deltas()
        .into_iter()
        .filter(|(_, of, _)| *of == hour)
        .collect();
    assert_eq!(last.len(), 2, "{last:?}");
    meter.shutdown().await.unwrap();
}

/// Many threads mark and observe while checkpoints run and the hour turns: every
/// identifier is committed, and the highest observation is.
#[tokio::test]
async fn concurrent_marks_and_observations_with_turns_lose_nothing() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at("2026-12-01T05:59:59Z"));
    let meter = Arc::new(meter_with(&ledger, &clock, |config| {
        config.with_commit_interval(Duration::from_millis(1))
    }));
    let a = customer("111111111111");
    let threads: Vec<_> = (0..4_u64)
        .map(|thread| {
            let (meter, a) = (meter.clone(), a.clone());
            std::thread::spawn(move || {
                for i in 0..5_000_u64 {
                    // Each identifier once, in whichever hour it falls.
                    let id = thread * 1_000_000 + i;
                    meter.usage(&a, Users).mark(id).unwrap();
                    let level = Quantity::new(i % 1000).unwrap();
                    meter.usage(&a, Hosts).observe(level).unwrap();
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    clock.advance(Duration::from_secs(2));
    // The writer runs on this runtime meanwhile: wait without blocking it.
    for thread in threads {
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
    }
    let meter = Arc::into_inner(meter).unwrap();
    meter.shutdown().await.unwrap();
    let mut committed = std::collections::BTreeSet::new();
    let mut highest = Quantity::ZERO;
    for (_, _, usage) in ledger.deltas() {
        match usage {
            Seen::Distinct(ids) => committed.extend(ids.into_iter().map(Identifier::as_u128)),
            Seen::Max(max) => highest = highest.max(max),
            other => panic!("{other:?}"),
        }
    }
    let expected: std::collections::BTreeSet<u128> = (0..4_u128)
        .flat_map(|thread| (0..5_000).map(move |i| thread * 1_000_000 + i))
        .collect();
    assert_eq!(committed, expected);
    assert_eq!(highest, q("999"));
}

#[cfg(feature = "sqlite")]
mod on_sqlite {
    use super::*;
    use crate::ledger::{LedgerInspection, SqliteLedger};

    fn meter_on(path: &std::path::Path, clock: &ManualClock) -> Meter {
        Meter::builder()
            .config(MeterConfig::new().with_clock(clock.clone()))
            .ledger(SqliteLedger::open(path).unwrap())
            .build()
            .unwrap()
    }

    /// What the ledger bills, as `(dimension, hour, quantity)`, sorted.
    async fn billed(ledger: &SqliteLedger) -> Vec<(String, String, Quantity)> {
        let mut billed: Vec<_> = ledger
            .records(None)
            .await
            .unwrap()
            .iter()
            .map(|stored| {
                let record = &stored.record;
                (
                    record.dimension().as_str().to_owned(),
                    record.timestamp().to_string(),
                    record.quantity(),
                )
            })
            .collect();
        billed.sort();
        billed
    }

    /// `(dimension, hour, quantity)` rows as [`billed`] gives them.
    fn rows(rows: &[(&str, &str, &str)]) -> Vec<(String, String, Quantity)> {
        rows.iter()
            .map(|&(dimension, hour, quantity)| {
                (dimension.to_owned(), at(hour).to_string(), q(quantity))
            })
            .collect()
    }

    /// A process records, closes; another starts on the file (a restart) and records more:
    /// sealed, each hour bills the maximum of both processes' maxima, the union of their
    /// identifiers, and the level's integral over 10:20 → 12:40 across three hours, carried
    /// through the hours no process set it.
    #[tokio::test]
    async fn every_kind_bills_exactly_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite");
        let a = customer("111111111111");
        let clock = ManualClock::new(at("2026-12-01T10:20:00Z"));
        let first = meter_on(&path, &clock);
        first.usage(&a, Hosts).observe(q("5")).unwrap();
        for user in ["alice", "bob", "carol"] {
            first.usage(&a, Users).mark(user).unwrap();
        }
        first.usage(&a, Stored).set_durable(q("6")).await.unwrap();
        first.close().await.unwrap();
        clock.set(at("2026-12-01T10:50:00Z"));
        let second = meter_on(&path, &clock);
        second.usage(&a, Hosts).observe(q("4")).unwrap();
        for user in ["bob", "carol", "dave"] {
            second.usage(&a, Users).mark(user).unwrap();
        }
        second.commit().await.unwrap();
        clock.set(at("2026-12-01T12:40:00Z"));
        second.usage(&a, Stored).set(q("3")).unwrap();
        second.close().await.unwrap();
        let ledger = SqliteLedger::open(&path).unwrap();
        ledger
            .seal(at("2026-12-01T13:00:00Z"), at("2026-12-01T13:05:00Z"))
            .await
            .unwrap();
        assert_eq!(
            billed(&ledger).await,
            rows(&[
                ("hosts", "2026-12-01T10:00:00Z", "5"),
                // 6 for 40 minutes, 6 for an hour, 6 for 40 minutes and 3 for 20.
                ("stored_gb", "2026-12-01T10:00:00Z", "4"),
                ("stored_gb", "2026-12-01T11:00:00Z", "6"),
                ("stored_gb", "2026-12-01T12:00:00Z", "5"),
                ("users", "2026-12-01T10:00:00Z", "4"),
            ])
        );
    }

    /// Observations of an hour already sealed, per the ledger's rules: a maximum or an
    /// identifier is set aside (in another hour it would mean something else); a level's
    /// change holds from the oldest open hour on, and is set aside too, to be seen.
    #[tokio::test]
    async fn late_observations_of_a_sealed_hour_follow_the_ledgers_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite");
        let a = customer("111111111111");
        let clock = ManualClock::new(at("2026-12-01T11:05:00Z"));
        let meter = meter_on(&path, &clock);
        let ledger = SqliteLedger::open(&path).unwrap();
        meter.usage(&a, Hosts).observe(q("2")).unwrap();
        meter.commit().await.unwrap();
        ledger
            .seal(at("2026-12-01T11:00:00Z"), at("2026-12-01T11:05:00Z"))
            .await
            .unwrap();
        let late = at("2026-12-01T10:30:00Z");
        meter.usage(&a, Hosts).at(late).observe(q("9")).unwrap();
        meter.usage(&a, Users).at(late).mark("alice").unwrap();
        meter.usage(&a, Stored).at(late).set(q("6")).unwrap();
        meter.close().await.unwrap();
        ledger
            .seal(at("2026-12-01T12:00:00Z"), at("2026-12-01T12:05:00Z"))
            .await
            .unwrap();
        assert_eq!(
            billed(&ledger).await,
            rows(&[
                ("hosts", "2026-12-01T11:00:00Z", "2"),
                ("stored_gb", "2026-12-01T11:00:00Z", "6"),
            ])
        );
        let mut aside: Vec<_> = ledger
            .set_aside()
            .await
            .unwrap()
            .into_iter()
            .map(|entry| {
                assert!(entry.reason.starts_with("late"), "{}", entry.reason);
                (entry.key.dimension().as_str().to_owned(), entry.quantity)
            })
            .collect();
        aside.sort();
        let expected = [("hosts", "9"), ("stored_gb", "6"), ("users", "1")];
        assert_eq!(
            aside,
            expected.map(|(key, quantity)| (key.to_owned(), q(quantity)))
        );
    }
}

/// An account recorded under a product code and under a licence in one hour is billed twice
/// by the service: whatever the kind, the second way is refused, naming the first.
#[tokio::test]
async fn an_account_is_recorded_one_way_in_an_hour_whatever_the_kind() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = quiet_meter(&ledger, &clock);
    let (by_product, by_licence) = (customer("111111111111"), licensed("111111111111"));
    meter.usage(&by_product, Users).mark("alice").unwrap();
    let two_ways = |refused: Result<(), MeterError>| {
        matches!(
            refused,
            Err(MeterError::BilledTwoWays {
                recorded: "under a product code",
                ..
            })
        )
    };
    assert!(two_ways(meter.usage(&by_licence, Users).mark("bob")));
    assert!(two_ways(meter.usage(&by_licence, Hosts).observe(q("3"))));
    assert!(two_ways(meter.usage(&by_licence, Stored).set(q("5"))));
    // The product code's own usage of every kind goes on.
    meter.usage(&by_product, Hosts).observe(q("3")).unwrap();
    meter.usage(&by_product, Stored).set(q("5")).unwrap();
    meter.commit().await.unwrap();
    let keys: std::collections::BTreeSet<String> =
        ledger.deltas().into_iter().map(|(key, _, _)| key).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|key| !key.contains("license")), "{keys:?}");
}

/// The durable calls of a `Recording` (not a handle) record, and resolve once committed.
#[tokio::test]
async fn a_recordings_durable_calls_resolve_once_committed() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = quiet_meter(&ledger, &clock);
    let customer = customer("111111111111");
    meter
        .usage(&customer, Hosts)
        .observe_durable(q("3"))
        .await
        .unwrap();
    meter
        .usage(&customer, Users)
        .mark_durable("alice")
        .await
        .unwrap();
    meter
        .usage(&customer, Stored)
        .at(at("2026-12-01T05:10:00Z"))
        .set_durable(q("2"))
        .await
        .unwrap();
    // No commit asked for: each call waited for its own.
    let hour = ledger.of_hour("2026-12-01T05:00:00Z");
    assert!(hour.contains(&Seen::Max(q("3"))), "{hour:?}");
    assert!(
        hour.contains(&ids(&[Identifier::from("alice")])),
        "{hour:?}"
    );
    assert!(
        hour.contains(&Seen::Level(vec![level("2026-12-01T05:10:00Z", "2")])),
        "{hour:?}"
    );
    meter.close().await.unwrap();
    let closed = meter.usage(&customer, Hosts).observe_durable(q("4")).await;
    assert!(matches!(closed, Err(MeterError::Closed)), "{closed:?}");
}
