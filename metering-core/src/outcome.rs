//! What happened to every record: nothing counts as sent unless the service said `Success`.

use std::fmt;

use crate::plan::QuarantineReason;
use crate::record::UsageRecord;

/// The fate of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        /// The last error seen.
        last_error: String,
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
}

/// A record and its outcome. Records of the same customer, dimension and hour are merged
/// before sending, so one outcome stands for all of them; its record is what was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    /// The record, as sent (or kept back).
    pub record: UsageRecord,
    /// What happened to it.
    pub outcome: Outcome,
}

/// Every record's outcome from one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per record.
    pub outcomes: Vec<RecordOutcome>,
    /// The error that stopped the submission, if one did (an invalid product code, a
    /// disabled API, missing credentials); the records it left are `Pending`.
    pub stopped: Option<String>,
}

/// Counts of a report's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
            *match entry.outcome {
                Outcome::Success { .. } => &mut summary.success,
                Outcome::CustomerNotSubscribed => &mut summary.not_subscribed,
                Outcome::DuplicateRecord => &mut summary.duplicate,
                Outcome::Quarantined(_) => &mut summary.quarantined,
                Outcome::Pending { .. } => &mut summary.pending,
            } += 1;
        }
        summary
    }

    /// The records not settled, to send again (they are unchanged, so a resend is
    /// idempotent).
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

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} success, {} customer not subscribed, {} duplicate, {} quarantined, {} pending",
            self.success, self.not_subscribed, self.duplicate, self.quarantined, self.pending
        )
    }
}

/// A printable table of outcomes: see [`Report::table`].
pub struct Table<'a>(&'a Report);

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:<20} {:<20} {:>10}  {:<22} detail",
            "customer", "dimension", "hour", "quantity", "outcome"
        )?;
        for entry in &self.0.outcomes {
            let record = &entry.record;
            let customer = record
                .customer()
                .account()
                .map_or_else(|| format!("{:?}", record.customer()), ToString::to_string);
            let detail = match &entry.outcome {
                Outcome::Success { metering_record_id } => metering_record_id.clone(),
                Outcome::Quarantined(reason) => reason.to_string(),
                Outcome::Pending { last_error } => last_error.clone(),
                Outcome::CustomerNotSubscribed | Outcome::DuplicateRecord => String::new(),
            };
            writeln!(
                f,
                "{customer:<22} {:<20} {:<20} {:>10}  {:<22} {detail}",
                record.dimension(),
                record.timestamp().hour_start().to_string(),
                record.quantity(),
                entry.outcome.label(),
            )?;
        }
        write!(f, "{}", self.0.summary())?;
        if let Some(stopped) = &self.0.stopped {
            write!(f, "\nstopped: {stopped}")?;
        }
        Ok(())
    }
}
