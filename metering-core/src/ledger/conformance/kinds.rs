//! Conformance cases for the kinds of usage other than sums: maxima, distinct counts and
//! levels merge across handles and instances, retries apply once, late observations and a
//! kind other than the key's are set aside with a reason.

use std::sync::Arc;

use super::Harness;
use super::fixtures::{at, checkpoint, customer, delta, hour, key, quantity, sealed};
use crate::kind::{Identifier, Kind};
use crate::ledger::{Delta, InstanceId, Ledger, LedgerInspection, LevelChange, Usage, UsageKey};

/// A delta of `usage` of `key` in the hour `instant` (RFC 3339) falls in.
#[must_use]
pub fn usage_delta(key: &Arc<UsageKey>, instant: &str, usage: Usage) -> Delta {
    Delta {
        key: Arc::clone(key),
        hour: hour(instant),
        usage,
    }
}

/// Level changes, each an instant (RFC 3339) and a level.
#[must_use]
pub fn levels(changes: &[(&str, &str)]) -> Usage {
    Usage::Level(
        changes
            .iter()
            .map(|&(instant, level)| LevelChange {
                at: at(instant),
                level: quantity(level),
            })
            .collect(),
    )
}

fn ids(values: &[u64]) -> Usage {
    Usage::Distinct(values.iter().map(|&v| Identifier::from(v)).collect())
}

/// The hour's quantity of each sealed record, as (hour, quantity) text.
async fn billed(ledger: &impl LedgerInspection) -> Vec<(String, String)> {
    sealed(ledger)
        .await
        .into_iter()
        .map(|(_, _, hour, quantity)| (hour.to_string(), quantity.to_string()))
        .collect()
}

/// The kind of each sealed record (its keys' kind, as the ledger stored it).
async fn kinds(ledger: &impl LedgerInspection) -> Vec<Kind> {
    let records = ledger.records(None).await.unwrap();
    records.iter().map(|stored| stored.kind).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|&(hour, quantity)| (hour.to_owned(), quantity.to_owned()))
        .collect()
}

/// Maxima merge by maximum across handles and instances; a retry applies once; a maximum
/// of a sealed hour is set aside as late.
pub async fn max_merges_by_maximum(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let hosts = key(&customer("111111111111"), "hosts", &[]);
    let now = at("2026-11-26T10:50:00Z");
    let max = |q: &str| Usage::Max(quantity(q));
    let (a, b) = (InstanceId::random(), InstanceId::random());
    let first = checkpoint(
        a,
        1,
        vec![usage_delta(&hosts, "2026-11-26T10:05:00Z", max("7"))],
    );
    assert!(one.commit(&first, now).await.unwrap().applied);
    assert!(!two.commit(&first, now).await.unwrap().applied);
    let lower = checkpoint(
        b,
        1,
        vec![usage_delta(&hosts, "2026-11-26T10:40:00Z", max("3"))],
    );
    two.commit(&lower, now).await.unwrap();
    let later = checkpoint(
        a,
        2,
        vec![usage_delta(&hosts, "2026-11-26T10:45:00Z", max("5"))],
    );
    one.commit(&later, now).await.unwrap();
    two.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    assert_eq!(billed(&one).await, pairs(&[("2026-11-26T10:00:00Z", "7")]));
    assert_eq!(kinds(&two).await, [Kind::Max]);
    let late = checkpoint(
        b,
        2,
        vec![usage_delta(&hosts, "2026-11-26T10:55:00Z", max("9"))],
    );
    let report = one.commit(&late, now).await.unwrap();
    assert_eq!((report.set_aside, report.late), (1, 0));
    let aside = one.set_aside().await.unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        (aside[0].hour, aside[0].quantity),
        (hour("2026-11-26T10:00:00Z"), quantity("9"))
    );
    assert!(aside[0].reason.starts_with("late"), "{}", aside[0].reason);
    assert_eq!(aside[0].kind, Kind::Max);
}

