//! Watching the service's deadlines: at the end of each flush, the records still to send
//! (unsent or leased) are held against the deadline of their hour, and an hour closer
//! than a margin is a warning, then an error, once per flush and hour, until its records
//! are sent or quarantined.

use std::fmt;
use std::time::Duration;

use super::{HourStatus, RecordState};
use crate::hour::Hour;
use crate::meter::MeterConfig;
use crate::time_policy::{Deadlines, Hms};
use crate::timestamp::Timestamp;

/// How close an hour's records still to send are to the service's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DeadlineLevel {
    /// Further than [`MeterConfig::deadline_warning`].
    Far,
    /// Within [`MeterConfig::deadline_warning`].
    Warning,
    /// Within [`MeterConfig::deadline_error`], or past the deadline (no longer billable).
    Error,
}

/// An hour with records still to send, and its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HourDeadline {
    /// The hour (its start is its records' timestamp).
    pub hour: Hour,
    /// Its records still to send: unsent or leased.
    pub records: u64,
    /// The first instant the service no longer accepts them.
    pub deadline: Timestamp,
    /// How close that was when watched.
    pub level: DeadlineLevel,
}

impl HourDeadline {
    /// Seconds from `now` to the deadline: negative once it has passed.
    #[must_use]
    pub fn left_seconds(&self, now: Timestamp) -> f64 {
        let left = self.deadline.duration_since(now).as_secs_f64();
        let past = now.duration_since(self.deadline).as_secs_f64();
        left - past
    }
}

/// The ledger's records not settled, as a flusher saw them at the end of a flush.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Watched {
    /// When (by the flusher's clock).
    pub at: Timestamp,
    /// Records not settled per hour and state, oldest first.
    pub hours: Vec<HourStatus>,
    /// Every hour with records still to send, oldest (most urgent) first.
    pub deadlines: Vec<HourDeadline>,
    /// Records still to send within the warning margin (and not the error margin).
    pub warning: u64,
    /// Records still to send within the error margin, or past their deadline.
    pub error: u64,
}

impl Watched {
    /// The records not settled `hours`, held against `config`'s time policy and deadline
    /// margins at `now`.
    #[must_use]
    pub fn new(hours: Vec<HourStatus>, now: Timestamp, config: &MeterConfig) -> Self {
        let policy = config.time_policy();
        let mut of = Deadlines::new(&policy);
        let mut watched = Self {
            at: now,
            hours: Vec::new(),
            deadlines: Vec::new(),
            warning: 0,
            error: 0,
        };
        for hour in &hours {
            let records = hour.count(RecordState::Unsent) + hour.count(RecordState::Leased);
            if records == 0 {
                continue;
            }
            let deadline = of.of(hour.hour.start());
            let left = deadline.duration_since(now);
            let level = if left <= config.deadline_error() {
                watched.error += records;
                DeadlineLevel::Error
            } else if left <= config.deadline_warning() {
                watched.warning += records;
                DeadlineLevel::Warning
            } else {
                DeadlineLevel::Far
            };
            watched.deadlines.push(HourDeadline {
                hour: hour.hour,
                records,
                deadline,
                level,
            });
        }
        watched.hours = hours;
        watched
    }

    /// The records in `state`, over every hour.
    #[must_use]
    pub fn count(&self, state: RecordState) -> u64 {
        self.hours.iter().map(|hour| hour.count(state)).sum()
    }

    /// The oldest hour with a record not settled.
    #[must_use]
    pub fn oldest_hour(&self) -> Option<Hour> {
        self.hours.first().map(|hour| hour.hour)
    }

    /// The hour whose records still to send have the least time left.
    #[must_use]
    pub fn most_urgent(&self) -> Option<&HourDeadline> {
        self.deadlines.first()
    }

    /// Says, once, each hour within a margin: a warning, or an error.
    pub(crate) fn log(&self) {
        for hour in &self.deadlines {
            let left = TimeLeft(hour.left_seconds(self.at));
            let (hour_start, records, deadline) = (hour.hour, hour.records, hour.deadline);
            match hour.level {
                DeadlineLevel::Far => {}
                DeadlineLevel::Warning => tracing::warn!(
                    target: "metering::ledger",
                    hour = %hour_start, records, %deadline, %left,
                    "records are still unsent close to the service's deadline"
                ),
                DeadlineLevel::Error => tracing::error!(
                    target: "metering::ledger",
                    hour = %hour_start, records, %deadline, %left,
                    "records are still unsent at the service's deadline: past it they can no longer be billed"
                ),
            }
        }
    }
}

