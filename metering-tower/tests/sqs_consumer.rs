//! The SQS consumer example's loop, on its in-memory queue, a real Meter and the emulator: a
//! message is deleted only once handled; one that cannot be read, or that the seller failed
//! to handle, stays in the queue.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/sqs_consumer.rs"]
mod sqs_consumer;

use std::sync::Mutex;

use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, LicenseArn, ManualClock, Quantity, Timestamp,
};
use metering_tower::{Action, SubscriptionEvent};
use sqs_consumer::{InMemory, Metered, consume, notification};

const ALICE: &str = "111111111111";
const ALICE_LICENSE: &str = "arn:aws:license-manager::111111111111:license:l-0123456789abcdef";
const BOB: &str = "222222222222";
const BOB_LICENSE: &str = "arn:aws:license-manager::222222222222:license:l-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
enum Api {
    #[metering(rename = "api_calls")]
    Calls,
}

#[tokio::test]
async fn messages_are_deleted_once_handled_and_kept_otherwise() {
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-26T10:20:00Z").unwrap());
    let metered = Metered::start(clock).await.unwrap();
    let alice = Customer::Licensed {
        account: CustomerAwsAccountId::new(ALICE).unwrap(),
        license: LicenseArn::new(ALICE_LICENSE).unwrap(),
    };
    metered
        .meter
        .record(&alice, Api::Calls, Quantity::from(7_u16))
        .unwrap();

    let queue = InMemory::new([
        notification("entitlement-updated", ALICE, ALICE_LICENSE).as_str(),
        r#"{"Type": "Notification", "Message": "not a notification"}"#,
        notification("unsubscribe-pending", ALICE, ALICE_LICENSE).as_str(),
        // The seller fails to provision Bob: the message stays for another try.
        notification("subscribe-success", BOB, BOB_LICENSE).as_str(),
    ]);
    let seen = Mutex::new(Vec::new());
    let seller = |event: &SubscriptionEvent| {
        seen.lock().unwrap().push(event.action);
        match event.action {
            Action::SubscribeSuccess => Err("provisioning failed".into()),
            _ => Ok(()),
        }
    };
    let mut outcomes = Vec::new();
    consume(&queue, &metered.meter, seller, |message, outcome| {
        outcomes.push(format!("{}: {outcome}", message.receipt));
    })
    .await
    .unwrap();

    assert_eq!(
        outcomes[0],
        "receipt-0: deleted: EntitlementUpdated handled by the seller"
    );
    assert!(
        outcomes[1].starts_with("receipt-1: kept: Message: not a subscription notification"),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[2],
        "receipt-2: deleted: 1 records sealed, 1 billed"
    );
    assert_eq!(outcomes[3], "receipt-3: kept: provisioning failed");
    assert_eq!(outcomes.len(), 4);
    assert_eq!(*queue.deleted.lock().unwrap(), ["receipt-0", "receipt-2"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [Action::EntitlementUpdated, Action::SubscribeSuccess]
    );

    let billed: Vec<_> = metered
        .emulator
        .ledger()
        .into_iter()
        .map(|entry| (entry.customer, entry.hour.to_string(), entry.quantity))
        .collect();
    assert_eq!(
        billed,
        [(
            alice,
            "2026-11-26T10:00:00Z".to_owned(),
            Quantity::from(7_u16)
        )]
    );
    metered.meter.shutdown().await.unwrap();
}
