//! What the examples share: the AWS side, stood in for by the emulator.

use std::error::Error;
use std::path::Path;

use marketplace_metering::ledger::SqliteLedger;
use marketplace_metering::submit::Submitter;
use marketplace_metering::{Clock, Meter, MeterConfig};
use metering_emulator::{Emulator, RunningEmulator};

/// The errors of the examples.
pub(crate) type BoxError = Box<dyn Error + Send + Sync>;

/// The product's code in AWS Marketplace.
pub(crate) const PRODUCT: &str = "prod-example123";

/// A Meter on the `SQLite` file `path`, on `clock`, sending what it seals through the real
/// AWS SDK client to the emulator at `endpoint` (in production, the seller account's
/// `AwsTransport::from_env().await`).
///
/// # Errors
/// When the file cannot be opened, or outside a Tokio runtime.
pub(crate) fn meter(
    path: &Path,
    clock: impl Clock + 'static,
    endpoint: &str,
) -> Result<Meter, BoxError> {
    // The clock is the meter's, and so its submitter's: given once.
    Ok(Meter::builder()
        .config(MeterConfig::new().with_clock(clock))
        .ledger(SqliteLedger::open(path)?)
        .submitter(Submitter::new(Emulator::transport_at(endpoint)))
        .build()?)
}

/// The emulator and a Meter sending to it from an `SQLite` file in a temporary directory,
/// on one clock.
pub(crate) struct Metered {
    /// Stands in for AWS Marketplace.
    pub(crate) emulator: RunningEmulator,
    /// Sends to the emulator.
    pub(crate) meter: Meter,
    _dir: tempfile::TempDir,
}

impl Metered {
    /// Starts both on `clock`.
    ///
    /// # Errors
    /// When the emulator or the meter cannot start.
    pub(crate) async fn start(clock: impl Clock + Clone + 'static) -> Result<Self, BoxError> {
        let emulator = Emulator::builder().clock(clock.clone()).start().await?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("meter.sqlite");
        let meter = meter(&path, clock, &emulator.endpoint_url())?;
        Ok(Self {
            emulator,
            meter,
            _dir: dir,
        })
    }
}

/// A subscription notification about `account` under `license`, as SQS delivers it from the
/// Marketplace's SNS topic: the SNS envelope, the notification in its `Message`.
#[must_use]
pub(crate) fn notification(action: &str, account: &str, license: &str) -> String {
    let message = serde_json::json!({
        "action": action,
        "customer-aws-account-id": account,
        "licenseArn": license,
        "product-code": PRODUCT,
    });
    serde_json::json!({
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-prod",
        "Message": message.to_string(),
    })
    .to_string()
}
