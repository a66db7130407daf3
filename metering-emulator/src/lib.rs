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
