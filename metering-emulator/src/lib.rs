#![doc = include_str!("../README.md")]

mod builder;
mod config;
mod error;
mod faults;
mod ledger;
mod quota;
mod registration;
mod request;
#[cfg(feature = "aws")]
mod sdk;
mod serve;
mod server;

pub use builder::Builder;
pub use config::EmulatorConfig;
pub use error::{EmulatorError, ErrorKind, ServiceError};
pub use faults::Faults;
pub use ledger::{BilledAllocation, LedgerEntry, SummaryRow, Total};
pub use quota::Quota;
pub use registration::Registration;
pub use serve::ServeArgs;
pub use server::{CONTENT_TYPE_JSON, RESOLVE_CUSTOMER_TARGET, RunningEmulator, TARGET};

/// The entry point: `Emulator::builder()...start().await`.
///
/// ```
/// # #[cfg(not(feature = "aws"))] fn main() {}
/// # #[cfg(feature = "aws")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use metering_core::{
///     Customer, DimensionKey, ManualClock, Outcome, Quantity, SubmitConfig, Submitter, Timestamp,
///     UsageRecord,
/// };
///
/// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
/// let emulator = metering_emulator::Emulator::builder()
///     .clock(ManualClock::new(now)) // shared below: one clock judges every time
///     .unsubscribed(["999999999999"])
///     .start()
///     .await?;
/// let submitter = Submitter::with_config(
///     emulator.transport(), // the real AWS SDK client, pointed at the emulator
///     SubmitConfig::default().with_clock(emulator.clock()),
/// );
/// let usage = |account: &str| -> Result<UsageRecord, Box<dyn std::error::Error>> {
///     let customer = Customer::Account { product: "prod-example123".parse()?, account: account.parse()? };
///     Ok(UsageRecord::new(customer, DimensionKey::new("api_calls")?, now, Quantity::new(3)?))
/// };
/// let report = submitter.submit([usage("123456789012")?, usage("999999999999")?]).await;
/// assert!(matches!(report.outcomes[0].outcome, Outcome::Success { .. }));
/// assert_eq!(report.outcomes[1].outcome, Outcome::CustomerNotSubscribed);
/// let billed = emulator.ledger();
/// assert_eq!(billed.len(), 1);
/// assert_eq!(billed[0].quantity, Quantity::new(3)?);
/// assert_eq!(emulator.clock().now(), now);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the permissive defaults (see [`Builder`]).
    #[must_use]
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts an emulator with the permissive defaults on a free loopback port.
    ///
    /// # Errors
    /// When binding fails.
    pub async fn start() -> Result<RunningEmulator, EmulatorError> {
        Self::builder().start().await
    }
}
