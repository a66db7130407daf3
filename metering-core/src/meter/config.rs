//! How a [`Meter`](super::Meter) commits, seals and sends, in the AWS SDK's configuration
//! style: private fields, `with_*` setters, getters.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::MeterError;
use crate::{Clock, SystemClock, TimePolicy, Timestamp};

/// The Meter's timings and bounds, and the clock it reads.
///
/// The defaults: a commit every second (the loss window of [`Meter::record`](super::Meter)
/// when the process is killed), hours sealed 15 minutes after they close, timestamps at most
/// 5 minutes ahead of the clock, 60-second leases, a flush every 10 seconds, at most
/// 1,000,000 uncommitted deltas held while the ledger fails, 10 seconds to shut down, the
/// service's current [`TimePolicy`] and the system clock.
#[derive(Clone)]
#[non_exhaustive]
pub struct MeterConfig {
    commit_interval: Duration,
    grace: Duration,
    future_bound: Duration,
    lease: Duration,
    flush_interval: Duration,
    backlog_limit: usize,
    shutdown_timeout: Duration,
    time_policy: TimePolicy,
    clock: Arc<dyn Clock>,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            commit_interval: Duration::from_secs(1),
            grace: Duration::from_mins(15),
            future_bound: Duration::from_mins(5),
            lease: Duration::from_mins(1),
            flush_interval: Duration::from_secs(10),
            backlog_limit: 1_000_000,
            shutdown_timeout: Duration::from_secs(10),
            time_policy: TimePolicy::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for MeterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterConfig")
            .field("commit_interval", &self.commit_interval)
            .field("grace", &self.grace)
            .field("future_bound", &self.future_bound)
            .field("lease", &self.lease)
            .field("flush_interval", &self.flush_interval)
            .field("backlog_limit", &self.backlog_limit)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("time_policy", &self.time_policy)
            .finish_non_exhaustive()
    }
}

settings! {
    MeterConfig;
    /// How often in-memory usage is committed to the ledger: the most usage acknowledged by
    /// `record` that a killed process loses.
    commit_interval: Duration, with_commit_interval;
    /// How long after an hour closes it is sealed: late events arriving within it still
    /// count in their own hour.
    grace: Duration, with_grace;
    /// How far ahead of the clock an event's timestamp may be.
    future_bound: Duration, with_future_bound;
    /// How long a flusher holds the records it claimed.
    lease: Duration, with_lease;
    /// How often sealed records are claimed and sent.
    flush_interval: Duration, with_flush_interval;
    /// How many uncommitted deltas are held in memory while the ledger fails; past it,
    /// recording returns [`MeterError::Backlog`] rather than dropping usage.
    backlog_limit: usize, with_backlog_limit;
    /// How long `shutdown` tries to commit what is left.
    shutdown_timeout: Duration, with_shutdown_timeout;
    /// The service's time rules, which bound the grace.
    time_policy: TimePolicy, with_time_policy;
}

impl MeterConfig {
    /// The default configuration.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock (tests move a [`ManualClock`](crate::ManualClock)).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Refuses a configuration whose hours could not be sealed and sent before the service
    /// stops accepting them: an hour `H` is sealed at `H + 1h + grace` and then waits for a
    /// flush and perhaps a lease's expiry, all before its deadline (24 hours after it, and
    /// for a month's last hour 06:00 UTC on the 1st).
    ///
    /// # Errors
    /// [`MeterError::Config`] naming the setting, the rule and the value.
    pub fn validate(&self) -> Result<(), MeterError> {
        let positive = [
            ("commit_interval", self.commit_interval),
            ("flush_interval", self.flush_interval),
            ("lease", self.lease),
            ("shutdown_timeout", self.shutdown_timeout),
        ];
        for (name, value) in positive {
            if value.is_zero() {
                return Err(MeterError::Config {
                    setting: name,
                    rule: "must be above zero".into(),
                    value: format!("{value:?}"),
                });
            }
        }
        // The tightest deadline an hour meets: a month's last hour (any month will do).
        let last_hour = Timestamp::from_unix_seconds(1_769_900_400).unwrap_or_else(|_| {
            unreachable!("2026-01-31T23:00:00Z is in range");
        });
        let room = self
            .time_policy
            .deadline(last_hour)
            .duration_since(last_hour);
        let needed = Duration::from_hours(1) + self.grace + self.flush_interval + self.lease;
        if needed >= room {
            return Err(MeterError::Config {
                setting: "grace",
                rule: format!(
                    "the hour (1h), the grace, a flush interval ({:?}) and a lease ({:?}) must end before the service's deadline, {:?} after the hour's start for a month's last hour",
                    self.flush_interval, self.lease, room
                ),
                value: format!("{:?}", self.grace),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_settable() {
        let config = MeterConfig::new();
        config.validate().unwrap();
        assert_eq!(config.commit_interval(), Duration::from_secs(1));
        let config = config
            .with_commit_interval(Duration::from_millis(50))
            .with_backlog_limit(7);
        assert_eq!(config.commit_interval(), Duration::from_millis(50));
        assert_eq!(config.backlog_limit(), 7);
        assert!(format!("{config:?}").contains("50ms"));
    }

    #[test]
    fn a_grace_past_the_deadline_is_refused() {
        // A month's last hour must be sent by 06:00 on the 1st: 7h after its start.
        let at_edge = MeterConfig::new()
            .with_grace(Duration::from_hours(6) - Duration::from_secs(70))
            .with_flush_interval(Duration::from_secs(10))
            .with_lease(Duration::from_mins(1));
        let err = at_edge.validate().unwrap_err();
        assert!(matches!(
            err,
            MeterError::Config {
                setting: "grace",
                ..
            }
        ));
        assert!(err.to_string().contains("grace"), "{err}");
        at_edge
            .with_grace(Duration::from_hours(6) - Duration::from_secs(71))
            .validate()
            .unwrap();
        // With the old 6-hour window the window binds first.
        let six = MeterConfig::new()
            .with_time_policy(TimePolicy::new().with_window(Duration::from_hours(6)))
            .with_grace(Duration::from_hours(5));
        assert!(six.validate().is_err());
        let zero = MeterConfig::new().with_commit_interval(Duration::ZERO);
        assert!(matches!(
            zero.validate(),
            Err(MeterError::Config {
                setting: "commit_interval",
                ..
            })
        ));
    }
}
