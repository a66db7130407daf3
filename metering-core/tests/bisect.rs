//! Bisection: a request the service rejects as a whole is taken apart until the records
//! it rejects are proven, and the rest land; what is proven bad keeps the same value back,
//! unsent, everywhere else in the submission.

mod common;

use std::time::Duration;

use common::service::{Script, fast_config, now, rejection, submit_to_new_service};
use common::{account, allocated, licensed, record, tags};
use metering_core::submit::{ErrorCode, Failure};
use metering_core::{Outcome, Quantity, QuarantineReason, Tags, UsageRecord};

/// A record of 1 for each dimension, each of its own customer of "prod-a", at `now()`.
fn one_record_each<'a>(dimensions: impl IntoIterator<Item = &'a str>) -> Vec<UsageRecord> {
    dimensions
        .into_iter()
        .enumerate()
        .map(|(i, dimension)| {
            record(
                account("prod-a", &(1000 + i).to_string()),
                dimension,
                now(),
                1,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_rejected_request_is_bisected_and_the_good_records_land() {
    let mut records: Vec<_> = (0..24)
        .map(|i| record(account("prod-a", &format!("{}", 100 + i)), "api", now(), 2))
        .collect();
    records.insert(13, record(account("prod-a", "7"), "unknown", now(), 5));
    let (service, report) = submit_to_new_service(Script::default(), fast_config(), records).await;
    assert_eq!(report.summary().success, 24);
    let rejected: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Quarantined(_)))
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].record.dimension().as_str(), "unknown");
    assert!(matches!(&rejected[0].outcome,
        Outcome::Quarantined(QuarantineReason::Rejected(failure))
            if failure.code() == Some(&ErrorCode::InvalidUsageDimension)));
    let sent = service.requests.lock().unwrap().len();
    assert!(
        sent <= 11,
        "bisection takes about 2·log2(25) requests, took {sent}"
    );
    assert_eq!(service.billed_total(), 48_000_000);
}

#[tokio::test]
async fn a_dimension_proven_bad_keeps_its_other_records_back_unsent() {
    // 200 customers; every tenth record has the dimension the product lacks.
    let records = |bad: &str| -> Vec<UsageRecord> {
        (0..200)
            .map(|i| {
                let dimension = if i % 10 == 3 {
                    bad
                } else {
                    ["api", "gb"][i % 2]
                };
                let customer = account("prod-a", &(1000 + i).to_string());
                record(customer, dimension, now(), 1 + i as u64)
            })
            .collect()
    };
    let (clean, _) =
        submit_to_new_service(Script::default(), fast_config(), records("seats")).await;
    let clean = clean.requests.lock().unwrap().len();
    let (service, report) =
        submit_to_new_service(Script::default(), fast_config(), records("unknown")).await;
    let sent = service.requests.lock().unwrap().len();
    assert!(
        sent <= clean + 20,
        "{sent} requests, the clean batch {clean}"
    );

    let mut good = 0;
    let mut unsent = 0;
    for entry in &report.outcomes {
        if entry.record.dimension().as_str() == "unknown" {
            let failure = rejection(&entry.outcome).unwrap_or_else(|| panic!("{entry:?}"));
            assert_eq!(failure.code(), Some(&ErrorCode::InvalidUsageDimension));
            assert!(failure.message().starts_with("scripted"), "{failure}");
            if failure
                .message()
                .contains("(not sent: the service rejected input[")
            {
                unsent += 1;
            }
        } else {
            assert!(
                matches!(entry.outcome, Outcome::Success { .. }),
                "{entry:?}"
            );
            good += entry.record.quantity().micros();
        }
    }
    assert_eq!(report.summary().quarantined, 20);
    assert!(unsent > 10, "most bad records were never sent: {unsent}");
    assert_eq!(
        service.billed_total(),
        good,
        "every good record billed exactly"
    );
}

#[tokio::test]
async fn a_customer_or_licence_proven_bad_is_kept_back_but_a_bad_timestamp_blames_no_one() {
    let script = Script {
        reject: |record| match record.customer().account()?.as_str() {
            "666" => Some("InvalidCustomerIdentifierException"),
            "555" => Some("InvalidLicenseException"),
            // The service's clock says this one record is out of bounds: a property of the
            // record, not of its customer or its dimension.
            "777" if record.quantity() == Quantity::new(13).unwrap() => {
                Some("TimestampOutOfBoundsException")
            }
            _ => None,
        },
        ..Script::default()
    };
    let hour = |h: u64| now().hour_start().saturating_sub(Duration::from_hours(h));
    let mut records = Vec::new();
    // 60 records of the product and 40 licensed ones: more than one request of each.
    for h in 1..=20 {
        records.push(record(account("prod-a", "666"), "api", hour(h), 1));
        records.push(record(licensed("555"), "api", hour(h), 1));
        records.push(record(licensed("556"), "api", hour(h), 1));
        records.push(record(account("prod-a", "777"), "api", hour(h), 10 + h));
        records.push(record(account("prod-a", "888"), "api", hour(h), 1));
    }
    let (_, report) = submit_to_new_service(script, fast_config(), records).await;
    let mut unsent = Vec::new();
    for entry in &report.outcomes {
        let account = entry.record.customer().account().unwrap().as_str();
        if rejection(&entry.outcome).is_some_and(|f| f.message().contains("(not sent")) {
            unsent.push(account);
        }
        let code = rejection(&entry.outcome).and_then(Failure::code);
        let expected = match account {
            "666" => Some(ErrorCode::InvalidCustomerIdentifier),
            "555" => Some(ErrorCode::InvalidLicense),
            "777" if entry.record.quantity() == Quantity::new(13).unwrap() => {
                Some(ErrorCode::TimestampOutOfBounds)
            }
            _ => None,
        };
        assert_eq!(code, expected.as_ref(), "{entry:?}");
        if expected.is_none() {
            assert!(
                matches!(entry.outcome, Outcome::Success { .. }),
                "{entry:?}"
            );
        }
    }
    assert_eq!(report.summary().quarantined, 41);
    // Several requests hold records of each bad customer: those rejected after the first
    // keep them back unsent.
    assert!(
        unsent.contains(&"666") && unsent.contains(&"555"),
        "{unsent:?}"
    );
    assert!(!unsent.contains(&"777"), "{unsent:?}");
}

