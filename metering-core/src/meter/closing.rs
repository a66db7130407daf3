//! Closing a [`Meter`], through a shared reference: the final checkpoint is committed and
//! sending stops, once, whoever asks first; a meter dropped without it says what it loses.

use tokio::task::JoinHandle;

use super::error::describe;
use super::{Meter, MeterError, writer};

/// The running writer: how to stop it, and what it says when it stops.
pub(super) struct Writer {
    pub(super) stop: tokio::sync::oneshot::Sender<()>,
    pub(super) task: JoinHandle<Result<(), MeterError>>,
}

impl Meter {
    /// Closes the meter: stops sending (waiting for a flush under way, within
    /// [`MeterConfig::shutdown_timeout`]), then commits what is left within the same
    /// timeout and stops the writer. Takes `&self`, so a meter shared through an `Arc` (by a
    /// tower layer, by handlers) closes while others still hold it: from then on, recording
    /// through it or through a [`Handle`] is refused ([`MeterError::Closed`]), and so are
    /// [`Meter::commit`] and [`Meter::flush`].
    ///
    /// Closing again, or while another close is under way, waits for the first and returns
    /// `Ok(())`: the first caller gets what could not be committed.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use metering_core::{Customer, Meter, MeterError, Quantity};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage {
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// # let customer = Customer::Account {
    /// #     product: metering_core::ProductCode::new("prod-1234567890abc")?,
    /// #     account: metering_core::CustomerAwsAccountId::new("123456789012")?,
    /// # };
    /// let meter = Arc::new(Meter::open(&path)?); // shared, as a tower layer shares it
    /// meter.record(&customer, Usage::ApiCalls, Quantity::new(1)?)?;
    /// let held = Arc::clone(&meter); // a handler's clone, still alive
    /// meter.close().await?; // commits what is left
    /// assert!(matches!(
    ///     held.record(&customer, Usage::ApiCalls, Quantity::new(1)?),
    ///     Err(MeterError::Closed)
    /// ));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// [`MeterConfig::shutdown_timeout`]: super::MeterConfig::shutdown_timeout
    /// [`Handle`]: super::Handle
    ///
    /// # Errors
    /// [`MeterError::Unflushed`] with the usage that could not be committed.
    pub async fn close(&self) -> Result<(), MeterError> {
        // Held throughout: a second close waits for the first to finish.
        let mut writer = self.writer.lock().await;
        let Some(Writer { stop, task }) = writer.take() else {
            return Ok(());
        };
        if let Some(sender) = &self.sender {
            sender.stop(self.shared.config.shutdown_timeout()).await;
        }
        let _ = stop.send(());
        task.await.unwrap_or_else(|error| {
            // The writer panicked: what it held is reported as for a dropped meter.
            tracing::error!(target: "metering::meter", %error, "the meter's writer panicked");
            Err(MeterError::Closed)
        })
    }

    /// [`Meter::close`], for the meter's only owner.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    /// use metering_core::ledger::{Ledger, SqliteLedger};
    /// use metering_core::{Meter, Quantity};
    ///
    /// let meter = Meter::open(&path)?;
    /// meter.record(&customer, Usage::ApiCalls, Quantity::new(1)?)?; // in memory
    /// meter.shutdown().await?; // committed
    /// assert_eq!(SqliteLedger::open(&path)?.status().await?.open_keys, 1);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Meter::close`].
    pub async fn shutdown(self) -> Result<(), MeterError> {
        self.close().await
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let Some(Writer { task, .. }) = self.writer.get_mut().take() else {
            return;
        };
        task.abort();
        // Closed as a close closes it, without the commit: a handle that outlives the meter
        // is refused rather than accepting usage no writer will commit.
        let lost = writer::close(&self.shared);
        if lost.is_empty() {
            return;
        }
        let lines: Vec<String> = lost
            .iter()
            .map(|delta| format!("  {} {} {}", delta.hour, describe(&delta.key), delta.usage))
            .collect();
        let lines = lines.join("\n");
        // Both: standard error may be all a crashing process leaves, `tracing` what is kept.
        tracing::error!(
            target: "metering::meter",
            deltas = lost.len(),
            lost = %lines,
            "a Meter was dropped without `close`: its uncommitted usage is lost"
        );
        eprintln!(
            "metering: a Meter was dropped without `close().await`; this uncommitted usage is lost:\n{lines}"
        );
    }
}
