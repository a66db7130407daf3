//! The flush loop: seal the hours that closed, then claim, send and settle until nothing is
//! left to send.
//!
//! A claim is already a request (one scope, at most 25 records), and the flusher keeps
//! back, before sending, each record whose window closes within the lease: the claim goes
//! to [`Submitter::send_keyed`] as it is, each record under its ledger id, and each outcome
//! comes back under that id. Every record is sent exactly as it was sealed, so a resend
//! (after a crash, a lost lease or a retryable failure) carries the same timestamp and
//! quantity, and the service's de-duplication makes it harmless. The submitter retries
//! within one send; keep its attempts within the lease ([`MeterConfig::lease`]): a lease
//! that expires mid-send lets another flusher send the same records again (harmless, but a
//! waste) and fences this one's outcomes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing::{info, warn};

use super::watch::{FlusherHealth, Watched};
use super::{
    Claim, ClaimedRecord, IntoSharedLedger, Ledger, LedgerError, RecordId, SealReport, Settlement,
};
use crate::customer::Customer;
use crate::meter::MeterConfig;
use crate::outcome::{Outcome, Summary};
use crate::plan::QuarantineReason;
use crate::submit::{Submitter, Transport};
use crate::timestamp::Timestamp;

/// The first wait before a record that failed is sent again; it doubles per attempt.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between two sends of a record.
const LAST_RETRY: Duration = Duration::from_mins(5);

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// What sealing did.
    pub sealed: SealReport,
    /// Claims taken (each one request scope, at most 25 records).
    pub claims: usize,
    /// The claimed records' outcomes: billed, not subscribed, duplicates, quarantined (the
    /// service's window would close first, or it rejected them), and pending (to be sent
    /// again after a backoff).
    pub outcomes: Summary,
    /// Outcomes refused because this flusher no longer held their lease.
    pub fenced: usize,
}

/// Seals and sends a ledger's records through a [`Submitter`].
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
/// # use metering_core::submit::{RecordStatus, Response, Transport};
/// # struct BillEverything; // in production `AwsTransport`; here one that bills every record
/// # impl Transport for BillEverything {
/// #     async fn send(&self, request: &metering_core::PlannedRequest) -> Result<Response, metering_core::Failure> {
/// #         let results = (0..request.records().len())
/// #             .map(|i| (i, RecordStatus::Success(format!("id-{i}"))))
/// #             .collect();
/// #         Ok(Response { results, unprocessed: Vec::new() })
/// #     }
/// # }
/// use std::time::Duration;
/// use metering_core::ledger::{Flusher, Ledger, RecordState, SqliteLedger};
/// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Submitter, Timestamp};
///
/// let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
/// let config = MeterConfig::new().with_clock(clock.clone());
/// // The processes that record (a Meter without a submitter)...
/// let meter = Meter::builder().config(config.clone()).ledger(SqliteLedger::open(&path)?).build()?;
/// meter.record(&customer, Usage::ApiCalls, Quantity::new(3)?)?;
/// meter.close().await?;
/// // ...and one that sends, on the same ledger.
/// let flusher = Flusher::new(SqliteLedger::open(&path)?, Submitter::new(BillEverything), config)
///     .with_owner("sender-1"); // the name its leases carry
/// assert_eq!(flusher.flush().await?.sealed.sealed, 0); // 10:00's hour is still open
/// clock.advance(Duration::from_mins(70)); // 11:15: it has closed, and its grace is over
/// let report = flusher.flush().await?;
/// assert_eq!((report.sealed.sealed, report.claims, report.outcomes.success), (1, 1, 1));
/// assert_eq!(flusher.ledger().status().await?.count(RecordState::Success), 1);
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct Flusher<T> {
    ledger: Arc<dyn Ledger>,
    submitter: Submitter<T>,
    config: MeterConfig,
    owner: String,
    /// Held through each flush: one flusher runs one flush at a time, so a flush asked for
    /// (an unsubscribing customer's) waits for the background one instead of racing it for
    /// the same records.
    turn: tokio::sync::Mutex<()>,
    /// What the last flushes left: for [`Flusher::health`].
    health: Mutex<FlusherHealth>,
}

impl<T: Transport> Flusher<T> {
    /// A flusher with the grace, lease, time policy and clock of `config`, named by a random
    /// owner in the leases it takes. A submitter given another clock than `config`'s is
    /// warned about (the flusher reads `config`'s).
    pub fn new(
        ledger: impl IntoSharedLedger,
        submitter: Submitter<T>,
        config: MeterConfig,
    ) -> Self {
        // The configuration's clock is the one read: a submitter given another is a mistake.
        if let Err(error) = config.check_submitter(submitter.config()) {
            warn!(target: "metering::ledger", %error, "the flusher reads its MeterConfig's clock, not its submitter's");
        }
        Self {
            ledger: ledger.into_shared(),
            submitter,
            config,
            owner: format!("flusher-{:016x}", fastrand::u64(..)),
            turn: tokio::sync::Mutex::new(()),
            health: Mutex::default(),
        }
    }

