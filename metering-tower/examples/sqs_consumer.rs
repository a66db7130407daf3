//! Consuming the Marketplace's subscription notifications from an SQS queue.
//!
//! AWS Marketplace publishes subscription events to SNS topics; the seller subscribes an SQS
//! queue to them and reads it. Which SQS crate does the reading is the seller's choice, so
//! the loop below ([`consume`]) is written against a two-call [`Queue`] trait: receive a
//! batch, delete one message. `Sqs`, in the block below, implements it with `aws-sdk-sqs`. It
//! is a comment rather than code because this workspace does not depend on `aws-sdk-sqs`:
//! every CI build would compile one more large SDK crate for one example. It was checked to
//! compile against `aws-sdk-sqs` 1.119.0 when this example was written.
//!
//! What the loop guarantees: a message is deleted only once it was handled. A notification
//! that cannot be read, or a flush that failed, stays in the queue: it comes back after
//! its visibility timeout (and, after the queue's `maxReceiveCount`, goes to its
//! dead-letter queue for a person to look at), never silently dropped. Handling a
//! notification twice is harmless: the Meter sends each record once.
//!
//! Run it with `cargo run -p metering-tower --example sqs_consumer`: the queue is an
//! in-memory one holding three notifications, the Meter sends to the emulator.
//!
//! ```text
//! // Cargo.toml: aws-config = "1", aws-sdk-sqs = "1"
//! /// An SQS queue, read with long polling.
//! struct Sqs {
//!     client: aws_sdk_sqs::Client,
//!     url: String,
//! }
//!
//! impl Sqs {
//!     async fn from_env(url: String) -> Self {
//!         let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//!         Self { client: aws_sdk_sqs::Client::new(&config), url }
//!     }
//! }
//!
//! impl Queue for Sqs {
//!     async fn receive(&self) -> Result<Option<Vec<Message>>, BoxError> {
//!         let output = self
//!             .client
//!             .receive_message()
//!             .queue_url(&self.url)
//!             .max_number_of_messages(10)
//!             .wait_time_seconds(20)
//!             .send()
//!             .await?;
//!         let messages = output.messages.unwrap_or_default().into_iter();
//!         // An SQS message always has both; the queue never ends.
//!         Ok(Some(
//!             messages
//!                 .filter_map(|message| Some(Message {
//!                     receipt: message.receipt_handle?,
//!                     body: message.body?,
//!                 }))
//!                 .collect(),
//!         ))
//!     }
//!
//!     async fn delete(&self, receipt: &str) -> Result<(), BoxError> {
//!         self.client
//!             .delete_message()
//!             .queue_url(&self.url)
//!             .receipt_handle(receipt)
//!             .send()
//!             .await?;
//!         Ok(())
//!     }
//! }
//! ```

use std::collections::VecDeque;
use std::sync::Mutex;

use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, LicenseArn, Meter, Quantity, SystemClock,
};
use metering_tower::{Action, Applied, SubscriptionEvent};

#[allow(dead_code, reason = "shared by the examples, each using a part")]
mod common;
pub(crate) use common::{BoxError, Metered, notification};

/// A message as the queue delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// What deleting it takes (SQS's receipt handle).
    pub(crate) receipt: String,
    /// The SQS body: the SNS envelope around the notification.
    pub(crate) body: String,
}

/// The two calls the loop needs from a queue.
pub(crate) trait Queue {
    /// The next batch (empty when none arrived in time); `None` once the queue has ended
    /// (an SQS queue never does).
    fn receive(&self) -> impl Future<Output = Result<Option<Vec<Message>>, BoxError>>;
    /// Deletes a handled message.
    fn delete(&self, receipt: &str) -> impl Future<Output = Result<(), BoxError>>;
}

/// What became of one message.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Handled, and deleted from the queue.
    Deleted(Applied),
    /// Left in the queue to come back (and, after its last receive, go to the dead-letter
    /// queue), with the reason.
    Kept(BoxError),
}

