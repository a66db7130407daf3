//! The meter's one type for an hour, [`Hour`]: its number, hours since the Unix epoch.
//! Timestamps become hours where usage comes in ([`Hour::of`]); hours become timestamps
//! (a delta's hour, which the ledgers store) where they go out. And the clock's readings,
//! in microseconds.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::Timestamp;

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// A UTC hour: the hour number, hours since the Unix epoch (negative before 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Hour(i64);

impl Hour {
    /// Past every hour a timestamp can fall in: a closing meter moves its keys' windows
    /// here, so that later adds are refused.
    pub(crate) const BEYOND: Self = Self(i64::MAX / 4);

    /// The hour `at` falls in.
    pub(crate) fn of(at: Timestamp) -> Self {
        let nanos = at.unix_nanos();
        // Within 1677..2262 the nanoseconds fit an i64, whose division by a constant
        // compiles to a multiplication (an i128's is a call). Within the years
        // -9999..=9999 the hour number fits an i64 with room to spare.
        Self(i64::try_from(nanos).map_or_else(
            |_| i64::try_from(nanos.div_euclid(NANOS_PER_HOUR.into())).unwrap_or_default(),
            |nanos| nanos.div_euclid(NANOS_PER_HOUR),
        ))
    }

    /// The hour numbered `number`: for the words that pack an hour with something else.
    pub(crate) const fn from_number(number: i64) -> Self {
        Self(number)
    }

    /// The hour's number.
    pub(crate) const fn number(self) -> i64 {
        self.0
    }

    /// The instant the hour starts.
    pub(crate) fn start(self) -> Timestamp {
        Timestamp::from_unix_nanos(i128::from(self.0) * i128::from(NANOS_PER_HOUR))
            .unwrap_or_else(|_| unreachable!("hours come from valid timestamps"))
    }

    /// The hour after.
    pub(crate) const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The hour before.
    pub(crate) const fn previous(self) -> Self {
        Self(self.0 - 1)
    }

    /// The hours from `self` through `last`.
    pub(crate) fn through(self, last: Self) -> impl Iterator<Item = Self> {
        (self.0..=last.0).map(Self)
    }
}

impl fmt::Display for Hour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.start().fmt(f)
    }
}

impl From<Hour> for Timestamp {
    fn from(hour: Hour) -> Self {
        hour.start()
    }
}

/// An [`Hour`] read and moved forward atomically.
#[derive(Debug)]
pub(super) struct AtomicHour(AtomicI64);

impl AtomicHour {
    pub(super) const fn new(hour: Hour) -> Self {
        Self(AtomicI64::new(hour.0))
    }

    #[inline]
    pub(super) fn load(&self, order: Ordering) -> Hour {
        Hour(self.0.load(order))
    }

    /// Moves the hour forward to `hour`, never back; returns the hour before.
    pub(super) fn fetch_max(&self, hour: Hour, order: Ordering) -> Hour {
        Hour(self.0.fetch_max(hour.0, order))
    }
}

/// `at` in whole microseconds since the epoch: every timestamp fits an i64 so.
pub(super) fn micros(at: Timestamp) -> i64 {
    i64::try_from(at.unix_nanos().div_euclid(1000)).unwrap_or_default()
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
        assert_eq!(Hour::from_number(hour.number()), hour);
        assert_eq!(
            (hour.previous().number(), hour.next().number()),
            (hour.number() - 1, hour.number() + 1)
        );
        let hours: Vec<i64> = hour
            .previous()
            .through(hour.next())
            .map(Hour::number)
            .collect();
        assert_eq!(hours, [hour.number() - 1, hour.number(), hour.number() + 1]);
        // Before 1970 an hour rounds down too.
        let before = Timestamp::from_unix_seconds(-1).unwrap();
        assert_eq!(Hour::of(before).number(), -1);
        assert_eq!(Hour::of(before).start().unix_seconds(), -3600);
    }

    #[test]
    fn an_atomic_hour_only_moves_forward() {
        let hour = Hour::from_number(10);
        let atomic = AtomicHour::new(hour);
        assert_eq!(atomic.fetch_max(hour.previous(), Ordering::Relaxed), hour);
        assert_eq!(atomic.load(Ordering::Relaxed), hour);
        assert_eq!(atomic.fetch_max(hour.next(), Ordering::Relaxed), hour);
        assert_eq!(atomic.load(Ordering::Relaxed), hour.next());
    }
}