#[tokio::test]
async fn tags_proven_bad_keep_back_records_tagged_alike_only() {
    let script = Script {
        reject: |record| {
            let tags = record.allocations()?.iter().filter_map(|a| a.tags.as_ref());
            let mut tags = tags.flat_map(Tags::as_slice);
            tags.any(|tag| tag.value.as_str() == "bad")
                .then_some("InvalidTagException")
        },
        ..Script::default()
    };
    let bad = tags(&[("env", "bad"), ("team", "a")]);
    let also_bad = tags(&[("env", "bad"), ("team", "b")]);
    let fine = tags(&[("env", "prod"), ("team", "a")]);
    let records: Vec<_> = (0..60)
        .map(|i| {
            let tags = [&bad, &fine, &also_bad][i % 3].clone();
            let customer = account("prod-a", &(100 + i).to_string());
            allocated(customer, "api", now(), &[(2, tags)])
        })
        .collect();
    let (_, report) = submit_to_new_service(script, fast_config(), records).await;
    let mut unsent = 0;
    for (i, entry) in report.outcomes.iter().enumerate() {
        assert_eq!(entry.inputs, [i]);
        if i % 3 == 1 {
            assert!(
                matches!(entry.outcome, Outcome::Success { .. }),
                "{entry:?}"
            );
            continue;
        }
        let failure = rejection(&entry.outcome).unwrap_or_else(|| panic!("{entry:?}"));
        assert_eq!(failure.code(), Some(&ErrorCode::InvalidTag));
        if let Some(proof) = failure.message().split("rejected input[").nth(1) {
            for proof in proof.split(']').next().unwrap().split(',') {
                let proof: usize = proof.parse().unwrap();
                assert_eq!(
                    proof % 3,
                    i % 3,
                    "proven by records tagged alike: {failure}"
                );
            }
            unsent += 1;
        }
    }
    assert!(unsent > 20, "{unsent} kept back unsent");
}

/// Bisection costs requests against the account's quota, so it takes no more than it needs.
/// Two requests of 25 in flight at once, each with one record of a dimension the product
/// lacks, are both rejected. The first to take its turn bisects (4 more requests, see the
/// comments); the other finds its bad record proven meanwhile and is sent once more
/// without it: 7 requests in all, and every good record billed.
#[tokio::test]
async fn a_request_whose_bad_value_another_bisection_proved_is_sent_once_without_it() {
    // Two requests alike: records 0..25 and 25..50, the fourth of each "unknown".
    let dimensions = (0..50).map(|i| match i % 25 {
        3 => "unknown",
        n => ["api", "gb"][n % 2],
    });
    let (service, report) = submit_to_new_service(
        Script::default(),
        fast_config().with_concurrency(2),
        one_record_each(dimensions),
    )
    .await;
    assert_eq!(report.summary().quarantined, 2);
    assert_eq!(report.summary().success, 48);
    assert_eq!(service.billed_total(), 48_000_000);
    // Both requests of 25 rejected; one bisected: its 13 "api" records (billed) and the
    // other 12 (rejected), then its 11 "gb" records (billed) and the "unknown" one alone
    // (rejected: proven); the other request sent again without its "unknown" record.
    let mut sizes = service.requests.lock().unwrap().clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 11, 12, 13, 24, 25, 25], "{}", report.table());
}

/// When the bad value is most of a rejected request, the good records still land: the
/// halves are the good value's records and the bad value's, never all of them on one side.
#[tokio::test]
async fn the_good_records_land_when_the_bad_value_is_most_of_the_request() {
    let dimensions = ["api", "unknown", "unknown", "unknown"];
    let (service, report) = submit_to_new_service(
        Script::default(),
        fast_config(),
        one_record_each(dimensions),
    )
    .await;
    assert_eq!(
        (report.summary().success, report.summary().quarantined),
        (1, 3),
        "{}",
        report.table()
    );
    assert_eq!(service.billed_total(), 1_000_000);
    assert_eq!(*service.requests.lock().unwrap(), [4, 1, 3]);
}

/// Each split sends left the fewest values that hold half the records, so a bisection
/// takes about two requests per halving: 2 "api", 2 "gb" and 1 "unknown" go as the 2 "api"
/// (billed) and the other 3 (rejected), then the 2 "gb" (billed) and the "unknown" alone.
#[tokio::test]
async fn a_split_sends_the_fewest_values_holding_half_the_records_first() {
    let dimensions = ["api", "gb", "unknown", "api", "gb"];
    let (service, report) = submit_to_new_service(
        Script::default(),
        fast_config(),
        one_record_each(dimensions),
    )
    .await;
    assert_eq!(report.summary().success, 4, "{}", report.table());
    assert_eq!(*service.requests.lock().unwrap(), [5, 2, 3, 2, 1]);
}
