//! Subscription notifications as SQS delivers them, into typed events, and what the Meter
//! does with them.

#[allow(dead_code, reason = "the examples' other parts")]
#[path = "../examples/common/mod.rs"]
mod example;

use example::Metered;
use marketplace_metering::{
    Customer, CustomerAwsAccountId, CustomerIdentifier, Dimension, LicenseArn, ManualClock,
    ProductCode, Quantity, Timestamp,
};
use metering_tower::{Action, Applied, CustomerError, EventError, SubscriptionEvent};

const ACCOUNT: &str = "123456789012";
const LICENSE: &str = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef";

/// The SNS envelope around `message`, as an SQS body without raw message delivery.
fn envelope(message: &str) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": "4b1a0b0a-0000-0000-0000-000000000000",
        "TopicArn": "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-prod",
        "Message": message,
        "Timestamp": "2026-11-26T12:00:00.000Z",
    })
    .to_string()
}

#[test]
fn every_action_is_read_through_the_envelope() {
    for (name, action) in [
        ("subscribe-success", Action::SubscribeSuccess),
        ("subscribe-fail", Action::SubscribeFail),
        ("unsubscribe-pending", Action::UnsubscribePending),
        ("unsubscribe-success", Action::UnsubscribeSuccess),
        ("entitlement-updated", Action::EntitlementUpdated),
    ] {
        let message = format!(
            r#"{{"action": "{name}", "customer-aws-account-id": "{ACCOUNT}", "licenseArn": "{LICENSE}", "product-code": "prod-example123", "offer-identifier": "offer-abc123", "isFreeTrialTermPresent": "true"}}"#
        );
        let event = SubscriptionEvent::from_sqs_body(&envelope(&message)).unwrap();
        assert_eq!(event.action, action, "{name}");
        assert_eq!(
            event.customer,
            Customer::Licensed {
                account: CustomerAwsAccountId::new(ACCOUNT).unwrap(),
                license: LicenseArn::new(LICENSE).unwrap(),
            }
        );
        assert_eq!(event.offer.as_deref(), Some("offer-abc123"));
        assert!(event.free_trial);
    }
}

#[test]
fn the_customer_is_in_the_mode_the_notification_names() {
    let account = SubscriptionEvent::from_sqs_body(&format!(
        r#"{{"action": "subscribe-success", "customer-aws-account-id": "{ACCOUNT}", "customer-identifier": "X01EXAMPLEX", "product-code": "prod-example123"}}"#
    ))
    .unwrap();
    assert_eq!(
        account.customer,
        Customer::Account {
            product: ProductCode::new("prod-example123").unwrap(),
            account: CustomerAwsAccountId::new(ACCOUNT).unwrap(),
        }
    );
    assert!(!account.free_trial);
    // The Seller Guide's own sample, padded identifier and all.
    let legacy = SubscriptionEvent::from_sqs_body(&envelope(
        r#"{"action": "unsubscribe-pending", "customer-identifier": " X01EXAMPLEX", "product-code": "n0123EXAMPLEXXXXXXXXXXXX", "offer-identifier": "offer-abcexample123", "isFreeTrialTermPresent":"false"}"#,
    ))
    .unwrap();
    assert_eq!(
        legacy.customer,
        Customer::Legacy {
            product: ProductCode::new("n0123EXAMPLEXXXXXXXXXXXX").unwrap(),
            identifier: CustomerIdentifier::new("X01EXAMPLEX").unwrap(),
        }
    );
}

#[test]
fn bad_messages_say_what_is_wrong() {
    let unknown = SubscriptionEvent::from_sqs_body(&envelope(
        r#"{"action": "subscribe-maybe", "customer-identifier": "X", "product-code": "p"}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(
            unknown,
            EventError::Json {
                part: "Message",
                ..
            }
        ),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("subscribe-maybe"), "{unknown}");

    let nobody =
        SubscriptionEvent::from_sqs_body(r#"{"action": "subscribe-success", "product-code": "p"}"#)
            .unwrap_err();
    assert!(
        matches!(nobody, EventError::Customer(CustomerError::NoCustomer(_))),
        "{nobody}"
    );

    let bad_account = SubscriptionEvent::from_sqs_body(
        r#"{"action": "subscribe-success", "customer-aws-account-id": "12ab", "product-code": "p"}"#,
    )
    .unwrap_err();
    let text = bad_account.to_string();
    assert!(
        matches!(bad_account, EventError::Customer(CustomerError::Field(_)))
            && text.contains("12ab"),
        "{text}"
    );

    let not_json = SubscriptionEvent::from_sqs_body("hello").unwrap_err();
    assert!(
        matches!(not_json, EventError::Json { part: "body", .. }),
        "{not_json}"
    );
}

/// `(account, hour, quantity)` of every record the emulator billed.
fn billed(metered: &Metered) -> Vec<(String, String, Quantity)> {
    let mut billed: Vec<_> = metered
        .emulator
        .ledger()
        .into_iter()
        .map(|entry| {
            let account = entry.customer.account().map(ToString::to_string);
            (account.unwrap(), entry.hour.to_string(), entry.quantity)
        })
        .collect();
    billed.sort();
    billed
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
enum Api {
    #[metering(rename = "api_calls")]
    Calls,
}

fn event(action: &str, account: &str) -> SubscriptionEvent {
    SubscriptionEvent::from_sqs_body(&envelope(&format!(
        r#"{{"action": "{action}", "customer-aws-account-id": "{account}", "product-code": "prod-example123"}}"#
    )))
    .unwrap()
}

#[tokio::test]
async fn unsubscribe_pending_seals_and_sends_that_customers_open_hour_at_once() {
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-26T10:20:00Z").unwrap());
    let metered = Metered::start(clock).await.unwrap();
    let leaving = event("unsubscribe-pending", "111111111111");
    let staying = event("subscribe-success", "222222222222");
    for (customer, calls) in [(&leaving.customer, 3), (&staying.customer, 5)] {
        metered
            .meter
            .record(customer, Api::Calls, Quantity::new(calls).unwrap())
            .unwrap();
    }

    // Another action is the seller's: handed back as it came, nothing sent.
    match staying.clone().apply(&metered.meter).await.unwrap() {
        Applied::Seller(event) => assert_eq!(event, staying),
        other @ Applied::Flushed(_) => panic!("a subscribe-success flushed: {other:?}"),
    }
    assert_eq!(billed(&metered), []);

    // The leaving customer's open hour is billed now, not after the hour and its grace;
    // the staying customer's waits for its hour to close.
    let Applied::Flushed(report) = leaving.clone().apply(&metered.meter).await.unwrap() else {
        panic!("unsubscribe-pending did not flush");
    };
    assert_eq!(
        (report.sealed.sealed, report.outcomes.success),
        (1, 1),
        "{report:?}"
    );
    let expected = vec![(
        "111111111111".to_owned(),
        "2026-11-26T10:00:00Z".to_owned(),
        Quantity::new(3).unwrap(),
    )];
    assert_eq!(billed(&metered), expected);

    // A redelivered notification sends nothing again.
    let Applied::Flushed(again) = leaving.apply(&metered.meter).await.unwrap() else {
        panic!("unsubscribe-pending did not flush");
    };
    assert_eq!(again.outcomes.success, 0, "{again:?}");
    assert_eq!(billed(&metered), expected);
    assert_eq!(metered.emulator.duplicates(), 0);
    metered.meter.shutdown().await.unwrap();
}
