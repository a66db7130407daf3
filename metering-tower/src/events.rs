//! The Marketplace's subscription notifications (SNS topics `aws-mp-subscription-notification`
//! and `aws-mp-entitlement-notification`), as an SQS message body carries them.

use metering_core::ledger::FlushReport;
use metering_core::{Customer, Meter, MeterError};
use serde::Deserialize;

use crate::customer::{CustomerError, Members};

/// What happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// The buyer subscribed: start serving them.
    SubscribeSuccess,
    /// The subscription failed: do not serve or bill them.
    SubscribeFail,
    /// The buyer is leaving: report their remaining usage within the hour.
    UnsubscribePending,
    /// The buyer left: their records fail from now on.
    UnsubscribeSuccess,
    /// A contract was created, upgraded, renewed or expired: read the entitlements again.
    EntitlementUpdated,
}

/// One subscription notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionEvent {
    /// What happened.
    pub action: Action,
    /// The customer, in the mode the notification names them.
    pub customer: Customer,
    /// `offer-identifier`, when the notification has one.
    pub offer: Option<String>,
    /// `isFreeTrialTermPresent`.
    pub free_trial: bool,
}

/// Why a message is no subscription notification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body, or the envelope's `Message`, is not the JSON expected.
    #[error("{part}: not a subscription notification ({source}); the body was: {body:.300}")]
    Json {
        /// `body` (the SQS body) or `Message` (the SNS envelope's member).
        part: &'static str,
        /// The body as received.
        body: String,
        /// The parser's error, naming the member.
        source: serde_json::Error,
    },
    /// The members name no billable customer.
    #[error("the notification's {0}")]
    Customer(#[from] CustomerError),
}

/// The SNS envelope as SQS delivers it (without raw message delivery).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
struct Message {
    action: Action,
    #[serde(rename = "customer-identifier")]
    customer_identifier: Option<String>,
    #[serde(rename = "customer-aws-account-id")]
    customer_aws_account_id: Option<String>,
    #[serde(rename = "product-code")]
    product_code: Option<String>,
    #[serde(rename = "licenseArn", alias = "license-arn")]
    license_arn: Option<String>,
    #[serde(rename = "offer-identifier")]
    offer_identifier: Option<String>,
    #[serde(rename = "isFreeTrialTermPresent", default)]
    free_trial: Option<String>,
}

impl SubscriptionEvent {
    /// Reads an SQS message body: the SNS envelope whose `Message` is the notification's
    /// JSON text, or the notification itself (raw message delivery).
    ///
    /// ```
    /// use metering_tower::{Action, SubscriptionEvent};
    ///
    /// let body = r#"{"action": "unsubscribe-pending", "customer-aws-account-id": "123456789012",
    ///               "product-code": "prod-example123"}"#;
    /// let event = SubscriptionEvent::from_sqs_body(body)?;
    /// assert_eq!(event.action, Action::UnsubscribePending); // `event.apply(&meter)` sends their usage
    /// assert_eq!(event.customer.account().map(|a| a.as_str()), Some("123456789012"));
    /// // An action the service does not send is refused, naming it.
    /// let error = SubscriptionEvent::from_sqs_body(r#"{"action": "subscribe-maybe"}"#).unwrap_err();
    /// assert!(error.to_string().contains("subscribe-maybe"), "{error}");
    /// # Ok::<(), metering_tower::EventError>(())
    /// ```
    ///
    /// # Errors
    /// Malformed JSON, an unknown `action`, a member off its rule, or no billable customer.
    pub fn from_sqs_body(body: &str) -> Result<Self, EventError> {
        fn error(part: &'static str, body: &str) -> impl FnOnce(serde_json::Error) -> EventError {
            move |source| EventError::Json {
                part,
                body: body.to_owned(),
                source,
            }
        }
        let value: serde_json::Value = serde_json::from_str(body).map_err(error("body", body))?;
        let message: Message = if value.get("Message").is_some() {
            let envelope: Envelope = serde_json::from_value(value).map_err(error("body", body))?;
            serde_json::from_str(&envelope.message).map_err(error("Message", &envelope.message))?
        } else {
            serde_json::from_value(value).map_err(error("body", body))?
        };
        message.into_event()
    }
}

/// What [`SubscriptionEvent::apply`] did.
#[derive(Debug)]
pub enum Applied {
    /// Unsubscribe-pending: the customer's usage up to now was sealed and sent; the report
    /// says what the service answered.
    Flushed(FlushReport),
    /// Any other action: nothing for the Meter to do; the event is the seller's to act on
    /// (start or stop serving the customer, read their entitlements again).
    Seller(SubscriptionEvent),
}

impl SubscriptionEvent {
    /// Does what `meter` must for this event: on [`Action::UnsubscribePending`], seals and
    /// sends the customer's usage at once ([`Meter::seal_and_flush_customer`]), since the
    /// service bills them for one more hour only; any other event is handed back.
    ///
    /// The customer is the one the notification names: their usage must be recorded under
    /// the same [`Customer`] (registration reads the same members the same way).
    ///
    /// Delete the queue's message only once this succeeds: on an error the message comes
    /// back after its visibility timeout and the flush is tried again (each record is sent
    /// once however often it runs).
    ///
    /// # Errors
    /// As [`Meter::seal_and_flush_customer`]: a meter without a submitter, or the ledger's
    /// error.
    pub async fn apply(self, meter: &Meter) -> Result<Applied, MeterError> {
        match self.action {
            Action::UnsubscribePending => meter
                .seal_and_flush_customer(&self.customer)
                .await
                .map(Applied::Flushed),
            _ => Ok(Applied::Seller(self)),
        }
    }
}

impl Message {
    fn into_event(self) -> Result<SubscriptionEvent, EventError> {
        let customer = Members {
            license: self.license_arn,
            account: self.customer_aws_account_id,
            product: self.product_code,
            identifier: self.customer_identifier,
        }
        .customer()?;
        Ok(SubscriptionEvent {
            action: self.action,
            customer,
            offer: self.offer_identifier,
            free_trial: self.free_trial.as_deref() == Some("true"),
        })
    }
}
