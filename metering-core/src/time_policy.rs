//! When the service still accepts a record: applied when records are planned and sent, not
//! when they are built, since a record's age changes while it waits.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::timestamp::Timestamp;

/// A source of the current time, injectable so tests can move time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told to move; cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock reading `now`.
    #[must_use]
    pub fn new(now: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// Why the service would no longer (or not yet) accept a record's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum TimeViolation {
    /// Older than the acceptance window.
    #[error(
        "Timestamp {timestamp} is {} old at {now}; the service accepts records up to {} after the event", Hms(*.age), Hms(*.window)
    )]
    TooOld {
        /// The record's timestamp.
        timestamp: Timestamp,
        /// When it was checked.
        now: Timestamp,
        /// How old it was then.
        age: Duration,
        /// The acceptance window.
        window: Duration,
    },
    /// From a previous month, after that month's records closed.
    #[error(
        "Timestamp {timestamp} belongs to a previous month, whose records the service accepted only until {cutoff}"
    )]
    AfterMonthEnd {
        /// The record's timestamp.
        timestamp: Timestamp,
        /// When the month's records closed.
        cutoff: Timestamp,
    },
    /// Ahead of the clock by more than the allowed skew.
    #[error(
        "Timestamp {timestamp} is {} ahead of now ({now}); at most {} of clock skew is allowed", Hms(*.ahead), Hms(*.max_skew)
    )]
    InFuture {
        /// The record's timestamp.
        timestamp: Timestamp,
        /// When it was checked.
        now: Timestamp,
        /// How far ahead it was.
        ahead: Duration,
        /// The allowed skew.
        max_skew: Duration,
    },
}

/// The timestamps a [`TimePolicy`] accepts at one moment: see [`TimePolicy::accepted_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Timestamps must be later than this.
    older_than: Timestamp,
    /// After the month-end cut-off: timestamps must be in the current month.
    not_before: Option<Timestamp>,
    /// Timestamps must not be later than this.
    not_after: Timestamp,
}

impl Accepted {
    /// Whether `timestamp` is accepted: the same verdict as [`TimePolicy::check`].
    #[must_use]
    pub fn contains(&self, timestamp: Timestamp) -> bool {
        timestamp > self.older_than
            && timestamp <= self.not_after
            && self.not_before.is_none_or(|start| timestamp >= start)
    }
}

/// A duration as hours, minutes and seconds: `25h 0m 3s`.
pub(crate) struct Hms(pub(crate) Duration);

