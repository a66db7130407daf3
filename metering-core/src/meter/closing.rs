//! Ending a [`Meter`]: a shutdown commits what is left; a meter dropped without one says
//! what it loses.

use tokio::task::JoinHandle;

use super::error::describe;
use super::{Meter, MeterError, writer};

/// The running writer: how to stop it, and what it says when it stops.
pub(super) struct Writer {
    pub(super) stop: tokio::sync::oneshot::Sender<()>,
    pub(super) task: JoinHandle<Result<(), MeterError>>,
}

impl Meter {
    /// Commits what is left, within [`MeterConfig::shutdown_timeout`], and stops the writer.
    /// Recording afterwards (through a [`Handle`] still held) is refused.
    ///
    /// [`MeterConfig::shutdown_timeout`]: super::MeterConfig::shutdown_timeout
    /// [`Handle`]: super::Handle
    ///
    /// # Errors
    /// [`MeterError::Unflushed`] with the usage that could not be committed.
    pub async fn shutdown(mut self) -> Result<(), MeterError> {
        if let Some(sender) = self.sender.as_mut() {
            sender.stop(self.shared.config.shutdown_timeout()).await;
        }
        let Some(Writer { stop, task }) = self.writer.take() else {
            return Ok(());
        };
        let _ = stop.send(());
        task.await.unwrap_or_else(|error| {
            // The writer panicked: what it held is reported as for a dropped meter.
            tracing::error!(target: "metering::meter", %error, "the meter's writer panicked");
            Err(MeterError::Closed)
        })
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let Some(Writer { task, .. }) = self.writer.take() else {
            return;
        };
        task.abort();
        // Closed as a shutdown closes it, without the commit: a handle that outlives the
        // meter is refused rather than accepting usage no writer will commit.
        let lost = writer::close(&self.shared);
        if lost.is_empty() {
            return;
        }
        let lines: Vec<String> = lost
            .iter()
            .map(|delta| {
                format!(
                    "  {} {} {}",
                    delta.hour,
                    describe(&delta.key),
                    delta.quantity
                )
            })
            .collect();
        let lines = lines.join("\n");
        // Both: standard error may be all a crashing process leaves, `tracing` what is kept.
        tracing::error!(
            target: "metering::meter",
            deltas = lost.len(),
            lost = %lines,
            "a Meter was dropped without `shutdown`: its uncommitted usage is lost"
        );
        eprintln!(
            "metering: a Meter was dropped without `shutdown().await`; this uncommitted usage is lost:\n{lines}"
        );
    }
}
