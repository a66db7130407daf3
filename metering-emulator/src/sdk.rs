//! What talks to an emulator in one call: the AWS SDK's configuration, and the metering
//! `AwsTransport` over the real SDK client (feature `aws`).

use aws_sdk_marketplacemetering::Config;
use aws_sdk_marketplacemetering::config::{BehaviorVersion, Credentials, Region};
use metering_core::AwsTransport;

use crate::{Emulator, RunningEmulator};

/// The region the configurations name: the emulator answers in any.
const REGION: &str = "us-east-1";

impl Emulator {
    /// The `aws-sdk-marketplacemetering` configuration for an emulator listening at
    /// `endpoint_url` (another process's, as [`RunningEmulator::endpoint_url`] gave it):
    /// see [`RunningEmulator::sdk_config`].
    #[must_use]
    pub fn sdk_config_at(endpoint_url: &str) -> Config {
        Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            // The emulator accepts any signature: these are for the SDK to sign with.
            .credentials_provider(Credentials::new(
                "emulator",
                "emulator",
                None,
                None,
                "metering-emulator",
            ))
            .endpoint_url(endpoint_url)
            .build()
    }

    /// The transport for an emulator listening at `endpoint_url`: see
    /// [`RunningEmulator::transport`].
    #[must_use]
    pub fn transport_at(endpoint_url: &str) -> AwsTransport {
        AwsTransport::from_conf(Self::sdk_config_at(endpoint_url))
    }
}

impl RunningEmulator {
    /// The `aws-sdk-marketplacemetering` configuration that talks to this emulator: its
    /// [`endpoint_url`](Self::endpoint_url), test credentials, region `us-east-1` and the
    /// latest behaviour version. Change what a test needs through `to_builder()` (a timeout,
    /// the SDK's retries).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use aws_sdk_marketplacemetering::{Client, primitives::DateTime, types::UsageRecord};
    ///
    /// let emulator = metering_emulator::Emulator::start().await?;
    /// let record = UsageRecord::builder()
    ///     .timestamp(DateTime::from(std::time::SystemTime::now()))
    ///     .customer_aws_account_id("123456789012")
    ///     .dimension("api_calls")
    ///     .quantity(3)
    ///     .build()?;
    /// let output = Client::from_conf(emulator.sdk_config())
    ///     .batch_meter_usage()
    ///     .product_code("prod-example")
    ///     .usage_records(record)
    ///     .send()
    ///     .await?;
    /// assert_eq!(output.results()[0].status().map(|s| s.as_str()), Some("Success"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn sdk_config(&self) -> Config {
        Emulator::sdk_config_at(&self.endpoint_url())
    }

    /// An [`AwsTransport`] to this emulator: the real SDK client with
    /// [`sdk_config`](Self::sdk_config). Give the submitter the emulator's
    /// [`clock`](Self::clock) too, so both judge time alike.
    ///
    /// ```
    /// use metering_core::{Customer, CustomerAwsAccountId, DimensionKey, ManualClock, Outcome,
    ///                     ProductCode, Quantity, SubmitConfig, Submitter, Timestamp,
    ///                     UsageRecord};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let now = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z")?;
    /// let emulator = metering_emulator::Emulator::builder()
    ///     .clock(ManualClock::new(now))
    ///     .start()
    ///     .await?;
    /// let submitter = Submitter::with_config(
    ///     emulator.transport(),
    ///     SubmitConfig::default().with_clock(emulator.clock()),
    /// );
    /// let customer = Customer::Account {
    ///     product: ProductCode::new("prod-example")?,
    ///     account: CustomerAwsAccountId::new("123456789012")?,
    /// };
    /// let record = UsageRecord::new(customer, DimensionKey::new("api_calls")?,
    ///                               now.hour_start(), Quantity::new(3)?);
    /// let report = submitter.submit([record]).await;
    /// assert!(matches!(report.outcomes[0].outcome, Outcome::Success { .. }));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn transport(&self) -> AwsTransport {
        Emulator::transport_at(&self.endpoint_url())
    }
}