/// Distinct identifiers merge by union across handles and instances and are counted at
/// seal, per hour; a retry applies once; identifiers of a sealed hour are set aside.
pub async fn distinct_counts_the_union(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let users = key(&customer("111111111111"), "users", &[]);
    let now = at("2026-11-26T11:50:00Z");
    let (a, b) = (InstanceId::random(), InstanceId::random());
    let first = checkpoint(
        a,
        1,
        vec![
            usage_delta(&users, "2026-11-26T10:05:00Z", ids(&[1, 2, 3])),
            usage_delta(&users, "2026-11-26T11:05:00Z", ids(&[1])),
        ],
    );
    one.commit(&first, now).await.unwrap();
    assert!(!two.commit(&first, now).await.unwrap().applied);
    let other = checkpoint(
        b,
        1,
        vec![usage_delta(&users, "2026-11-26T10:30:00Z", ids(&[3, 4]))],
    );
    two.commit(&other, now).await.unwrap();
    let by_name = Usage::Distinct(vec![Identifier::from("user-5")]);
    let named = checkpoint(
        a,
        2,
        vec![usage_delta(&users, "2026-11-26T10:40:00Z", by_name)],
    );
    one.commit(&named, now).await.unwrap();
    one.seal(at("2026-11-26T12:00:00Z"), now).await.unwrap();
    assert_eq!(
        billed(&two).await,
        pairs(&[("2026-11-26T10:00:00Z", "5"), ("2026-11-26T11:00:00Z", "1")])
    );
    assert_eq!(kinds(&one).await, [Kind::Distinct, Kind::Distinct]);
    let late = checkpoint(
        b,
        2,
        vec![usage_delta(&users, "2026-11-26T11:59:00Z", ids(&[8, 9]))],
    );
    assert_eq!(two.commit(&late, now).await.unwrap().set_aside, 1);
    let aside = one.set_aside().await.unwrap();
    assert_eq!(aside[0].quantity, quantity("2"));
    assert!(
        aside[0].reason.contains("identifiers"),
        "{}",
        aside[0].reason
    );
}

/// A level holds until it changes: billed per hour as its integral, carried across hours
/// with no commit (no process running), from two instances (at one instant the larger
/// wins); a change of a sealed hour is set aside with its level, and takes effect from the
/// oldest open hour only if no later change came before it (of a key new or not).
pub async fn level_integrates_across_hours_and_instances(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let stored = key(&customer("111111111111"), "gb_stored", &[]);
    let (a, b) = (InstanceId::random(), InstanceId::random());
    let set = |instance, number, instant: &str, changes: &[(&str, &str)]| {
        checkpoint(
            instance,
            number,
            vec![usage_delta(&stored, instant, levels(changes))],
        )
    };
    let now = at("2026-11-26T10:30:00Z");
    let first = set(
        a,
        1,
        "2026-11-26T10:20:00Z",
        &[("2026-11-26T10:20:00Z", "6")],
    );
    one.commit(&first, now).await.unwrap();
    assert!(!two.commit(&first, now).await.unwrap().applied);
    let held = two.levels().await.unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (&held[0].key, held[0].level, held[0].since),
        (&*stored, quantity("6"), at("2026-11-26T10:20:00Z"))
    );
    one.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    // Sealing keeps the level carried on.
    assert_eq!(one.levels().await.unwrap(), held);
    // No process for two hours: the level still bills.
    two.seal(at("2026-11-26T13:00:00Z"), now).await.unwrap();
    let now = at("2026-11-26T13:50:00Z");
    let ours = set(
        a,
        2,
        "2026-11-26T13:30:00Z",
        &[("2026-11-26T13:30:00Z", "2")],
    );
    let theirs = set(
        b,
        1,
        "2026-11-26T13:30:00Z",
        &[("2026-11-26T13:30:00Z", "3"), ("2026-11-26T13:45:00Z", "0")],
    );
    one.commit(&ours, now).await.unwrap();
    two.commit(&theirs, now).await.unwrap();
    assert_eq!(one.levels().await.unwrap(), [], "set to 0: no level held");
    one.seal(at("2026-11-26T14:00:00Z"), now).await.unwrap();
    let now = at("2026-11-26T14:10:00Z");
    let late = set(
        a,
        3,
        "2026-11-26T12:10:00Z",
        &[("2026-11-26T12:10:00Z", "9")],
    );
    let report = two.commit(&late, now).await.unwrap();
    assert_eq!(report.set_aside, 1);
    // A key whose first change is late: billed from the oldest open hour, not before.
    let archived = key(&customer("111111111111"), "gb_archived", &[]);
    let first_late = checkpoint(
        b,
        2,
        vec![usage_delta(
            &archived,
            "2026-11-26T13:20:00Z",
            levels(&[("2026-11-26T13:20:00Z", "5")]),
        )],
    );
    assert_eq!(one.commit(&first_late, now).await.unwrap().set_aside, 1);
    two.seal(at("2026-11-26T16:00:00Z"), now).await.unwrap();
    // The late 9 (12:10) came before the 0 (13:45): from 14:00 the level is 0.
    assert_eq!(
        billed(&one).await,
        pairs(&[
            ("2026-11-26T10:00:00Z", "4"),
            ("2026-11-26T11:00:00Z", "6"),
            ("2026-11-26T12:00:00Z", "6"),
            ("2026-11-26T13:00:00Z", "3.75"),
            ("2026-11-26T14:00:00Z", "5"),
            ("2026-11-26T15:00:00Z", "5"),
        ])
    );
    let aside = one.set_aside().await.unwrap();
    assert_eq!(aside[0].quantity, quantity("9"));
    assert!(aside[0].reason.contains("12:10:00"), "{}", aside[0].reason);
    assert_eq!(
        (aside[0].kind, kinds(&two).await),
        (Kind::Level, vec![Kind::Level; 6])
    );
}