impl std::fmt::Display for Hms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.0.as_secs();
        write!(
            f,
            "{}h {}m {}s",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

/// The service's time rules, configurable for sellers and regions still on older rules.
///
/// By default: records are accepted for 24 hours after the event (the rule since
/// 2026-07-01; set [`TimePolicy::with_window`] to 6 hours for the old one), a previous
/// month's records only until 06:00 UTC on the 1st, and timestamps at most 5 minutes
/// ahead of the clock.
///
/// ```
/// use metering_core::{TimePolicy, TimeViolation, Timestamp};
///
/// let at = |text| Timestamp::parse_rfc3339(text);
/// let policy = TimePolicy::new();
/// let now = at("2026-05-12T10:05:00Z")?;
/// assert!(policy.check(at("2026-05-11T10:06:00Z")?, now).is_ok()); // 23h 59m old
/// assert!(matches!(
///     policy.check(at("2026-05-11T10:05:00Z")?, now),
///     Err(TimeViolation::TooOld { .. }) // 24 hours old
/// ));
/// assert!(matches!(
///     policy.check(at("2026-05-12T10:11:00Z")?, now),
///     Err(TimeViolation::InFuture { .. }) // 6 minutes ahead
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePolicy {
    window: Duration,
    max_skew: Duration,
    month_end_grace: Option<Duration>,
}

impl Default for TimePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl TimePolicy {
    /// The service's current rules.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            window: Duration::from_hours(24),
            max_skew: Duration::from_mins(5),
            month_end_grace: Some(Duration::from_hours(6)),
        }
    }

    /// How long after the event a record is accepted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use metering_core::{TimePolicy, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let old_rule = TimePolicy::new().with_window(Duration::from_hours(6));
    /// assert_eq!(old_rule.window(), Duration::from_hours(6));
    /// assert!(old_rule.check(at("2026-05-12T04:05:00Z")?, at("2026-05-12T10:05:00Z")?).is_err());
    /// assert!(TimePolicy::new().check(at("2026-05-12T04:05:00Z")?, at("2026-05-12T10:05:00Z")?).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How far ahead of the clock a timestamp may be.
    ///
    /// ```
    /// use std::time::Duration;
    /// use metering_core::{TimePolicy, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let (event, now) = (at("2026-05-12T10:08:00Z")?, at("2026-05-12T10:05:00Z")?); // 3 minutes ahead
    /// assert!(TimePolicy::new().check(event, now).is_ok()); // within the default 5 minutes
    /// let strict = TimePolicy::new().with_max_skew(Duration::from_mins(1));
    /// assert!(strict.check(event, now).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// How long into a month the previous month's records are still accepted; `None` turns
    /// the month-end rule off.
    ///
    /// ```
    /// use metering_core::{TimePolicy, TimeViolation, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// // April's last hour, on May 1st at 07:00: past the default 06:00 cut-off.
    /// let (event, now) = (at("2026-04-30T23:30:00Z")?, at("2026-05-01T07:00:00Z")?);
    /// let error = TimePolicy::new().check(event, now).unwrap_err();
    /// assert!(matches!(error, TimeViolation::AfterMonthEnd { .. }), "{error}");
    /// let no_month_end = TimePolicy::new().with_month_end_grace(None);
    /// assert_eq!(no_month_end.month_end_grace(), None);
    /// assert!(no_month_end.check(event, now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn with_month_end_grace(mut self, grace: Option<Duration>) -> Self {
        self.month_end_grace = grace;
        self
    }

    /// The acceptance window.
    #[must_use]
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// How long into a month the previous month's records are still accepted (`None`: no
    /// month-end rule).
    #[must_use]
    pub const fn month_end_grace(&self) -> Option<Duration> {
        self.month_end_grace
    }

    /// Whether the service would accept `timestamp` at `now`.
    ///
    /// # Errors
    /// The rule the timestamp breaks.
    pub fn check(&self, timestamp: Timestamp, now: Timestamp) -> Result<(), TimeViolation> {
        let ahead = timestamp.duration_since(now);
        if ahead > self.max_skew {
            return Err(TimeViolation::InFuture {
                timestamp,
                now,
                ahead,
                max_skew: self.max_skew,
            });
        }
        let age = now.duration_since(timestamp);
        if age >= self.window {
            return Err(TimeViolation::TooOld {
                timestamp,
                now,
                age,
                window: self.window,
            });
        }
        let month = now.month_start();
        if let Some(grace) = self.month_end_grace {
            let cutoff = month.saturating_add(grace);
            if timestamp < month && now >= cutoff {
                return Err(TimeViolation::AfterMonthEnd { timestamp, cutoff });
            }
        }
        Ok(())
    }

    /// The timestamps accepted at `now`, as bounds: checking many records against them
    /// costs two comparisons each. [`TimePolicy::check`] says why one is not accepted.
    ///
    /// ```
    /// use metering_core::{TimePolicy, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let policy = TimePolicy::new();
    /// let now = at("2026-05-12T10:05:00Z")?;
    /// let accepted = policy.accepted_at(now);
    /// for event in ["2026-05-11T10:05:00Z", "2026-05-11T10:06:00Z", "2026-05-12T10:10:00Z", "2026-05-12T10:11:00Z"] {
    ///     let event = at(event)?;
    ///     assert_eq!(accepted.contains(event), policy.check(event, now).is_ok());
    /// }
    /// assert!(!accepted.contains(at("2026-05-11T10:05:00Z")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn accepted_at(&self, now: Timestamp) -> Accepted {
        let month = now.month_start();
        let month_closed = self
            .month_end_grace
            .is_some_and(|grace| now >= month.saturating_add(grace));
        Accepted {
            older_than: now.saturating_sub(self.window),
            not_before: month_closed.then_some(month),
            not_after: now.saturating_add(self.max_skew),
        }
    }

    /// The first instant at which the service no longer accepts `timestamp`: planners send
    /// the records closest to it first.
    ///
    /// ```
    /// use metering_core::{TimePolicy, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let policy = TimePolicy::new();
    /// assert_eq!(policy.deadline(at("2026-05-12T10:05:00Z")?), at("2026-05-13T10:05:00Z")?);
    /// // A month's last hours: the cut-off (06:00 on the 1st) comes before 24 hours are up.
    /// assert_eq!(policy.deadline(at("2026-04-30T23:30:00Z")?), at("2026-05-01T06:00:00Z")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn deadline(&self, timestamp: Timestamp) -> Timestamp {
        Deadlines::new(self).of(timestamp)
    }
}

