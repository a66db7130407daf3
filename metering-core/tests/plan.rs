//! The planner: scopes, limits, merging, time policy and order.

mod common;

use std::collections::BTreeSet;

use common::{account, allocated, at, licensed, record, tags};
use metering_core::{
    Planner, Quantity, QuarantineReason, RequestScope, TimePolicy, TimeViolation, limits,
};

#[test]
fn one_scope_per_request_at_most_25_records_each_record_once() {
    let now = at("2026-11-26T12:00:00Z");
    let mut records = Vec::new();
    for i in 0..40 {
        records.push(record(
            account("prod-a", &format!("{}", 100 + i)),
            "api",
            at("2026-11-26T11:00:00Z"),
            i,
        ));
        records.push(record(
            account("prod-b", &format!("{}", 100 + i)),
            "api",
            at("2026-11-26T11:00:00Z"),
            i,
        ));
        records.push(record(
            licensed(&format!("{}", 100 + i)),
            "api",
            at("2026-11-26T11:00:00Z"),
            i,
        ));
    }
    let plan = Planner::default().plan(records.clone(), now);
    assert!(plan.quarantined.is_empty());
    let mut seen = BTreeSet::new();
    for request in &plan.requests {
        assert!((1..=limits::MAX_RECORDS_PER_REQUEST).contains(&request.records().len()));
        for r in request.records() {
            assert_eq!(&r.customer().scope(), request.scope());
            assert!(seen.insert(r.key()), "a key appears twice");
        }
    }
    assert_eq!(seen.len(), records.len());
    for request in &plan.requests {
        assert!(
            request.body_bytes() >= request.body().len(),
            "the plan never under-counts"
        );
    }
    assert_eq!(plan.requests.len(), 6, "40 records per scope make 25 + 15");
    let licensed_requests = plan
        .requests
        .iter()
        .filter(|r| *r.scope() == RequestScope::Licensed)
        .count();
    assert_eq!(licensed_requests, 2);
}

#[test]
fn records_of_one_key_merge_into_one() {
    let now = at("2026-11-26T12:00:00Z");
    let customer = account("prod-a", "111");
    let plan = Planner::default().plan(
        [
            record(customer.clone(), "api", at("2026-11-26T10:05:00Z"), 3),
            record(customer.clone(), "api", at("2026-11-26T10:40:00Z"), 4),
            record(customer.clone(), "api", at("2026-11-26T10:20:00Z"), 5),
            record(customer.clone(), "api", at("2026-11-26T11:00:00Z"), 7),
        ],
        now,
    );
    let records: Vec<_> = plan
        .requests
        .iter()
        .flat_map(metering_core::PlannedRequest::records)
        .collect();
    assert_eq!(records.len(), 2);
    let ten = records
        .iter()
        .find(|r| r.timestamp().hour_start() == at("2026-11-26T10:00:00Z"))
        .unwrap();
    assert_eq!(ten.quantity(), Quantity::new(12).unwrap());
    assert_eq!(
        ten.timestamp(),
        at("2026-11-26T10:40:00Z"),
        "the latest timestamp of the hour"
    );
}

#[test]
fn allocations_merge_by_tag_set_whatever_the_order() {
    let now = at("2026-11-26T12:00:00Z");
    let customer = account("prod-a", "111");
    let t = at("2026-11-26T10:00:00Z");
    let plan = Planner::default().plan(
        [
            allocated(
                customer.clone(),
                "gb",
                t,
                &[
                    (2, tags(&[("team", "a"), ("env", "prod")])),
                    (1, tags(&[("team", "b")])),
                ],
            ),
            allocated(
                customer.clone(),
                "gb",
                t,
                &[(5, tags(&[("env", "prod"), ("team", "a")]))],
            ),
        ],
        now,
    );
    let merged = &plan.requests[0].records()[0];
    assert_eq!(merged.quantity(), Quantity::new(8).unwrap());
    let allocations = merged.allocations().unwrap();
    assert_eq!(allocations.len(), 2);
    let team_a = allocations
        .iter()
        .find(|a| a.tags.as_ref().unwrap().as_slice().len() == 2)
        .unwrap();
    assert_eq!(team_a.quantity, Quantity::new(7).unwrap());
}

#[test]
fn records_that_cannot_merge_are_kept_with_their_reason() {
    let now = at("2026-11-26T12:00:00Z");
    let customer = account("prod-a", "111");
    let t = at("2026-11-26T10:00:00Z");
    let plan = Planner::default().plan(
        [
            record(customer.clone(), "gb", t, 1),
            allocated(customer.clone(), "gb", t, &[(5, tags(&[("team", "a")]))]),
            record(customer.clone(), "api", t, 1),
        ],
        now,
    );
    assert_eq!(plan.requests.len(), 1);
    assert_eq!(plan.quarantined.len(), 2);
    for q in &plan.quarantined {
        assert!(
            matches!(&q.reason, QuarantineReason::Unmergeable(why) if why.contains("some have allocations")),
            "{:?}",
            q.reason
        );
    }
}

