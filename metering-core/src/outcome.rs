//! What happened to every record: nothing counts as sent unless the service said `Success`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::failure::Failure;
use crate::plan::QuarantineReason;
use crate::record::UsageRecord;

/// The fate of one record. It serializes (serde), so a ledger can store it, and shows
/// readably (`Pending after 3 attempts: ThrottlingException: Rate exceeded`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Outcome {
    /// The service billed it.
    Success {
        /// The service's ID for the metering record.
        metering_record_id: String,
    },
    /// The customer is not subscribed to the product: not billed, and resending will not
    /// help until they subscribe.
    CustomerNotSubscribed,
    /// The service already had another quantity for this customer, dimension and hour:
    /// not billed.
    DuplicateRecord,
    /// Kept back: the service would reject it, for the reason given.
    Quarantined(QuarantineReason),
    /// Not settled yet: safe to send again (identically) later.
    Pending {
        /// Attempts made to send it; 0 when it was not sent because the submission
        /// stopped (then `last_error` is what stopped it).
        attempts: u32,
        /// The last failure seen.
        last_error: Failure,
    },
}

impl Outcome {
    /// A short name for tables and logs.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Success { .. } => "Success",
            Self::CustomerNotSubscribed => "CustomerNotSubscribed",
            Self::DuplicateRecord => "DuplicateRecord",
            Self::Quarantined(_) => "Quarantined",
            Self::Pending { .. } => "Pending",
        }
    }

    /// The detail beside the label: the record ID, the reason or the error.
    fn detail(&self) -> Option<String> {
        match self {
            Self::Success { metering_record_id } => Some(format!("record {metering_record_id}")),
            Self::Quarantined(reason) => Some(reason.to_string()),
            Self::Pending {
                attempts: 0,
                last_error,
            } => Some(format!("not sent, the submission stopped: {last_error}")),
            Self::Pending {
                attempts: 1,
                last_error,
            } => Some(format!("after 1 attempt: {last_error}")),
            Self::Pending {
                attempts,
                last_error,
            } => Some(format!("after {attempts} attempts: {last_error}")),
            Self::CustomerNotSubscribed | Self::DuplicateRecord => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(detail) => write!(f, "{} ({detail})", self.label()),
            None => f.write_str(self.label()),
        }
    }
}

/// What happened to one record, and which of the caller's input records it settles.
///
/// Records of the same customer, dimension and hour are merged into one before sending
/// (the service bills only the first quantity it sees for a key), so one outcome can
/// settle several input records: [`inputs`](Self::inputs) lists their positions in what
/// was submitted, and [`record`](Self::record) is the merged record that was sent. Records
/// that could not be merged each get their own outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// The positions (0-based, ascending) of the input records this outcome settles.
    pub inputs: Vec<usize>,
    /// The record, as sent (or kept back).
    pub record: UsageRecord,
    /// What happened to it.
    pub outcome: Outcome,
}

/// Every record's outcome from one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// One entry per key sent or kept back (not per input record: see [`RecordOutcome`]),
    /// in the order of their first input record; every input record is in exactly one
    /// entry's `inputs`.
    pub outcomes: Vec<RecordOutcome>,
    /// The error that stopped the submission, if one did (an invalid product code, a
    /// disabled API, missing credentials); the records it left are `Pending`.
    pub stopped: Option<Failure>,
}

/// Counts of a report's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Billed.
    pub success: usize,
    /// Customer not subscribed.
    pub not_subscribed: usize,
    /// Duplicates, not billed.
    pub duplicate: usize,
    /// Kept back with a reason.
    pub quarantined: usize,
    /// To be sent again.
    pub pending: usize,
}

impl Report {
    /// Counts per outcome.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for entry in &self.outcomes {
            summary.count(&entry.outcome);
        }
        summary
    }

    /// The records not settled, to send again (they are unchanged, so a resend is
    /// idempotent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use metering_core::submit::{Response, Transport};
    /// use metering_core::{
    ///     Customer, DimensionKey, Failure, FailureKind, ManualClock, PlannedRequest, Quantity,
    ///     SubmitConfig, Submitter, Timestamp, UsageRecord,
    /// };
    ///
    /// // The service refuses the product code: nothing will succeed until someone acts.
    /// struct UnknownProduct;
    /// impl Transport for UnknownProduct {
    ///     async fn send(&self, _: &PlannedRequest) -> Result<Response, Failure> {
    ///         Err(Failure::service("InvalidProductCodeException", "prod-example123 is not a product"))
    ///     }
    /// }
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let submitter = Submitter::with_config(UnknownProduct, SubmitConfig::default().with_clock(ManualClock::new(now)));
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let record = UsageRecord::new(customer, DimensionKey::new("api_calls")?, now, Quantity::new(1)?);
    /// let report = submitter.submit([record.clone()]).await;
    /// assert_eq!(report.stopped.as_ref().map(Failure::kind), Some(FailureKind::Stop));
    /// assert_eq!(report.pending().collect::<Vec<_>>(), [&record]); // kept, to send once fixed
    /// assert_eq!(report.outcomes[0].outcome.label(), "Pending");
    /// assert!(report.table().to_string().contains("Pending"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pending(&self) -> impl Iterator<Item = &UsageRecord> {
        self.outcomes
            .iter()
            .filter(|entry| matches!(entry.outcome, Outcome::Pending { .. }))
            .map(|entry| &entry.record)
    }

    /// A table of every record's outcome, for printing.
    #[must_use]
    pub fn table(&self) -> Table<'_> {
        Table(self)
    }
}

impl Summary {
    /// Counts one more outcome.
    pub(crate) fn count(&mut self, outcome: &Outcome) {
        *match outcome {
            Outcome::Success { .. } => &mut self.success,
            Outcome::CustomerNotSubscribed => &mut self.not_subscribed,
            Outcome::DuplicateRecord => &mut self.duplicate,
            Outcome::Quarantined(_) => &mut self.quarantined,
            Outcome::Pending { .. } => &mut self.pending,
        } += 1;
    }
}

/// Adds another submission's counts (of a batch, or a resumed run).
impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, other: Self) {
        self.success += other.success;
        self.not_subscribed += other.not_subscribed;
        self.duplicate += other.duplicate;
        self.quarantined += other.quarantined;
        self.pending += other.pending;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} success, {} customer not subscribed, {} duplicate, {} quarantined, {} pending",
            self.success, self.not_subscribed, self.duplicate, self.quarantined, self.pending
        )
    }
}

/// A printable table of outcomes, one row per outcome: see [`Report::table`]. It leaves
/// out the summary and the stop reason, which [`Report::summary`] and [`Report::stopped`]
/// give.
#[derive(Debug)]
pub struct Table<'a>(&'a Report);

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let customers: Vec<String> = self
            .0
            .outcomes
            .iter()
            .map(|entry| entry.record.customer().to_string())
            .collect();
        let width = customers
            .iter()
            .map(|c| c.chars().count())
            .chain([8])
            .max()
            .unwrap_or(8);
        write!(
            f,
            "{:<width$}  {:<20} {:<20} {:>10}  {:<21} detail",
            "customer", "dimension", "hour", "quantity", "outcome"
        )?;
        for (entry, customer) in self.0.outcomes.iter().zip(customers) {
            let record = &entry.record;
            write!(
                f,
                "\n{customer:<width$}  {:<20} {:<20} {:>10}  {:<21} {}",
                record.dimension(),
                record.timestamp().hour_start().to_string(),
                record.quantity(),
                entry.outcome.label(),
                entry.outcome.detail().unwrap_or_default(),
            )?;
        }
        Ok(())
    }
}
