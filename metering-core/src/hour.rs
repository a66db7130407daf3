//! [`Hour`]: the one type for a UTC hour, the unit the service bills and de-duplicates by.
//! Timestamps become hours where usage comes in ([`Hour::of`]); hours become timestamps
//! (a record's timestamp is its hour's start) where they go out.

use std::fmt;

use crate::error::{Rule, ValidationError};
use crate::timestamp::Timestamp;

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// A UTC hour, held as its number: hours since the Unix epoch (negative before 1970).
///
/// Every usage of one key in one hour becomes one record whose timestamp is the hour's
/// [`start`](Hour::start); the ledger's types name hours with it.
///
/// ```
/// use metering_core::{Hour, Timestamp};
///
/// let at = Timestamp::parse_rfc3339("2026-11-26T10:20:30Z")?;
/// let hour = Hour::of(at);
/// assert_eq!(hour.start(), Timestamp::parse_rfc3339("2026-11-26T10:00:00Z")?);
/// assert_eq!(hour.to_string(), "2026-11-26T10:00:00Z");
/// assert_eq!(Hour::try_from_number(hour.number())?, hour);
/// assert!(Hour::try_from_number(i64::MAX).is_err()); // past the year 9999
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(i64);

impl Hour {
    /// Past every hour a timestamp can fall in: a closing meter moves its keys' windows
    /// here, so that later adds are refused.
    #[cfg(feature = "meter")]
    pub(crate) const BEYOND: Self = Self(i64::MAX / 4);

    /// The hour `at` falls in.
    #[must_use]
    pub fn of(at: Timestamp) -> Self {
        let nanos = at.unix_nanos();
        // Within 1677..2262 the nanoseconds fit an i64, whose division by a constant
        // compiles to a multiplication (an i128's is a call). Within the years
        // -9999..=9999 the hour number fits an i64 with room to spare.
        Self(i64::try_from(nanos).map_or_else(
            |_| i64::try_from(nanos.div_euclid(NANOS_PER_HOUR.into())).unwrap_or_default(),
            |nanos| nanos.div_euclid(NANOS_PER_HOUR),
        ))
    }

    /// The hour numbered `number` (hours since the Unix epoch), as a store reads it back.
    ///
    /// # Errors
    /// When the hour does not start within the years -9999..=9999 (a [`Timestamp`]'s range).
    pub fn try_from_number(number: i64) -> Result<Self, ValidationError> {
        i128::from(number)
            .checked_mul(i128::from(NANOS_PER_HOUR))
            .and_then(|nanos| Timestamp::from_unix_nanos(nanos).ok())
            .map(|_| Self(number))
            .ok_or_else(|| ValidationError::new("Hour", Rule::Timestamp, number))
    }

    /// The hour numbered `number`, unchecked: for the words that pack an hour with
    /// something else, whose hours came from timestamps.
    #[cfg(feature = "meter")]
    pub(crate) const fn from_number(number: i64) -> Self {
        Self(number)
    }

    /// The hour's number: hours since the Unix epoch.
    #[must_use]
    pub const fn number(self) -> i64 {
        self.0
    }

    /// The instant the hour starts: the timestamp of its records.
    #[must_use]
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix_nanos(i128::from(self.0) * i128::from(NANOS_PER_HOUR))
            .unwrap_or_else(|_| unreachable!("hours come from valid timestamps"))
    }

    /// The hour after.
    #[must_use]
    pub(crate) const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The hour before.
    #[cfg(feature = "meter")]
    pub(crate) const fn previous(self) -> Self {
        Self(self.0 - 1)
    }

    /// The hours from `self` through `last`.
    #[cfg(feature = "meter")]
    pub(crate) fn through(self, last: Self) -> impl Iterator<Item = Self> {
        (self.0..=last.0).map(Self)
    }

    /// Whether the two hours are in one UTC month (the service's billing month).
    #[must_use]
    pub fn same_month(self, other: Self) -> bool {
        self.start().month_start() == other.start().month_start()
    }
}

impl fmt::Display for Hour {
    /// The hour's start in RFC 3339: `2026-11-26T10:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.start().fmt(f)
    }
}

impl fmt::Debug for Hour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Self::try_from_number(self.0) {
            Ok(hour) => write!(f, "Hour({hour})"),
            Err(_) => write!(f, "Hour(#{})", self.0),
        }
    }
}

impl From<Hour> for Timestamp {
    fn from(hour: Hour) -> Self {
        hour.start()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_its_start_as_a_timestamp_and_as_seconds() {
        let at = Timestamp::parse_rfc3339("2026-12-01T05:30:00.5Z").unwrap();
        let hour = Hour::of(at);
        assert_eq!(hour.start(), at.hour_start());
        assert_eq!(Timestamp::from(hour), at.hour_start());
        assert_eq!(hour.start().unix_seconds(), at.hour_start().unix_seconds());
        assert_eq!(hour.to_string(), "2026-12-01T05:00:00Z");
        assert_eq!(format!("{hour:?}"), "Hour(2026-12-01T05:00:00Z)");
        assert_eq!(Hour::try_from_number(hour.number()).unwrap(), hour);
        assert_eq!(hour.next().number(), hour.number() + 1);
        // Before 1970 an hour rounds down too.
        let before = Timestamp::from_unix_seconds(-1).unwrap();
        assert_eq!(Hour::of(before).number(), -1);
        assert_eq!(Hour::of(before).start().unix_seconds(), -3600);
    }

    #[cfg(feature = "meter")]
    #[test]
    fn hours_step_one_at_a_time() {
        let hour = Hour::from_number(10);
        assert_eq!((hour.previous().number(), hour.next().number()), (9, 11));
        let hours: Vec<i64> = hour
            .previous()
            .through(hour.next())
            .map(Hour::number)
            .collect();
        assert_eq!(hours, [9, 10, 11]);
    }

    #[test]
    fn only_hours_within_a_timestamps_range_are_read_back() {
        let last = Hour::of(Timestamp::parse_rfc3339("9999-12-31T23:59:59Z").unwrap());
        // -9999-01-01T00:00:00Z, the first instant a Timestamp holds.
        let first = Hour::of(Timestamp::from_unix_seconds(-377_705_116_800).unwrap());
        assert_eq!(Hour::try_from_number(last.number()).unwrap(), last);
        assert_eq!(Hour::try_from_number(first.number()).unwrap(), first);
        for number in [last.number() + 1, first.number() - 1, i64::MAX, i64::MIN] {
            let error = Hour::try_from_number(number).unwrap_err();
            assert!(error.to_string().contains(&number.to_string()), "{error}");
        }
        assert_eq!(
            format!("{:?}", last.next()),
            format!("Hour(#{})", last.number() + 1)
        );
    }

    #[test]
    fn hours_are_in_one_month_when_their_starts_are() {
        let hour = |text| Hour::of(Timestamp::parse_rfc3339(text).unwrap());
        let last = hour("2026-11-30T23:10:00Z");
        assert!(last.same_month(hour("2026-11-01T00:00:00Z")));
        assert!(!last.same_month(last.next()));
    }
}
