//! The example SaaS end to end, over real HTTP on loopback: two buyers register through the
//! emulator's `ResolveCustomer`, use the product across two hours of a manual clock, one of
//! them unsubscribes; the emulator bills exactly the requests answered, each hour's record
//! once.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/saas.rs"]
mod saas;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use marketplace_metering::{Customer, Dimension, ManualClock, Quantity, Timestamp};
use metering_emulator::Registration as Token;
use metering_tower::{Action, Applied};
use saas::{EXPORT, PRODUCT, Product, Saas, client, marketplace, notification};

const ALICE: &str = "111111111111";
const ALICE_LICENSE: &str = "arn:aws:license-manager::111111111111:license:l-0123456789abcdef";
const BOB: &str = "222222222222";

/// What each `(account, hour, dimension)` should be billed: the requests answered 200.
#[derive(Default)]
struct Expected(BTreeMap<(String, String, String), u64>);

impl Expected {
    fn add(&mut self, account: &str, clock: &ManualClock, dimension: Product, quantity: u64) {
        let hour = marketplace_metering::Clock::now(clock)
            .hour_start()
            .to_string();
        *self
            .0
            .entry((account.to_owned(), hour, dimension.as_str().to_owned()))
            .or_default() += quantity;
    }
}

/// Makes `searches` searches and `exports` exports as `account` with `key`, each answered 200,
/// and counts them.
async fn use_product(
    saas: &Saas,
    key: &str,
    (account, clock, expected): (&str, &ManualClock, &mut Expected),
    searches: u64,
    exports: u64,
) {
    for _ in 0..searches {
        let answer = client::get(saas.addr, "/api/search?q=meter", key)
            .await
            .unwrap();
        assert_eq!(answer.0, StatusCode::OK, "{answer:?}");
        expected.add(account, clock, Product::ApiCalls, 1);
    }
    for _ in 0..exports {
        let answer = client::get(saas.addr, "/api/export", key).await.unwrap();
        assert_eq!(answer, (StatusCode::OK, EXPORT.to_owned()));
        expected.add(account, clock, Product::ExportedBytes, EXPORT.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_bills_exactly_the_requests_answered_once() {
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z").unwrap());
    let aws = marketplace(
        clock.clone(),
        [
            Token::licensed("tok-alice", ALICE, PRODUCT, ALICE_LICENSE),
            Token::legacy("tok-bob", BOB, PRODUCT, "cust-bob"),
        ],
    )
    .await
    .unwrap();
    let saas = Saas::start(clock.clone(), aws.endpoint_url())
        .await
        .unwrap();
    let mut expected = Expected::default();

    // Registration: each token resolves once, through the real SDK client.
    let (status, alice) = client::register(saas.addr, "tok-alice").await.unwrap();
    assert_eq!(status, StatusCode::OK, "{alice}");
    let (status, bob) = client::register(saas.addr, "tok-bob").await.unwrap();
    assert_eq!(status, StatusCode::OK, "{bob}");
    for (token, error) in [
        ("tok-alice", "ExpiredTokenException"),
        ("tok-forged", "InvalidTokenException"),
    ] {
        let (status, text) = client::register(saas.addr, token).await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains(error), "{token}: {text}");
    }

    // Hour 10. Requests answered 401 (no customer) or 400 (a failed search) cost nothing.
    use_product(&saas, &alice, (ALICE, &clock, &mut expected), 3, 2).await;
    use_product(&saas, &bob, (BOB, &clock, &mut expected), 2, 0).await;
    let unknown = client::get(saas.addr, "/api/search?q=x", "key-forged")
        .await
        .unwrap();
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED, "{unknown:?}");
    let failed = client::get(saas.addr, "/api/search", &bob).await.unwrap();
    assert_eq!(failed.0, StatusCode::BAD_REQUEST, "{failed:?}");

    // Hour 11: the meter reads its clock at its next commit.
    clock.advance(Duration::from_hours(1));
    saas.meter().commit().await.unwrap();
    use_product(&saas, &alice, (ALICE, &clock, &mut expected), 4, 0).await;
    use_product(&saas, &bob, (BOB, &clock, &mut expected), 1, 1).await;

    // Alice is leaving: her hours, the open one included, are billed now.
    let applied = saas
        .on_notification(&notification("unsubscribe-pending", ALICE, ALICE_LICENSE))
        .await
        .unwrap();
    let Applied::Flushed(report) = applied else {
        panic!("unsubscribe-pending did not flush: {applied:?}");
    };
    assert_eq!(report.outcomes.success, 3, "{report:?}");
    let alice_only: BTreeMap<_, _> = expected
        .0
        .iter()
        .filter(|((account, ..), _)| account == ALICE)
        .map(|(key, quantity)| (key.clone(), *quantity))
        .collect();
    assert_eq!(billed(&aws), alice_only);

    // Unsubscribed: her key is revoked.
    let applied = saas
        .on_notification(&notification("unsubscribe-success", ALICE, ALICE_LICENSE))
        .await
        .unwrap();
    assert!(
        matches!(&applied, Applied::Seller(event) if event.action == Action::UnsubscribeSuccess),
        "{applied:?}"
    );
    let revoked = client::get(saas.addr, "/api/search?q=x", &alice)
        .await
        .unwrap();
    assert_eq!(revoked.0, StatusCode::UNAUTHORIZED, "{revoked:?}");

    // Hour 11 closes, with its grace: Bob's hours are billed by the next flush.
    clock.advance(Duration::from_mins(75));
    saas.meter().flush().await.unwrap();
    assert_eq!(billed(&aws), expected.0);

    // Once: nothing is left to send, and nothing was sent twice.
    let again = saas.meter().flush().await.unwrap();
    assert_eq!(again.claims, 0, "{again:?}");
    assert_eq!(aws.duplicates(), 0);
    saas.shutdown().await.unwrap();
    assert_eq!(billed(&aws), expected.0);

    // Each buyer is billed in the mode their registration named.
    for entry in aws.ledger() {
        let account = entry.customer.account().unwrap().as_str();
        let licensed = matches!(entry.customer, Customer::Licensed { .. });
        assert_eq!(licensed, account == ALICE, "{}", entry.customer);
    }
}

/// What the emulator billed, by `(account, hour, dimension)`; a record of no usage (the
/// meter may send zeros) bills nothing and is left out.
fn billed(aws: &metering_emulator::RunningEmulator) -> BTreeMap<(String, String, String), u64> {
    let mut billed = BTreeMap::new();
    for entry in aws.ledger() {
        if entry.quantity == Quantity::ZERO {
            continue;
        }
        let key = (
            entry.customer.account().unwrap().to_string(),
            entry.hour.to_string(),
            entry.dimension.as_str().to_owned(),
        );
        let units = entry.quantity.to_string().parse().unwrap();
        assert!(
            billed.insert(key, units).is_none(),
            "billed twice: {entry:?}"
        );
    }
    billed
}