/// Each tag set is a key of its own, merged by its kind; the hour's record has an allocation
/// per tag set and their sum as its quantity (the service's rule): the maxima of each tag
/// set added up, an identifier seen under two tag sets counted in each.
pub async fn tag_sets_of_every_kind_are_allocations_that_add_up(harness: &impl Harness) {
    let ledger = harness.open();
    let account = customer("111111111111");
    let (search, ads) = (&[("team", "search")], &[("team", "ads")]);
    let now = at("2026-11-26T10:50:00Z");
    let max = |q| Usage::Max(quantity(q));
    let deltas = [
        ("hosts", search, "2026-11-26T10:05:00Z", max("3")),
        ("hosts", search, "2026-11-26T10:35:00Z", max("2")),
        ("hosts", ads, "2026-11-26T10:35:00Z", max("4")),
        ("users", search, "2026-11-26T10:05:00Z", ids(&[1, 2])),
        ("users", ads, "2026-11-26T10:06:00Z", ids(&[2, 3])),
    ]
    .map(|(dimension, tags, instant, usage)| {
        usage_delta(&key(&account, dimension, tags), instant, usage)
    });
    let first = checkpoint(InstanceId::random(), 1, deltas.to_vec());
    ledger.commit(&first, now).await.unwrap();
    ledger.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    // Per record: its dimension, quantity and allocations.
    let mut records = Vec::new();
    for stored in ledger.records(None).await.unwrap() {
        let record = stored.record;
        let allocated = record.allocations().unwrap_or_default();
        let sum: u64 = allocated.iter().map(|a| a.quantity.micros()).sum();
        assert_eq!(sum, record.quantity().micros(), "allocations add up");
        let mut allocations: Vec<String> =
            allocated.iter().map(|a| a.quantity.to_string()).collect();
        allocations.sort();
        records.push(format!(
            "{} {} {allocations:?}",
            record.dimension(),
            record.quantity()
        ));
    }
    records.sort();
    assert_eq!(records, [r#"hosts 7 ["3", "4"]"#, r#"users 4 ["2", "2"]"#]);
}

/// Usage of a kind other than its key's (a dimension's kind changed) is set aside with a
/// reason naming both kinds; the key's own usage is billed.
pub async fn a_kind_other_than_the_keys_is_set_aside(harness: &impl Harness) {
    let ledger = harness.open();
    let calls = key(&customer("111111111111"), "calls", &[]);
    let now = at("2026-11-26T10:30:00Z");
    let instance = InstanceId::random();
    let sum = checkpoint(
        instance,
        1,
        vec![delta(&calls, "2026-11-26T10:05:00Z", "2")],
    );
    ledger.commit(&sum, now).await.unwrap();
    let max = usage_delta(&calls, "2026-11-26T10:06:00Z", Usage::Max(quantity("5")));
    let report = ledger
        .commit(&checkpoint(instance, 2, vec![max]), now)
        .await
        .unwrap();
    assert_eq!(report.set_aside, 1);
    ledger.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    assert_eq!(
        billed(&ledger).await,
        pairs(&[("2026-11-26T10:00:00Z", "2")])
    );
    let aside = ledger.set_aside().await.unwrap();
    assert_eq!(aside[0].quantity, quantity("5"));
    // The key's kind, which the usage set aside is not of.
    assert_eq!(
        (aside[0].kind, kinds(&ledger).await),
        (Kind::Sum, vec![Kind::Sum])
    );
    let reason = &aside[0].reason;
    assert!(
        reason.contains("kind max") && reason.contains("kind sum"),
        "{reason}"
    );
}
