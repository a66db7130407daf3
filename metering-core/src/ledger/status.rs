//! What a ledger holds, counted: per state, per hour, and the oldest hour still to settle.

use super::RecordState;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use super::{LedgerError, codec};
use crate::hour::Hour;

/// Counts per state and the oldest unsent hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerStatus {
    /// Keys with usage in hours not sealed yet.
    pub open_keys: u64,
    /// Sealed records per state (every state is present, zero included).
    pub records: Vec<(RecordState, u64)>,
    /// Entries set aside for a person.
    pub set_aside: u64,
    /// The oldest hour with a record not settled yet (unsent, leased or quarantined).
    pub oldest_unsent_hour: Option<Hour>,
    /// Every hour before this one is sealed.
    pub sealed_before: Option<Hour>,
}

impl LedgerStatus {
    /// A status with every state at zero, nothing open, set aside or sealed: set the other
    /// fields, and count records with [`LedgerStatus::add`].
    ///
    /// ```
    /// use metering_core::ledger::{LedgerStatus, RecordState};
    ///
    /// // A store of one's own answering `Ledger::status`.
    /// let mut status = LedgerStatus::new();
    /// status.open_keys = 3;
    /// status.add(RecordState::Success, 40);
    /// status.add(RecordState::Success, 2);
    /// status.add(RecordState::Unsent, 5);
    /// assert_eq!(status.count(RecordState::Success), 42);
    /// assert_eq!(status.count(RecordState::Quarantined), 0);
    /// assert_eq!(status.records.len(), RecordState::ALL.len()); // every state, zeros included
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            records: zero_counts(),
            ..Self::default()
        }
    }

    /// Counts `count` more records in `state`.
    pub fn add(&mut self, state: RecordState, count: u64) {
        add_to(&mut self.records, state, count);
    }

    /// The number of records in `state`.
    #[must_use]
    pub fn count(&self, state: RecordState) -> u64 {
        count_of(&self.records, state)
    }
}

/// The sealed records of one hour, per state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HourStatus {
    /// The hour (its start is the records' timestamp).
    pub hour: Hour,
    /// Records per state (every state is present, zero included).
    pub records: Vec<(RecordState, u64)>,
}

impl HourStatus {
    /// The hour `hour`, with every state at zero: count its records with
    /// [`HourStatus::add`].
    ///
    /// ```
    /// use metering_core::ledger::{HourStatus, RecordState};
    /// use metering_core::{Hour, Timestamp};
    ///
    /// let hour = Hour::of(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
    /// let mut status = HourStatus::new(hour);
    /// status.add(RecordState::Duplicate, 1);
    /// assert_eq!(status.count(RecordState::Duplicate), 1);
    /// assert_eq!(status.count(RecordState::Success), 0);
    /// assert_eq!(status.hour.start(), Timestamp::parse_rfc3339("2026-05-12T10:00:00Z")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(hour: Hour) -> Self {
        Self {
            hour,
            records: zero_counts(),
        }
    }

    /// Counts `count` more of the hour's records in `state`.
    pub fn add(&mut self, state: RecordState, count: u64) {
        add_to(&mut self.records, state, count);
    }

    /// The number of the hour's records in `state`.
    #[must_use]
    pub fn count(&self, state: RecordState) -> u64 {
        count_of(&self.records, state)
    }
}

fn count_of(records: &[(RecordState, u64)], state: RecordState) -> u64 {
    records
        .iter()
        .find(|(s, _)| *s == state)
        .map_or(0, |(_, n)| *n)
}

/// Counts per state, every state at zero.
pub(super) fn zero_counts() -> Vec<(RecordState, u64)> {
    RecordState::ALL.iter().map(|&state| (state, 0)).collect()
}

fn add_to(counts: &mut Vec<(RecordState, u64)>, state: RecordState, count: u64) {
    match counts.iter_mut().find(|(known, _)| *known == state) {
        Some(entry) => entry.1 += count,
        None => counts.push((state, count)),
    }
}

/// Adds `count` records of the state stored as `name` (a name this build does not know is
/// left out: a row of it fails to read as a record anyway).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn add_count(counts: &mut Vec<(RecordState, u64)>, name: &str, count: i64) {
    if let Some(state) = RecordState::from_name(name) {
        add_to(counts, state, count.unsigned_abs());
    }
}

/// Per-hour counts from (hour, state, count) rows in hour order.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn hour_statuses(
    rows: impl IntoIterator<Item = (i64, String, i64)>,
) -> Result<Vec<HourStatus>, LedgerError> {
    let mut hours: Vec<HourStatus> = Vec::new();
    for (hour, state, count) in rows {
        let hour = codec::hour("records", 0, hour)?;
        if hours.last().is_none_or(|last| last.hour != hour) {
            hours.push(HourStatus::new(hour));
        }
        if let Some(last) = hours.last_mut() {
            add_count(&mut last.records, &state, count);
        }
    }
    Ok(hours)
}
