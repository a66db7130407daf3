//! The protocol's decisions, each on its own.

use super::*;
use crate::strings::{CustomerAwsAccountId, LicenseArn, ProductCode};

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn hour(text: &str) -> Hour {
    Hour::of(at(text))
}

fn quantity(text: &str) -> Quantity {
    text.parse().unwrap()
}

fn customer(account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-a").unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

fn licensed(account: &str) -> Customer {
    Customer::Licensed {
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
        license: LicenseArn::new(format!(
            "arn:aws:license-manager::{account}:license:l-{account}"
        ))
        .unwrap(),
    }
}

#[test]
fn usage_of_a_sealed_hour_moves_to_the_first_open_hour_of_its_month_or_aside() {
    let used = hour("2026-11-26T10:20:00Z");
    assert_eq!(
        place(used, None),
        Placement::Open {
            hour: hour("2026-11-26T10:00:00Z"),
            late: false
        }
    );
    assert_eq!(
        place(used, Some(hour("2026-11-26T10:00:00Z"))),
        Placement::Open {
            hour: hour("2026-11-26T10:00:00Z"),
            late: false
        },
        "its own hour is the first open one"
    );
    assert_eq!(
        place(used, Some(hour("2026-11-26T12:00:00Z"))),
        Placement::Open {
            hour: hour("2026-11-26T12:00:00Z"),
            late: true
        }
    );
    let Placement::SetAside { reason } = place(used, Some(hour("2026-12-01T00:00:00Z"))) else {
        panic!("the month has no open hour left");
    };
    assert_eq!(reason, month_closed_reason(hour("2026-11-26T10:00:00Z")));
}

#[test]
fn watermarks_only_move_on_and_take_the_later_one() {
    let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
    assert_eq!(seal_watermark(at("2026-11-26T10:59:00Z"), None), ten);
    assert_eq!(seal_watermark(ten.start(), Some(noon)), noon);
    assert_eq!(seal_watermark(noon.start(), Some(ten)), noon);
    assert!(nothing_to_seal(at("2026-11-26T10:59:00Z"), Some(ten)));
    assert!(nothing_to_seal(ten.start(), Some(noon)));
    assert!(!nothing_to_seal(noon.start(), Some(ten)));
    assert!(!nothing_to_seal(ten.start(), None));
    assert_eq!(later(Some(ten), Some(noon)), Some(noon));
    assert_eq!(later(None, Some(ten)), Some(ten));
    assert_eq!(
        customer_seal(at("2026-11-26T10:30:00Z")),
        hour("2026-11-26T11:00:00Z")
    );
    assert_eq!(requeue_hour(at("2026-11-26T10:30:00Z"), None), ten);
    assert_eq!(requeue_hour(at("2026-11-26T10:30:00Z"), Some(noon)), noon);
    assert_eq!(requeue_hour(at("2026-11-26T12:30:00Z"), Some(ten)), noon);
}

#[test]
fn unsent_records_wait_for_their_backoff_and_leases_for_their_expiry() {
    let now = at("2026-11-26T10:00:00Z");
    let (before, after) = (at("2026-11-26T09:59:00Z"), at("2026-11-26T10:01:00Z"));
    assert!(is_claimable(RecordState::Unsent, now, None, now));
    assert!(!is_claimable(RecordState::Unsent, after, None, now));
    assert!(is_claimable(RecordState::Leased, after, Some(now), now));
    assert!(!is_claimable(RecordState::Leased, before, Some(after), now));
    assert!(!is_claimable(RecordState::Leased, before, None, now));
    for state in [RecordState::Success, RecordState::Quarantined] {
        assert!(!is_claimable(state, before, Some(before), now));
    }
}

#[test]
fn an_account_under_a_product_and_a_licence_bills_twice() {
    let (by_product, by_licence) = (customer("111111111111"), licensed("111111111111"));
    assert!(bills_twice(&by_product, &by_licence));
    assert!(bills_twice(&by_licence, &by_product));
    assert!(!bills_twice(&by_product, &by_product));
    assert!(!bills_twice(&by_licence, &by_licence));
    assert!(!bills_twice(&by_product, &licensed("222222222222")));
}

#[test]
fn a_zero_is_a_record_only_in_an_hour_without_other_usage() {
    let dimension = DimensionKey::new("calls".to_owned()).unwrap();
    let tags = Tags::new(vec![crate::record::Tag::new(
        crate::strings::TagKey::new("env").unwrap(),
        crate::strings::TagValue::new("prod").unwrap(),
    )])
    .unwrap();
    let ten = hour("2026-11-26T10:30:00Z");
    let seal = |usage: Vec<(Option<Tags>, Quantity)>| {
        seal_record(customer("111111111111"), dimension.clone(), ten, usage).unwrap()
    };
    let zero_and_usage = seal(vec![
        (None, Quantity::ZERO),
        (Some(tags.clone()), quantity("2")),
    ]);
    assert_eq!(zero_and_usage.quantity(), quantity("2"));
    assert_eq!(zero_and_usage.allocations().map(<[_]>::len), Some(1));
    assert_eq!(zero_and_usage.timestamp(), at("2026-11-26T10:00:00Z"));
    let zero = seal(vec![(None, Quantity::ZERO)]);
    assert!(zero.quantity().is_zero() && zero.allocations().is_none());
}

#[test]
fn a_settlement_writes_its_state_id_detail_and_retry() {
    let at_noon = at("2026-11-26T12:00:00Z");
    let retry = Settlement::Retry {
        error: "throttled".into(),
        retry_at: at_noon,
    };
    assert_eq!(
        settled(&retry),
        (RecordState::Unsent, None, Some("throttled"), Some(at_noon))
    );
    let billed = Settlement::Success {
        metering_record_id: "r-1".into(),
    };
    assert_eq!(
        settled(&billed),
        (RecordState::Success, Some("r-1"), None, None)
    );
    let kept = Settlement::Quarantined {
        reason: "why".into(),
    };
    assert_eq!(
        settled(&kept),
        (RecordState::Quarantined, None, Some("why"), None)
    );
    assert_eq!(settled(&Settlement::Duplicate).0, RecordState::Duplicate);
    assert_eq!(
        settled(&Settlement::NotSubscribed).0,
        RecordState::NotSubscribed
    );
}

fn change(text: &str, level: &str) -> LevelChange {
    LevelChange {
        at: at(text),
        level: quantity(level),
    }
}

#[test]
fn a_level_bills_its_integral_hour_by_hour_until_it_changes() {
    // Set at 10:20, changed at 12:40: parts of three hours.
    let changes = [
        change("2026-11-26T10:20:00Z", "6"),
        change("2026-11-26T12:40:00Z", "0"),
    ];
    let before = hour("2026-11-26T15:00:00Z");
    assert_eq!(
        level_hours(&changes, None, before),
        [
            (hour("2026-11-26T10:00:00Z"), quantity("4")),
            (hour("2026-11-26T11:00:00Z"), quantity("6")),
            (hour("2026-11-26T12:00:00Z"), quantity("4")),
        ]
    );
    // Held with no change: every hour, from where the last seal left it.
    let held = [change("2026-11-26T10:30:00Z", "2")];
    assert_eq!(
        level_hours(&held, Some(hour("2026-11-26T13:00:00Z")), before),
        [
            (hour("2026-11-26T13:00:00Z"), quantity("2")),
            (hour("2026-11-26T14:00:00Z"), quantity("2")),
        ]
    );
    // One unit for one second: 1/3600 unit-hours, 277.7.. millionths, half-up.
    let second = [
        change("2026-11-26T10:00:00Z", "1"),
        change("2026-11-26T10:00:01Z", "0"),
    ];
    assert_eq!(
        level_hours(&second, None, hour("2026-11-26T11:00:00Z")),
        [(hour("2026-11-26T10:00:00Z"), quantity("0.000278"))]
    );
    assert!(level_hours(&[], None, before).is_empty());
}

#[test]
fn each_kind_is_placed_by_its_own_rule() {
    let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
    let max = Usage::Max(quantity("3"));
    assert_eq!(
        commit_usage(&max, Kind::Max, noon, Some(noon)),
        [Commit::Max {
            hour: noon,
            quantity: quantity("3")
        }]
    );
    let [
        Commit::SetAside {
            quantity: shown,
            reason,
        },
    ] = &commit_usage(&max, Kind::Max, ten, Some(noon))[..]
    else {
        panic!("a late maximum is set aside");
    };
    assert_eq!((*shown, reason.starts_with("late")), (quantity("3"), true));
    let ids = Usage::Distinct(vec![Identifier::from(1_u64), Identifier::from(2_u64)]);
    let [
        Commit::SetAside {
            quantity: shown,
            reason,
        },
    ] = &commit_usage(&ids, Kind::Sum, noon, None)[..]
    else {
        panic!("a kind other than the key's is set aside");
    };
    assert_eq!(*shown, quantity("2"));
    assert!(
        reason.contains("distinct") && reason.contains("sum"),
        "{reason}"
    );
    assert!(matches!(
        commit_usage(&ids, Kind::Distinct, ten, Some(noon))[..],
        [Commit::SetAside { .. }]
    ));
    // A late level change keeps its instant, the key integrated from the oldest open
    // hour on; it is set aside too.
    let late = Usage::Level(vec![
        change("2026-11-26T10:15:00.0000019Z", "4"),
        change("2026-11-26T12:30:00.0000019Z", "5"),
    ]);
    let steps = commit_usage(&late, Kind::Level, ten, Some(noon));
    assert_eq!(
        steps[0],
        Commit::Level {
            changes: vec![
                change("2026-11-26T10:15:00.000001Z", "4"),
                change("2026-11-26T12:30:00.000001Z", "5")
            ],
            integrate_from: Some(noon),
        }
    );
    assert!(matches!(
        &commit_usage(&late, Kind::Level, noon, Some(ten))[..],
        [Commit::Level {
            integrate_from: None,
            ..
        }]
    ));
    assert!(
        matches!(&steps[1], Commit::SetAside { quantity: shown, reason }
            if *shown == quantity("4") && reason.contains("10:15")),
        "{steps:?}"
    );
}

#[test]
fn a_late_level_change_holds_from_the_oldest_open_hour_unless_a_later_one_came_first() {
    let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
    let late = Usage::Level(vec![
        change("2026-11-26T10:15:00Z", "4"),
        change("2026-11-26T11:15:00Z", "2"),
        change("2026-11-26T12:30:00Z", "5"),
    ]);
    let steps = commit_usage(&late, Kind::Level, ten, Some(noon));
    assert_eq!(
        steps[1],
        Commit::SetAside {
            quantity: quantity("2"),
            reason: late_level_reason(at("2026-11-26T11:15:00Z"), noon)
        }
    );
    let Commit::Level {
        changes,
        integrate_from,
    } = &steps[0]
    else {
        panic!("{steps:?}");
    };
    let two = hour("2026-11-26T14:00:00Z");
    // Of the late ones the last holds from noon.
    assert_eq!(
        level_hours(changes, *integrate_from, two),
        [
            (noon, quantity("3.5")),
            (hour("2026-11-26T13:00:00Z"), quantity("5"))
        ]
    );
    // A change stored before, later than the late ones (another instance committed it
    // in time): it holds, not the late ones.
    let stored = [change("2026-11-26T11:50:00Z", "1")];
    let mut all: Vec<LevelChange> = changes.iter().chain(&stored).copied().collect();
    all.sort_unstable();
    assert_eq!(
        level_hours(&all, *integrate_from, two),
        [
            (noon, quantity("3")),
            (hour("2026-11-26T13:00:00Z"), quantity("5"))
        ]
    );
}

#[test]
fn level_changes_of_another_kind_are_set_aside_every_one_named() {
    let changes = Usage::Level(vec![
        change("2026-11-26T10:20:00Z", "6"),
        change("2026-11-26T10:40:00.5Z", "0"),
    ]);
    let noon = hour("2026-11-26T12:00:00Z");
    let [
        Commit::SetAside {
            quantity: shown,
            reason,
        },
    ] = &commit_usage(
        &changes,
        Kind::Sum,
        hour("2026-11-26T10:00:00Z"),
        Some(noon),
    )[..]
    else {
        panic!("a kind other than the key's is set aside");
    };
    // The last level is the quantity shown; the reason keeps every change, so that a
    // person can bill the integral by hand.
    assert_eq!(*shown, quantity("0"));
    assert!(
        reason.contains("kind level")
            && reason.contains("kind sum")
            && reason
                .ends_with("levels set: 6 at 2026-11-26T10:20:00Z, 0 at 2026-11-26T10:40:00.5Z"),
        "{reason}"
    );
}

#[test]
fn a_level_held_to_the_second_bills_millionths_of_unit_hours_per_hour() {
    // 1 unit from 10:20:17.25 to 12:40:43: 2382.75 s, 3600 s and 2443 s of the three hours.
    let changes = [
        change("2026-11-26T10:20:17.25Z", "1"),
        change("2026-11-26T12:40:43Z", "0"),
    ];
    assert_eq!(
        level_hours(&changes, None, hour("2026-11-26T13:00:00Z")),
        [
            (hour("2026-11-26T10:00:00Z"), quantity("0.661875")),
            (hour("2026-11-26T11:00:00Z"), quantity("1")),
            // 0.6786111.. rounded half-up once, in this hour alone.
            (hour("2026-11-26T12:00:00Z"), quantity("0.678611")),
        ]
    );
}

#[test]
fn a_level_set_on_an_hours_boundary_bills_from_that_hour() {
    let (eleven, noon) = (hour("2026-11-26T11:00:00Z"), hour("2026-11-26T12:00:00Z"));
    let changes = [
        change("2026-11-26T11:00:00Z", "3"),
        change("2026-11-26T12:00:00Z", "0"),
    ];
    let before = hour("2026-11-26T14:00:00Z");
    assert_eq!(
        level_hours(&changes, None, before),
        [(eleven, quantity("3"))]
    );
    assert_eq!(
        level_hours(&changes, Some(eleven), before),
        [(eleven, quantity("3"))]
    );
    assert!(level_hours(&changes, Some(noon), before).is_empty());
    // A change at the oldest open hour's very start is not late.
    let on_time = Usage::Level(vec![change("2026-11-26T12:00:00Z", "2")]);
    assert!(matches!(
        &commit_usage(&on_time, Kind::Level, noon, Some(noon))[..],
        [Commit::Level {
            integrate_from: None,
            ..
        }]
    ));
}

#[test]
fn reasons_name_what_a_person_needs() {
    assert!(overflow_reason().contains(&Quantity::MAX.to_string()));
    // Requeued, late identifiers or a late maximum may bill twice: the reason says so.
    let ten = hour("2026-11-26T10:00:00Z");
    let ids = late_reason(&Usage::Distinct(vec![Identifier::from(1_u64)]), ten);
    assert!(ids.contains("may count some of them already"), "{ids}");
    let max = late_reason(&Usage::Max(quantity("2")), ten);
    assert!(max.contains("may be as high already"), "{max}");
    assert!(unsealable_reason(None).contains("sealed already"));
    assert!(unsealable_reason(Some("too many")).ends_with(": too many"));
    let reason = double_billing_reason("1111", "prod-a", "arn:l", hour("2026-11-26T10:00:00Z"));
    assert!(
        reason.contains("1111") && reason.contains("prod-a") && reason.contains("arn:l"),
        "{reason}"
    );
}
