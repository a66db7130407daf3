//! Building a [`Meter`]: its ledger, configuration and submitter, then its writer started.

use std::sync::Arc;

use super::closing::Writer;
use super::shared::Shared;
use super::{Meter, MeterConfig, MeterError, sender, writer};
use crate::ledger::{IntoSharedLedger, Ledger};
use crate::submit::{SubmitConfig, Submitter, Transport};

/// Builds a [`Meter`]: give it a ledger, and optionally a configuration and a submitter.
#[must_use]
pub struct MeterBuilder<L = ()> {
    config: MeterConfig,
    ledger: L,
    sender: Option<sender::MakeFlusher>,
    /// The submitter's configuration, checked against the meter's once that is final.
    submit_config: Option<SubmitConfig>,
}

impl<L: std::fmt::Debug> std::fmt::Debug for MeterBuilder<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterBuilder")
            .field("config", &self.config)
            .field("ledger", &self.ledger)
            .field("sends", &self.sender.is_some())
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// A builder with the default configuration and no ledger yet. `build` checks the
    /// configuration as a whole.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use metering_core::ledger::SqliteLedger;
    /// use metering_core::{Meter, MeterConfig};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// let config = MeterConfig::new().with_commit_interval(Duration::from_millis(200));
    /// let meter = Meter::builder()
    ///     .config(config)
    ///     .ledger(SqliteLedger::open(&path)?)
    ///     .build()?; // `.submitter(...)` before this to send from this process
    /// assert_eq!(meter.status().await?.ledger.open_keys, 0);
    /// meter.close().await?;
    /// // A grace past the service's deadline is refused when the meter is built.
    /// let error = Meter::builder()
    ///     .config(MeterConfig::new().with_grace(Duration::from_hours(6)))
    ///     .ledger(SqliteLedger::open(&path)?)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("grace"), "{error}");
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn builder() -> MeterBuilder {
        MeterBuilder {
            config: MeterConfig::default(),
            ledger: (),
            sender: None,
            submit_config: None,
        }
    }

    /// The meter on the `SQLite` ledger file at `path` (created if missing), with the
    /// default configuration: it records and commits, and sends nothing (another process
    /// may). To configure it, or to send from it, build it instead:
    /// `Meter::builder().ledger(SqliteLedger::open(path)?)`, then
    /// [`config`](MeterBuilder::config), [`submitter`](MeterBuilder::submitter) and
    /// [`build`](MeterBuilder::build). Feature `sqlite`.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use metering_core::{Meter, MeterError, Quantity};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// let meter = Meter::open(&path)?; // inside a Tokio runtime
    /// meter.record(&customer, Usage::ApiCalls, Quantity::new(2)?)?; // in memory
    /// meter.record_durable(&customer, Usage::ApiCalls, Quantity::new(1)?).await?; // committed
    /// let status = meter.status().await?;
    /// assert_eq!(status.ledger.open_keys, 1); // both in one key of the open hour
    /// assert!(status.last_commit_error.is_none());
    /// // It sends nothing: a meter built with a submitter does.
    /// assert!(matches!(meter.flush().await, Err(MeterError::NoSubmitter)));
    /// meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// When the file cannot be opened or migrated; as [`MeterBuilder::build`].
    #[cfg(feature = "sqlite")]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Meter, MeterError> {
        Self::builder()
            .ledger(crate::ledger::SqliteLedger::open(path)?)
            .build()
    }
}

impl<L> MeterBuilder<L> {
    /// The configuration.
    pub fn config(mut self, config: MeterConfig) -> Self {
        self.config = config;
        self
    }

    /// The ledger the meter commits to: any [`Ledger`], or one shared as `Arc<dyn Ledger>`
    /// (a submitter given before is dropped: give it after).
    pub fn ledger(self, ledger: impl IntoSharedLedger) -> MeterBuilder<Arc<dyn Ledger>> {
        MeterBuilder {
            config: self.config,
            ledger: ledger.into_shared(),
            sender: None,
            submit_config: None,
        }
    }
}

impl MeterBuilder<Arc<dyn Ledger>> {
    /// Sends what the ledger seals through `submitter`: the meter then seals closed hours
    /// and claims, sends and settles their records every flush interval, in the background.
    /// Without one, the meter only records and commits (another process may send).
    ///
    /// The meter's clock and time policy ([`MeterConfig`]) decide what is sent when: build
    /// the submitter without a clock. One given a clock that reads otherwise than the
    /// meter's is refused by [`build`](Self::build).
    pub fn submitter<T: Transport>(mut self, submitter: Submitter<T>) -> Self {
        self.submit_config = Some(submitter.config().clone());
        self.sender = Some(sender::make(self.ledger.clone(), submitter));
        self
    }
}

impl MeterBuilder<Arc<dyn Ledger>> {
    /// The meter, its writer started.
    ///
    /// # Errors
    /// [`MeterError::Config`] for a configuration that cannot work, or a submitter given
    /// another clock than the meter's; [`MeterError::NoRuntime`] outside a Tokio runtime.
    pub fn build(self) -> Result<Meter, MeterError> {
        self.config.validate()?;
        if let Some(submit_config) = &self.submit_config {
            self.config.check_submitter(submit_config)?;
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MeterError::NoRuntime)?;
        let shared = Arc::new(Shared::new(self.config));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = runtime.spawn(writer::run(shared.clone(), self.ledger.clone(), stopped));
        let sender = self.sender.map(|make| {
            let mut sender = make(shared.config.clone());
            sender.start(&runtime);
            sender
        });
        Ok(Meter {
            shared,
            ledger: self.ledger,
            writer: tokio::sync::Mutex::new(Some(Writer { stop, task })),
            sender,
        })
    }
}
