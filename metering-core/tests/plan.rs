//! The planner: scopes, limits, merging, time policy and order.

mod common;

use std::collections::BTreeSet;

use common::{account, allocated, at, licensed, record, tags};
use metering_core::{
    MergeError, Planner, Quantity, QuarantineReason, RequestScope, TimePolicy, TimeViolation,
    limits,
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
    // Each record names the input records it stands for: their outcome is its outcome.
    let mut stands_for: Vec<_> = plan
        .requests
        .iter()
        .flat_map(|request| {
            let hours = request.records().iter().map(|r| r.timestamp().hour_start());
            hours.zip(request.inputs().iter().cloned())
        })
        .collect();
    stands_for.sort_unstable();
    assert_eq!(
        stands_for,
        [
            (at("2026-11-26T10:00:00Z"), vec![0, 1, 2]),
            (at("2026-11-26T11:00:00Z"), vec![3]),
        ]
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
    assert_unmergeable(
        &plan,
        MergeError::MixedAllocations {
            with: 1,
            without: 1,
        },
    );
}

/// Every record kept back cannot merge, for the reason `why`.
fn assert_unmergeable(plan: &metering_core::Plan, why: MergeError) {
    for q in &plan.quarantined {
        assert!(
            q.reason == QuarantineReason::Unmergeable(why),
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
fn a_plan_cut_into_batches_keeps_every_request_in_order_and_the_kept_back_first() {
    let now = at("2026-11-26T12:00:00Z");
    let mut records: Vec<_> = (0..130)
        .map(|i| {
            let hour = if i % 2 == 0 {
                "2026-11-26T11:00:00Z"
            } else {
                "2026-11-26T02:00:00Z"
            };
            record(
                account("prod-a", &format!("{}", 1000 + i)),
                "api",
                at(hour),
                1,
            )
        })
        .collect();
    records.push(record(
        account("prod-a", "999"),
        "api",
        at("2026-11-25T11:00:00Z"),
        1,
    ));
    let plan = Planner::default().plan(records, now);
    assert_eq!((plan.requests.len(), plan.quarantined.len()), (6, 1));
    assert_eq!(plan.records_to_send(), 130);
    let batches: Vec<_> = plan.clone().into_batches(4).collect();
    let shape: Vec<_> = batches
        .iter()
        .map(|b| (b.requests.len(), b.quarantined.len()))
        .collect();
    assert_eq!(shape, [(4, 1), (2, 0)]);
    let rejoined: Vec<_> = batches.into_iter().flat_map(|b| b.requests).collect();
    assert_eq!(rejoined, plan.requests);
    assert_eq!(
        plan.clone().into_batches(0).count(),
        6,
        "at least one request a batch"
    );
    let kept_only = metering_core::Plan {
        requests: Vec::new(),
        quarantined: plan.quarantined,
    };
    assert_eq!(kept_only.into_batches(10).count(), 1);
    assert_eq!(metering_core::Plan::default().into_batches(10).count(), 0);
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
    let sent = plan.records_to_send();
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

/// How many records each request of a plan holds.
fn request_sizes(plan: &metering_core::Plan) -> Vec<usize> {
    plan.requests.iter().map(|r| r.records().len()).collect()
}

#[test]
fn max_records_is_clamped_to_what_the_service_takes() {
    let now = at("2026-11-26T12:00:00Z");
    let records: Vec<_> = (0..30)
        .map(|i| {
            record(
                account("prod-a", &format!("{}", 100 + i)),
                "api",
                at("2026-11-26T11:00:00Z"),
                1,
            )
        })
        .collect();
    let sizes = |max| {
        request_sizes(
            &Planner::default()
                .with_max_records(max)
                .plan(records.clone(), now),
        )
    };
    assert_eq!(
        sizes(0),
        vec![1; 30],
        "0 means one record a request, not none"
    );
    assert_eq!(sizes(1), vec![1; 30]);
    assert_eq!(sizes(2), vec![2; 15]);
    assert_eq!(sizes(24), vec![24, 6]);
    for max in [25, 26, 1000, usize::MAX] {
        assert_eq!(
            sizes(max),
            vec![25, 5],
            "with_max_records({max}) stops at 25"
        );
    }
    assert_eq!(
        request_sizes(&Planner::default().plan(records, now)),
        vec![25, 5]
    );
}

/// A record of `customer` whose allocations carry `extra` more characters of tag values than
/// the smallest such record: its serialized size grows by exactly `extra` bytes.
fn padded(
    customer: metering_core::Customer,
    allocations: usize,
    extra: usize,
) -> metering_core::UsageRecord {
    // Two tags an allocation, values of 4 to 256 characters, unique by the index.
    let mut left = extra;
    let mut take = || {
        let more = left.min(252);
        left -= more;
        more
    };
    let pairs: Vec<(u64, metering_core::Tags)> = (0..allocations)
        .map(|i| {
            let a = format!("{i:04}{}", "a".repeat(take()));
            let b = format!("{i:04}{}", "b".repeat(take()));
            (1, tags(&[("k", &a), ("l", &b)]))
        })
        .collect();
    assert_eq!(
        left, 0,
        "{extra} extra characters do not fit {allocations} allocations"
    );
    allocated(customer, "gb", at("2026-11-26T11:00:00Z"), &pairs)
}

/// The size the planner gives a request holding only `record`, whether it is sent or not.
fn measured(record: metering_core::UsageRecord) -> usize {
    let plan = Planner::default().plan([record], at("2026-11-26T12:00:00Z"));
    match (&plan.requests[..], &plan.quarantined[..]) {
        ([request], []) => request.body_bytes(),
        ([], [kept]) => match kept.reason {
            QuarantineReason::TooLarge { bytes } => bytes,
            ref other => panic!("{other:?}"),
        },
        _ => panic!("{plan:?}"),
    }
}

#[test]
fn the_size_of_a_request_with_allocations_is_counted_to_the_byte() {
    let customer = account("prod-a", "111");
    let base = measured(padded(customer.clone(), 40, 0));
    for extra in [1, 2, 255, 5000] {
        assert_eq!(measured(padded(customer.clone(), 40, extra)), base + extra);
    }
    // The count is the body sent, to the byte.
    let records: Vec<_> = (0..5)
        .map(|i| padded(account("prod-a", &format!("{}", 10 + i)), 40, 1000 * i))
        .collect();
    let plan = Planner::default().plan(records, at("2026-11-26T12:00:00Z"));
    assert_eq!(request_sizes(&plan), vec![5]);
    let request = &plan.requests[0];
    assert_eq!(request.body_bytes(), request.body().len());
    // The halves of a split carry their own sizes, as if planned alone.
    let (left, right) = request.split().unwrap();
    assert_eq!(left.records().len() + right.records().len(), 5);
    for half in [left, right] {
        let alone = Planner::default().plan(half.records().to_vec(), at("2026-11-26T12:00:00Z"));
        assert_eq!(half.body_bytes(), alone.requests[0].body_bytes());
        assert_eq!(half.body_bytes(), half.body().len());
        assert!(half.body_bytes() < request.body_bytes());
    }
}

#[test]
fn a_record_making_a_body_of_one_megabyte_is_kept_one_byte_less_is_sent() {
    let max = limits::MAX_REQUEST_BYTES;
    let customer = account("prod-a", "111");
    // 1,800 allocations of two tags hold from about 140 KB to over 1 MB.
    let smallest = measured(padded(customer.clone(), 1800, 0));
    let just_under = padded(customer.clone(), 1800, max - 1 - smallest);
    let plan = Planner::default().plan([just_under.clone()], at("2026-11-26T12:00:00Z"));
    assert!(
        plan.quarantined.is_empty(),
        "{:?}",
        plan.quarantined.first().map(|q| &q.reason)
    );
    assert_eq!(plan.requests[0].body_bytes(), max - 1);
    assert_eq!(plan.requests[0].body().len(), max - 1, "the body sent");

    let at_limit = padded(customer, 1800, max - smallest);
    let plan = Planner::default().plan([at_limit.clone()], at("2026-11-26T12:00:00Z"));
    assert!(plan.requests.is_empty());
    assert_eq!(plan.quarantined.len(), 1);
    assert_eq!(plan.quarantined[0].record, at_limit, "kept whole");
    assert_eq!(
        plan.quarantined[0].reason,
        QuarantineReason::TooLarge { bytes: max }
    );
}

#[test]
fn two_records_share_a_request_while_it_stays_under_one_megabyte() {
    let max = limits::MAX_REQUEST_BYTES;
    let now = at("2026-11-26T12:00:00Z");
    let (a, b) = (account("prod-a", "1"), account("prod-a", "2"));
    let plan = Planner::default().plan(
        [padded(a.clone(), 1000, 0), padded(b.clone(), 1000, 0)],
        now,
    );
    assert_eq!(request_sizes(&plan), vec![2]);
    // Grown to a body of one byte under the limit, half each.
    let missing = max - 1 - plan.requests[0].body_bytes();
    let first = padded(a, 1000, missing / 2);
    let second = |extra| padded(b.clone(), 1000, missing - missing / 2 + extra);

    let plan = Planner::default().plan([first.clone(), second(0)], now);
    assert_eq!(request_sizes(&plan), vec![2]);
    assert_eq!(plan.requests[0].body_bytes(), max - 1);
    assert_eq!(plan.requests[0].body().len(), max - 1, "the body sent");

    let too_many = second(1);
    let plan = Planner::default().plan([first.clone(), too_many.clone()], now);
    assert_eq!(
        request_sizes(&plan),
        vec![1, 1],
        "one byte more: two requests"
    );
    assert!(plan.quarantined.is_empty());
    assert_eq!(plan.requests[0].body_bytes(), measured(first));
    assert_eq!(plan.requests[1].body_bytes(), measured(too_many));
}

/// A record of `customer` with `count` allocations of one unit, each tagged apart.
fn with_allocations(
    customer: metering_core::Customer,
    count: usize,
    tag: &str,
) -> metering_core::UsageRecord {
    let pairs: Vec<_> = (0..count)
        .map(|i| (1, tags(&[(tag, &i.to_string())])))
        .collect();
    allocated(customer, "gb", at("2026-11-26T10:00:00Z"), &pairs)
}

#[test]
fn a_merge_up_to_2500_allocations_is_sent_one_more_is_kept() {
    let now = at("2026-11-26T12:00:00Z");
    let customer = account("prod-a", "111");
    let plan = Planner::default().plan(
        [
            with_allocations(customer.clone(), 1250, "a"),
            with_allocations(customer.clone(), 1250, "b"),
        ],
        now,
    );
    assert!(
        plan.quarantined.is_empty(),
        "{:?}",
        plan.quarantined.first().map(|q| &q.reason)
    );
    let merged = &plan.requests[0].records()[0];
    assert_eq!(merged.allocations().unwrap().len(), limits::MAX_ALLOCATIONS);
    assert_eq!(merged.quantity(), Quantity::new(2500).unwrap());

    let records = [
        with_allocations(customer.clone(), 1250, "a"),
        with_allocations(customer, 1251, "b"),
    ];
    let plan = Planner::default().plan(records.clone(), now);
    assert!(plan.requests.is_empty());
    let kept: Vec<_> = plan.quarantined.iter().map(|q| q.record.clone()).collect();
    assert_eq!(kept, records, "both kept, unchanged");
    assert_unmergeable(&plan, MergeError::TooManyAllocations { count: 2501 });
}

#[test]
fn the_previous_month_goes_first_until_its_cutoff_on_the_first() {
    // 05:00 on the 1st: last month's records close at 06:00, this month's have 24 hours.
    let now = at("2026-12-01T05:00:00Z");
    // Given in mixed order, so the months alternate.
    let times = [
        "2026-12-01T04:00:00Z",
        "2026-11-30T23:00:00Z",
        "2026-12-01T00:00:00Z",
        "2026-11-30T05:30:00Z",
        "2026-12-01T03:00:00Z",
    ];
    let records: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, t)| record(account("prod-a", &format!("{}", 100 + i)), "api", at(t), 1))
        .collect();
    let plan = Planner::default().with_max_records(1).plan(records, now);
    assert!(plan.quarantined.is_empty());
    let order: Vec<_> = plan
        .requests
        .iter()
        .map(|r| r.records()[0].timestamp())
        .collect();
    // 11-30T05:30 expires by the 24 hours at 05:30, 11-30T23:00 by the cut-off at 06:00,
    // this month's a day after their hour.
    let expected = [
        "2026-11-30T05:30:00Z",
        "2026-11-30T23:00:00Z",
        "2026-12-01T00:00:00Z",
        "2026-12-01T03:00:00Z",
        "2026-12-01T04:00:00Z",
    ];
    assert_eq!(order, expected.map(at));
}