#[test]
fn a_record_too_old_is_quarantined_not_sent_with_the_rest() {
    let now = at("2026-11-26T12:00:00Z");
    let mut records: Vec<_> = (0..24)
        .map(|i| {
            record(
                account("prod-a", &format!("{}", 1000 + i)),
                "api",
                at("2026-11-26T11:00:00Z"),
                1,
            )
        })
        .collect();
    let stale = record(
        account("prod-a", "999"),
        "api",
        at("2026-11-25T11:00:00Z"),
        1,
    );
    records.push(stale.clone());
    let plan = Planner::default().plan(records, now);
    assert_eq!(plan.requests.len(), 1);
    assert_eq!(plan.requests[0].records().len(), 24);
    assert_eq!(plan.quarantined.len(), 1);
    assert_eq!(plan.quarantined[0].record, stale);
    assert!(matches!(
        plan.quarantined[0].reason,
        QuarantineReason::Time(TimeViolation::TooOld { .. })
    ));
    // A seller on the old 6-hour rule sets it.
    let six = Planner::new(TimePolicy::new().with_window(std::time::Duration::from_hours(6)));
    let plan = six.plan(
        [record(
            account("prod-a", "1"),
            "api",
            at("2026-11-26T05:00:00Z"),
            1,
        )],
        now,
    );
    assert_eq!(plan.quarantined.len(), 1);
}

#[test]
fn bodies_stay_under_one_megabyte_and_oversized_records_are_kept() {
    let now = at("2026-11-26T12:00:00Z");
    let long = "v".repeat(256);
    let big_tags = |i: usize| {
        let keys: Vec<String> = (0..5)
            .map(|k| format!("key-{k}-{}", "k".repeat(90)))
            .collect();
        let values: Vec<String> = (0..5)
            .map(|k| format!("{i}-{k}-{long}")[..256].to_owned())
            .collect();
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(String::as_str))
            .collect();
        tags(&pairs)
    };
    // About 170 KB per record: a request fits a handful, not 25.
    let records: Vec<_> = (0..25)
        .map(|c| {
            let allocations: Vec<_> = (0..100).map(|i| (1, big_tags(i))).collect();
            allocated(
                account("prod-a", &format!("{}", 10 + c)),
                "api",
                at("2026-11-26T11:00:00Z"),
                &allocations,
            )
        })
        .collect();
    // About 4.3 MB alone: cannot be sent at all.
    let huge = allocated(
        account("prod-a", "5"),
        "api",
        at("2026-11-26T11:00:00Z"),
        &(0..2500).map(|i| (1, big_tags(i))).collect::<Vec<_>>(),
    );
    let plan = Planner::default().plan(records.into_iter().chain([huge.clone()]), now);
    assert_eq!(plan.quarantined.len(), 1);
    assert_eq!(plan.quarantined[0].record, huge);
    assert!(
        matches!(plan.quarantined[0].reason, QuarantineReason::TooLarge { bytes } if bytes > 4_000_000)
    );
    assert!(plan.requests.len() > 1);
    let sent: usize = plan.requests.iter().map(|r| r.records().len()).sum();
    assert_eq!(sent, 25);
    for request in &plan.requests {
        let actual = request.body().len();
        assert!(actual < limits::MAX_REQUEST_BYTES, "{actual}");
        assert!(
            request.body_bytes() >= actual,
            "the plan never under-counts"
        );
    }
}

#[test]
fn the_most_urgent_records_go_first() {
    let now = at("2026-11-26T12:00:00Z");
    let records: Vec<_> = (0..60)
        .map(|i| {
            let hour =
                at("2026-11-26T11:00:00Z").saturating_sub(std::time::Duration::from_hours(i % 20));
            record(account("prod-a", &format!("{}", 100 + i)), "api", hour, 1)
        })
        .collect();
    let plan = Planner::default().plan(records, now);
    let hours: Vec<_> = plan
        .requests
        .iter()
        .flat_map(metering_core::PlannedRequest::records)
        .map(metering_core::UsageRecord::timestamp)
        .collect();
    assert!(hours.windows(2).all(|w| w[0] <= w[1]), "oldest first");
}

#[test]
fn size_bounds_hold_for_the_longest_escaped_strings() {
    let now = at("2026-11-26T12:00:00Z");
    // Control characters serialize as six bytes each (`\u0001`): the worst case.
    let dimension: String = std::iter::repeat_n('\u{1}', 255).collect();
    let legacy = metering_core::Customer::Legacy {
        product: metering_core::ProductCode::new("p").unwrap(),
        identifier: metering_core::CustomerIdentifier::new("\u{2}".repeat(255)).unwrap(),
    };
    let records: Vec<_> = (0..20)
        .map(|i| {
            let hour =
                at("2026-11-26T11:00:00Z").saturating_sub(std::time::Duration::from_hours(i));
            record(legacy.clone(), &dimension, hour, i)
        })
        .collect();
    let plan = Planner::default().plan(records, now);
    assert_eq!(plan.requests.len(), 1);
    let request = &plan.requests[0];
    assert_eq!(request.records().len(), 20);
    let actual = request.body().len();
    assert!(
        actual > 20 * 6 * 255 * 2,
        "every character escaped: {actual}"
    );
    assert!(
        request.body_bytes() >= actual,
        "{} < {actual}",
        request.body_bytes()
    );
}