    /// The name this flusher's leases carry (give each flusher its own).
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Seals every hour that closed more than the grace ago (a month's last hour: see
    /// [`MeterConfig::seal_until`]), then sends every sendable record.
    ///
    /// # Errors
    /// When the ledger fails; records claimed but not settled are sent again once their
    /// lease expires.
    pub async fn flush(&self) -> Result<FlushReport, LedgerError> {
        let _turn = self.turn.lock().await;
        let now = self.config.clock().now();
        let flushed = match self.ledger.seal(self.config.seal_until(now), now).await {
            Ok(sealed) => self.send_all(sealed).await,
            Err(error) => Err(error),
        };
        self.watch(flushed).await
    }

    /// Seals `customer`'s hours up to now (they unsubscribed: the service accepts their
    /// usage for one more hour), then sends every sendable record.
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
    /// # use metering_core::submit::{RecordStatus, Response, Transport};
    /// # struct BillEverything; // in production `AwsTransport`; here one that bills every record
    /// # impl Transport for BillEverything {
    /// #     async fn send(&self, request: &metering_core::PlannedRequest) -> Result<Response, metering_core::Failure> {
    /// #         let results = (0..request.records().len())
    /// #             .map(|i| (i, RecordStatus::Success(format!("id-{i}"))))
    /// #             .collect();
    /// #         Ok(Response { results, unprocessed: Vec::new() })
    /// #     }
    /// # }
    /// use metering_core::ledger::{Flusher, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Submitter, Timestamp};
    ///
    /// let config = MeterConfig::new()
    ///     .with_clock(ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?));
    /// let meter = Meter::builder().config(config.clone()).ledger(SqliteLedger::open(&path)?).build()?;
    /// meter.record(&customer, Usage::ApiCalls, Quantity::new(3)?)?;
    /// meter.commit().await?;
    /// let flusher = Flusher::new(SqliteLedger::open(&path)?, Submitter::new(BillEverything), config);
    /// // 10:05: their open hour is sealed and billed now, not once it has closed.
    /// let report = flusher.flush_customer(&customer).await?;
    /// assert_eq!((report.sealed.sealed, report.outcomes.success), (1, 1));
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Flusher::flush`].
    pub async fn flush_customer(&self, customer: &Customer) -> Result<FlushReport, LedgerError> {
        let _turn = self.turn.lock().await;
        let now = self.config.clock().now();
        let flushed = match self.ledger.seal_customer(customer, now).await {
            Ok(sealed) => self.send_all(sealed).await,
            Err(error) => Err(error),
        };
        self.watch(flushed).await
    }

    /// When flushes last succeeded or failed, and the deadlines of the records the last
    /// one left to send.
    pub fn health(&self) -> FlusherHealth {
        self.health_mut().clone()
    }

    /// After a flush: counts it, and holds the records it left unsettled against their
    /// deadlines (a warning or an error per hour within a margin, and the gauges).
    async fn watch(
        &self,
        flushed: Result<FlushReport, LedgerError>,
    ) -> Result<FlushReport, LedgerError> {
        let now = self.config.clock().now();
        let report = match flushed {
            Ok(report) => report,
            Err(error) => {
                crate::metrics::flush_failed();
                self.health_mut().last_error = Some(error.to_string());
                return Err(error);
            }
        };
        crate::metrics::flushed(&report, now);
        let watched = match self.ledger.unsettled().await {
            Ok(hours) => {
                let watched = Watched::new(hours, now, &self.config);
                watched.log();
                crate::metrics::watched(&watched, self.config.time_policy().window());
                Some(watched)
            }
            Err(error) => {
                warn!(target: "metering::ledger", %error, "reading the records left to send failed; their deadlines are not watched this time");
                None
            }
        };
        let mut health = self.health_mut();
        health.last_flush = Some(now);
        health.last_error = None;
        health.watched = watched;
        Ok(report)
    }

    fn health_mut(&self) -> std::sync::MutexGuard<'_, FlusherHealth> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Flushes every flush interval until `stop` resolves; a failed flush is logged and
    /// tried again at the next interval.
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
    /// # use metering_core::submit::{RecordStatus, Response, Transport};
    /// # struct BillEverything; // in production `AwsTransport`; here one that bills every record
    /// # impl Transport for BillEverything {
    /// #     async fn send(&self, request: &metering_core::PlannedRequest) -> Result<Response, metering_core::Failure> {
    /// #         let results = (0..request.records().len())
    /// #             .map(|i| (i, RecordStatus::Success(format!("id-{i}"))))
    /// #             .collect();
    /// #         Ok(Response { results, unprocessed: Vec::new() })
    /// #     }
    /// # }
    /// use std::time::Duration;
    /// use metering_core::ledger::{Flusher, Ledger, RecordState, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Submitter, Timestamp};
    ///
    /// let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
    /// let config = MeterConfig::new().with_clock(clock.clone());
    /// let meter = Meter::builder().config(config.clone()).ledger(SqliteLedger::open(&path)?).build()?;
    /// meter.record(&customer, Usage::ApiCalls, Quantity::new(3)?)?;
    /// meter.close().await?;
    /// clock.advance(Duration::from_mins(70)); // 11:15: 10:00's hour is ready to send
    /// let flusher = Flusher::new(SqliteLedger::open(&path)?, Submitter::new(BillEverything), config);
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let running = tokio::spawn(async move {
    ///     flusher.run(async { stopped.await.ok(); }).await; // a flush now, then every interval
    ///     flusher
    /// });
    /// stop.send(()).ok(); // at shutdown: the flush under way ends first
    /// let flusher = running.await?;
    /// assert_eq!(flusher.ledger().status().await?.count(RecordState::Success), 1);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            match self.flush().await {
                Ok(report) if report != FlushReport::default() => {
                    info!(target: "metering::ledger", ?report, "flushed");
                }
                Ok(_) => {}
                Err(error) => {
                    warn!(
                        target: "metering::ledger",
                        %error,
                        "flush failed; trying again at the next interval"
                    );
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(self.config.flush_interval()) => {}
            }
        }
    }

    async fn send_all(&self, sealed: SealReport) -> Result<FlushReport, LedgerError> {
        let mut report = FlushReport {
            sealed,
            ..FlushReport::default()
        };
        let lease = self.config.lease();
        while let Some(claim) = self
            .ledger
            .claim(&self.owner, self.config.clock().now(), lease)
            .await?
        {
            report.claims += 1;
            let (outcomes, stopped) = self.send(&claim).await;
            let now = self.config.clock().now();
            let settlements: Vec<(RecordId, Settlement)> = outcomes
                .into_iter()
                .map(|(claimed, outcome)| {
                    report.outcomes.count(&outcome);
                    (claimed.id, settlement(outcome, claimed.attempt, now))
                })
                .collect();
            let settled = self.ledger.settle(&claim, &settlements, now).await?;
            report.fenced += settled.fenced;
            if stopped {
                // Nothing else will go through until someone acts (a disabled API, bad
                // credentials): the rest waits for the next flush.
                break;
            }
        }
        Ok(report)
    }

    /// Sends a claim's records as one request and gives each one's outcome; true when the
    /// submission was stopped.
    async fn send<'c>(&self, claim: &'c Claim) -> (Vec<(&'c ClaimedRecord, Outcome)>, bool) {
        let now = self.config.clock().now();
        let policy = self.config.time_policy();
        let lease = self.config.lease();
        // A record whose window closes before the lease ends might not make it: keep it
        // back now, with the reason, rather than risk a rejected batch.
        let horizon = now.saturating_add(lease);
        let mut outcomes = Vec::with_capacity(claim.records.len());
        let mut sending = Vec::with_capacity(claim.records.len());
        for claimed in &claim.records {
            let deadline = policy.deadline(claimed.record.timestamp());
            if deadline <= horizon {
                let reason = QuarantineReason::WindowClosing {
                    deadline,
                    now,
                    lease,
                };
                warn!(target: "metering::ledger", id = %claimed.id, %reason, "record quarantined");
                outcomes.push((claimed, Outcome::Quarantined(reason)));
            } else {
                sending.push((claimed, claimed.record.clone()));
            }
        }
        let sent = self
            .submitter
            .send_keyed(claim.scope.clone(), sending)
            .await;
        outcomes.extend(sent.outcomes);
        (outcomes, sent.stopped.is_some())
    }
}

/// What the ledger stores for a record's outcome; a record not settled is sent again after
/// its backoff.
fn settlement(outcome: Outcome, attempt: u32, now: Timestamp) -> Settlement {
    match outcome {
        Outcome::Success { metering_record_id } => Settlement::Success { metering_record_id },
        Outcome::CustomerNotSubscribed => Settlement::NotSubscribed,
        Outcome::DuplicateRecord => Settlement::Duplicate,
        Outcome::Quarantined(reason) => Settlement::Quarantined {
            reason: reason.to_string(),
        },
        Outcome::Pending { last_error, .. } => Settlement::Retry {
            error: last_error.to_string(),
            retry_at: now.saturating_add(backoff(attempt)),
        },
    }
}

/// How long a record waits after its `attempt`-th send failed: doubling from
/// [`FIRST_RETRY`] up to [`LAST_RETRY`], half of it random, so a fleet's retries spread.
fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_RETRY
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(LAST_RETRY);
    ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(
                (FIRST_RETRY / 2..=FIRST_RETRY).contains(&first),
                "{first:?}"
            );
            let third = backoff(3);
            assert!(
                (FIRST_RETRY * 2..=FIRST_RETRY * 4).contains(&third),
                "{third:?}"
            );
            let late = backoff(40);
            assert!((LAST_RETRY / 2..=LAST_RETRY).contains(&late), "{late:?}");
        }
    }
}