/// Reads `queue` until it ends: each notification's Meter part is done (an unsubscribing
/// customer's usage sealed and sent), the other events are given to `seller` (start or
/// stop serving the customer), and the message is deleted once that succeeded. Each
/// message's outcome is given to `report`.
///
/// # Errors
/// When receiving or deleting fails (the caller decides whether to back off and go on).
pub(crate) async fn consume<Q: Queue>(
    queue: &Q,
    meter: &Meter,
    seller: impl Fn(&SubscriptionEvent) -> Result<(), BoxError>,
    mut report: impl FnMut(&Message, &Outcome),
) -> Result<(), BoxError> {
    while let Some(batch) = queue.receive().await? {
        for message in batch {
            let outcome = match handle(&message.body, meter, &seller).await {
                Ok(applied) => {
                    queue.delete(&message.receipt).await?;
                    Outcome::Deleted(applied)
                }
                Err(error) => Outcome::Kept(error),
            };
            report(&message, &outcome);
        }
    }
    Ok(())
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deleted(Applied::Flushed(report)) => write!(
                f,
                "deleted: {} records sealed, {} billed",
                report.sealed.sealed, report.outcomes.success
            ),
            Self::Deleted(Applied::Seller(event)) => {
                write!(f, "deleted: {:?} handled by the seller", event.action)
            }
            Self::Kept(error) => write!(f, "kept: {error}"),
        }
    }
}

async fn handle(
    body: &str,
    meter: &Meter,
    seller: impl Fn(&SubscriptionEvent) -> Result<(), BoxError>,
) -> Result<Applied, BoxError> {
    let applied = SubscriptionEvent::from_sqs_body(body)?.apply(meter).await?;
    if let Applied::Seller(event) = &applied {
        seller(event)?;
    }
    Ok(applied)
}

/// A queue in memory: the messages it was made with, then its end. It stands in for SQS so
/// that the example runs without AWS.
#[derive(Debug, Default)]
pub(crate) struct InMemory {
    /// Messages not yet received.
    pub(crate) waiting: Mutex<VecDeque<Message>>,
    /// Receipts of the messages deleted.
    pub(crate) deleted: Mutex<Vec<String>>,
}

impl InMemory {
    /// A queue holding `bodies`, received in batches of up to ten as SQS does.
    pub(crate) fn new<'a>(bodies: impl IntoIterator<Item = &'a str>) -> Self {
        let waiting = bodies.into_iter().enumerate().map(|(index, body)| Message {
            receipt: format!("receipt-{index}"),
            body: body.to_owned(),
        });
        Self {
            waiting: Mutex::new(waiting.collect()),
            deleted: Mutex::default(),
        }
    }
}

impl Queue for InMemory {
    async fn receive(&self) -> Result<Option<Vec<Message>>, BoxError> {
        let mut waiting = self.waiting.lock().map_err(|_| "poisoned")?;
        if waiting.is_empty() {
            return Ok(None);
        }
        let batch = waiting.len().min(10);
        Ok(Some(waiting.drain(..batch).collect()))
    }

    async fn delete(&self, receipt: &str) -> Result<(), BoxError> {
        self.deleted
            .lock()
            .map_err(|_| "poisoned")?
            .push(receipt.to_owned());
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Product {
    ApiCalls,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    const ACCOUNT: &str = "111122223333";
    const LICENSE: &str = "arn:aws:license-manager::111122223333:license:l-0123456789abcdef";
    let metered = Metered::start(SystemClock).await?;
    let customer = Customer::Licensed {
        account: CustomerAwsAccountId::new(ACCOUNT)?,
        license: LicenseArn::new(LICENSE)?,
    };
    metered
        .meter
        .record(&customer, Product::ApiCalls, Quantity::from(7_u16))?;

    let queue = InMemory::new([
        notification("entitlement-updated", ACCOUNT, LICENSE).as_str(),
        r#"{"Type": "Notification", "Message": "not a notification"}"#,
        notification("unsubscribe-pending", ACCOUNT, LICENSE).as_str(),
    ]);
    let seller = |event: &SubscriptionEvent| {
        if event.action == Action::EntitlementUpdated {
            println!(
                "  (the seller reads {}'s entitlements again)",
                event.customer
            );
        }
        Ok(())
    };
    consume(&queue, &metered.meter, seller, |message, outcome| {
        println!("{}: {outcome}", message.receipt);
    })
    .await?;
    metered.meter.close().await?;

    println!("billed by the emulator:");
    for entry in metered.emulator.ledger() {
        println!(
            "  {} {} {} {}",
            entry.customer, entry.hour, entry.dimension, entry.quantity
        );
    }
    Ok(())
}