/// When a flusher's flushes last succeeded or failed, and what the last one left to send.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct FlusherHealth {
    /// When a flush last succeeded (its end, by the flusher's clock).
    pub last_flush: Option<Timestamp>,
    /// The last flush's error, while flushes fail.
    pub last_error: Option<String>,
    /// The records not settled as the last successful flush left them (`None` before one,
    /// or when they could not be read).
    pub watched: Option<Watched>,
}

/// Seconds left before a deadline, negative once past; shown in hours, minutes and
/// seconds: `5h 59m 0s`, `-0h 10m 0s`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct TimeLeft(pub f64);

impl fmt::Display for TimeLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0.0 { "-" } else { "" };
        write!(f, "{sign}{}", Hms(Duration::from_secs_f64(self.0.abs())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn hour(start: &str, unsent: u64, leased: u64, quarantined: u64) -> HourStatus {
        let mut hour = HourStatus::new(Hour::of(at(start)));
        hour.add(RecordState::Unsent, unsent);
        hour.add(RecordState::Leased, leased);
        hour.add(RecordState::Quarantined, quarantined);
        hour
    }

    #[test]
    fn hours_are_held_against_their_deadline_and_the_margins() {
        let config = MeterConfig::new();
        let now = at("2026-05-12T10:00:00Z");
        let watched = Watched::new(
            vec![
                hour("2026-05-11T08:00:00Z", 0, 0, 4), // quarantined only: not watched
                hour("2026-05-11T11:00:00Z", 2, 1, 0), // 1h left: the error margin
                hour("2026-05-11T13:00:00Z", 0, 5, 0), // 3h left
                hour("2026-05-11T16:00:00Z", 7, 0, 0), // 6h left: the warning margin
                hour("2026-05-11T17:00:00Z", 1, 0, 0), // 7h left
            ],
            now,
            &config,
        );
        let levels: Vec<_> = watched
            .deadlines
            .iter()
            .map(|hour| (hour.records, hour.level))
            .collect();
        assert_eq!(
            levels,
            [
                (3, DeadlineLevel::Error),
                (5, DeadlineLevel::Warning),
                (7, DeadlineLevel::Warning),
                (1, DeadlineLevel::Far),
            ]
        );
        assert_eq!((watched.warning, watched.error), (12, 3));
        assert_eq!(
            watched.oldest_hour(),
            Some(Hour::of(at("2026-05-11T08:00:00Z")))
        );
        let urgent = watched.most_urgent().unwrap();
        assert_eq!(urgent.deadline, at("2026-05-12T11:00:00Z"));
        assert!((urgent.left_seconds(now) - 3600.0).abs() < 1e-9);
        assert_eq!(watched.count(RecordState::Quarantined), 4);
        assert_eq!(watched.count(RecordState::Unsent), 10);
    }

    #[test]
    fn a_previous_months_hour_has_until_six_on_the_first() {
        // 00:30 on the 1st: the 31st's 20:00 has until 06:00, not 20:00 (5h 30m left).
        let now = at("2027-01-01T00:30:00Z");
        let watched = Watched::new(
            vec![hour("2026-12-31T20:00:00Z", 1, 0, 0)],
            now,
            &MeterConfig::new(),
        );
        let urgent = watched.most_urgent().unwrap();
        assert_eq!(urgent.deadline, at("2027-01-01T06:00:00Z"));
        assert_eq!(urgent.level, DeadlineLevel::Warning);
        assert_eq!(TimeLeft(urgent.left_seconds(now)).to_string(), "5h 30m 0s");
        let past = urgent.left_seconds(at("2027-01-01T06:10:00Z"));
        assert!((past + 600.0).abs() < 1e-9, "negative once past: {past}");
        assert_eq!(TimeLeft(-600.0).to_string(), "-0h 10m 0s");
        assert_eq!(
            TimeLeft(0.0).to_string(),
            "0h 0m 0s",
            "no sign at the deadline"
        );
        let later = Watched::new(
            vec![hour("2026-12-31T20:00:00Z", 1, 0, 0)],
            at("2027-01-01T06:10:00Z"),
            &MeterConfig::new(),
        );
        assert_eq!(later.error, 1, "past the deadline is an error");
    }

    #[test]
    fn nothing_to_send_is_nothing_urgent() {
        let watched = Watched::new(Vec::new(), at("2026-05-12T10:00:00Z"), &MeterConfig::new());
        assert!(watched.most_urgent().is_none() && watched.oldest_hour().is_none());
        assert_eq!((watched.warning, watched.error), (0, 0));
    }
}
