//! The Marketplace's subscription notifications (SNS topics `aws-mp-subscription-notification`
//! and `aws-mp-entitlement-notification`), as an SQS message body carries them.

use metering_core::{
    Customer, CustomerAwsAccountId, CustomerIdentifier, LicenseArn, ProductCode, ValidationError,
};
use serde::Deserialize;

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
    /// A member breaks the service's rule for that field.
    #[error("{0}")]
    Field(#[from] ValidationError),
    /// No member names the customer in a way the service bills.
    #[error(
        "the notification names no billable customer: it needs `product-code` with `customer-identifier` or `customer-aws-account-id`, or `customer-aws-account-id` with `licenseArn` (got: {0})"
    )]
    NoCustomer(String),
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

impl Message {
    fn into_event(self) -> Result<SubscriptionEvent, EventError> {
        let described = format!(
            "customer-identifier {:?}, customer-aws-account-id {:?}, product-code {:?}, licenseArn {:?}",
            self.customer_identifier,
            self.customer_aws_account_id,
            self.product_code,
            self.license_arn
        );
        let customer = match (
            self.license_arn,
            self.customer_aws_account_id,
            self.product_code.filter(|code| !code.is_empty()),
            // The Seller Guide's samples pad the identifier with a space; none has one.
            self.customer_identifier
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty()),
        ) {
            (Some(license), Some(account), _, _) => Customer::Licensed {
                account: CustomerAwsAccountId::new(account)?,
                license: LicenseArn::new(license)?,
            },
            (None, Some(account), Some(product), _) => Customer::Account {
                product: ProductCode::new(product)?,
                account: CustomerAwsAccountId::new(account)?,
            },
            (None, None, Some(product), Some(identifier)) => Customer::Legacy {
                product: ProductCode::new(product)?,
                identifier: CustomerIdentifier::new(identifier)?,
            },
            _ => return Err(EventError::NoCustomer(described)),
        };
        Ok(SubscriptionEvent {
            action: self.action,
            customer,
            offer: self.offer_identifier,
            free_trial: self.free_trial.as_deref() == Some("true"),
        })
    }
}