/// Deadlines of many timestamps: the calendar work of the month-end cut-off is done once
/// per month met, not once per record.
pub(crate) struct Deadlines<'p> {
    policy: &'p TimePolicy,
    /// The last month met: its start, the next month's start, and its cut-off.
    month: Option<(Timestamp, Timestamp, Timestamp)>,
}

impl<'p> Deadlines<'p> {
    pub(crate) fn new(policy: &'p TimePolicy) -> Self {
        Self {
            policy,
            month: None,
        }
    }

    /// See [`TimePolicy::deadline`].
    pub(crate) fn of(&mut self, timestamp: Timestamp) -> Timestamp {
        let by_window = timestamp.saturating_add(self.policy.window);
        let Some(grace) = self.policy.month_end_grace else {
            return by_window;
        };
        let cutoff = match self.month {
            Some((start, next, cutoff)) if start <= timestamp && timestamp < next => cutoff,
            _ => {
                let start = timestamp.month_start();
                let next = start
                    .saturating_add(Duration::from_hours(32 * 24))
                    .month_start();
                let cutoff = next.saturating_add(grace);
                self.month = Some((start, next, cutoff));
                cutoff
            }
        };
        by_window.min(cutoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    const HOUR: Duration = Duration::from_hours(1);

    #[test]
    fn window_is_exclusive_at_its_end() {
        let policy = TimePolicy::new();
        let now = at("2026-11-26T12:00:00Z");
        assert!(policy.check(at("2026-11-25T12:00:01Z"), now).is_ok());
        assert!(matches!(
            policy.check(at("2026-11-25T12:00:00Z"), now),
            Err(TimeViolation::TooOld { .. })
        ));
        let six = policy.with_window(6 * HOUR);
        assert!(six.check(at("2026-11-26T06:00:00Z"), now).is_err());
        assert!(six.check(at("2026-11-26T06:00:01Z"), now).is_ok());
    }

    #[test]
    fn month_end_cutoff() {
        let policy = TimePolicy::new();
        let last_hour = at("2026-11-30T23:00:00Z");
        assert!(policy.check(last_hour, at("2026-12-01T05:59:59Z")).is_ok());
        let err = policy
            .check(last_hour, at("2026-12-01T06:00:00Z"))
            .unwrap_err();
        assert_eq!(
            err,
            TimeViolation::AfterMonthEnd {
                timestamp: last_hour,
                cutoff: at("2026-12-01T06:00:00Z")
            }
        );
        assert_eq!(policy.deadline(last_hour), at("2026-12-01T06:00:00Z"));
        assert_eq!(
            policy.deadline(at("2026-11-15T10:00:00Z")),
            at("2026-11-16T10:00:00Z")
        );
        let no_rule = policy.with_month_end_grace(None);
        assert!(no_rule.check(last_hour, at("2026-12-01T07:00:00Z")).is_ok());
    }

    #[test]
    fn future_skew() {
        let policy = TimePolicy::new();
        let now = at("2026-11-26T12:00:00Z");
        assert!(policy.check(at("2026-11-26T12:05:00Z"), now).is_ok());
        assert!(matches!(
            policy.check(at("2026-11-26T12:05:01Z"), now),
            Err(TimeViolation::InFuture { .. })
        ));
    }

    #[test]
    fn accepted_bounds_agree_with_check() {
        let policies = [
            TimePolicy::new(),
            TimePolicy::new().with_window(6 * HOUR),
            TimePolicy::new().with_month_end_grace(None),
        ];
        let nows = [
            "2026-11-26T12:00:00Z",
            "2026-12-01T05:59:59Z",
            "2026-12-01T06:00:00Z",
            "2026-12-01T23:00:00Z",
        ];
        for policy in policies {
            for now in nows.map(at) {
                let accepted = policy.accepted_at(now);
                // Every second across two days around `now`, and the edges to the nanosecond.
                let start = now.saturating_sub(26 * HOUR);
                for step in 0..(27 * 3600) {
                    let t = start.saturating_add(Duration::from_secs(step));
                    for t in [t, t.saturating_add(Duration::from_nanos(1))] {
                        assert_eq!(
                            accepted.contains(t),
                            policy.check(t, now).is_ok(),
                            "{t} at {now}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn deadlines_of_mixed_months_are_each_their_own_month() {
        let policy = TimePolicy::new();
        // Timestamp, deadline: the 24 hours, or 06:00 on the 1st of the next month.
        let cases = [
            ("2026-11-30T23:00:00Z", "2026-12-01T06:00:00Z"),
            ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"),
            ("2026-11-30T05:30:00Z", "2026-12-01T05:30:00Z"),
            ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ("2026-10-31T23:59:59Z", "2026-11-01T06:00:00Z"),
            ("2026-12-31T12:00:00Z", "2027-01-01T06:00:00Z"),
            ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"),
            ("2028-02-29T23:00:00Z", "2028-03-01T06:00:00Z"),
            ("2026-01-31T20:00:00Z", "2026-02-01T06:00:00Z"),
            ("2026-02-28T23:00:00Z", "2026-03-01T06:00:00Z"),
        ];
        // One `Deadlines` for all, as the planner uses it: what it remembers of one month
        // must not leak into the next.
        let mut deadlines = Deadlines::new(&policy);
        for _ in 0..2 {
            for (timestamp, deadline) in cases {
                assert_eq!(deadlines.of(at(timestamp)), at(deadline), "{timestamp}");
                assert_eq!(policy.deadline(at(timestamp)), at(deadline), "{timestamp}");
            }
        }
        let no_rule = policy.with_month_end_grace(None);
        assert_eq!(
            no_rule.deadline(at("2026-11-30T23:00:00Z")),
            at("2026-12-01T23:00:00Z")
        );
    }

    #[test]
    fn manual_clock_moves() {
        let clock = ManualClock::new(at("2026-11-26T12:00:00Z"));
        let shared = clock.clone();
        shared.advance(HOUR);
        assert_eq!(clock.now(), at("2026-11-26T13:00:00Z"));
        shared.set(at("2026-12-01T05:59:59Z"));
        assert_eq!(clock.now(), at("2026-12-01T05:59:59Z"));
        // Shared or borrowed, a clock reads the same.
        let arc: Arc<dyn Clock> = Arc::new(clock.clone());
        assert_eq!(arc.now(), at("2026-12-01T05:59:59Z"));
        assert_eq!(Clock::now(&&clock), at("2026-12-01T05:59:59Z"));
    }

    #[test]
    fn the_system_clock_reads_the_time() {
        let before = Timestamp::now();
        let read = SystemClock.now();
        assert!(before <= read && read <= Timestamp::now());
    }

    #[test]
    fn violations_say_how_far_off_in_hours_minutes_seconds() {
        let policy = TimePolicy::new();
        let now = at("2026-11-26T12:00:00Z");
        let old = policy.check(at("2026-11-25T10:58:57Z"), now).unwrap_err();
        assert!(
            old.to_string().contains("is 25h 1m 3s old")
                && old.to_string().contains("up to 24h 0m 0s after"),
            "{old}"
        );
        let ahead = policy.check(at("2026-11-26T13:00:00Z"), now).unwrap_err();
        assert!(
            ahead.to_string().contains("is 1h 0m 0s ahead")
                && ahead.to_string().contains("at most 0h 5m 0s"),
            "{ahead}"
        );
    }
}
