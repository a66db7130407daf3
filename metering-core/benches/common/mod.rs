//! What the Meter's benchmarks share: a ledger that does next to nothing.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use metering_core::ledger::{
    BoxFuture, Checkpoint, Claim, CommitReport, HourStatus, Ledger, LedgerError, LedgerStatus,
    RecordId, SealReport, SettleReport, Settlement,
};
use metering_core::{Customer, Timestamp};

/// Keeps the last checkpoint number it applied and nothing else: what is measured is the
/// Meter's side, or the call itself.
#[derive(Debug, Default)]
pub(crate) struct TrivialLedger {
    last: Mutex<u64>,
}

impl TrivialLedger {
    /// The commit's work, as a plain `async fn` (no boxed future, no virtual call).
    #[allow(
        clippy::unused_async,
        reason = "the unboxed future is what is measured"
    )]
    pub(crate) async fn commit_unboxed(
        &self,
        checkpoint: &Checkpoint,
    ) -> Result<CommitReport, LedgerError> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = CommitReport::default();
        if checkpoint.number > *last {
            *last = checkpoint.number;
            report.applied = true;
        }
        Ok(report)
    }
}

impl Ledger for TrivialLedger {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        _: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        Box::pin(self.commit_unboxed(checkpoint))
    }

    fn seal(&self, _: Timestamp, _: Timestamp) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(async move { Ok(SealReport::default()) })
    }

    fn seal_customer<'a>(
        &'a self,
        _: &'a Customer,
        _: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        Box::pin(async move { Ok(SealReport::default()) })
    }

    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: Timestamp,
        _: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        Box::pin(async move { Ok(None) })
    }

    fn settle<'a>(
        &'a self,
        _: &'a Claim,
        _: &'a [(RecordId, Settlement)],
        _: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        Box::pin(async move { Ok(SettleReport::default()) })
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(async move { Ok(LedgerStatus::default()) })
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
}
