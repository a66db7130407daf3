//! Subscription notifications as SQS delivers them, into typed events.

use metering::{Customer, CustomerAwsAccountId, CustomerIdentifier, LicenseArn, ProductCode};
use metering_tower::{Action, CustomerError, EventError, SubscriptionEvent};

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
