//! The meter's hours: [`Hour`] (the crate's, `crate::hour`) read and moved forward
//! atomically, and the clock's readings, in microseconds.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::Timestamp;
pub(crate) use crate::hour::Hour;

/// An [`Hour`] read and moved forward atomically.
#[derive(Debug)]
pub(super) struct AtomicHour(AtomicI64);

impl AtomicHour {
    pub(super) const fn new(hour: Hour) -> Self {
        Self(AtomicI64::new(hour.number()))
    }

    #[inline]
    pub(super) fn load(&self, order: Ordering) -> Hour {
        Hour::from_number(self.0.load(order))
    }

    /// Moves the hour forward to `hour`, never back; returns the hour before.
    pub(super) fn fetch_max(&self, hour: Hour, order: Ordering) -> Hour {
        Hour::from_number(self.0.fetch_max(hour.number(), order))
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
    fn an_atomic_hour_only_moves_forward() {
        let hour = Hour::from_number(10);
        let atomic = AtomicHour::new(hour);
        assert_eq!(atomic.fetch_max(hour.previous(), Ordering::Relaxed), hour);
        assert_eq!(atomic.load(Ordering::Relaxed), hour);
        assert_eq!(atomic.fetch_max(hour.next(), Ordering::Relaxed), hour);
        assert_eq!(atomic.load(Ordering::Relaxed), hour.next());
    }
}
