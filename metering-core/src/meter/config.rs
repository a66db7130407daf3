//! How a [`Meter`](super::Meter) commits, seals and sends, in the AWS SDK's configuration
//! style: private fields, `with_*` setters, getters.

use std::sync::Arc;
use std::time::Duration;

use super::MeterError;
use crate::submit::SubmitConfig;
use crate::{Clock, SystemClock, TimePolicy, Timestamp};

/// How far apart two clocks may read and still be taken for one.
const CLOCKS_APART: Duration = Duration::from_secs(1);

/// The Meter's timings and bounds, and the clock it reads.
///
/// The defaults: a commit every second (the loss window of [`Meter::record`](super::Meter)
/// when the process is killed), hours sealed 15 minutes after they close, a month's last hour
/// sealed an hour before the month's cut-off (05:00 UTC on the 1st), timestamps at most
/// 5 minutes ahead of the clock, 60-second leases, a flush every 10 seconds, at most
/// 1,000,000 uncommitted deltas held while the ledger fails, 10 seconds to shut down, a
/// warning for records unsent 6 hours before the service's deadline and an error 1 hour
/// before, the service's current [`TimePolicy`] and the system clock.
///
/// ```
/// use std::time::Duration;
/// use metering_core::{ManualClock, MeterConfig, Timestamp};
///
/// let now = Timestamp::parse_rfc3339("2026-05-12T11:20:00Z")?;
/// let config = MeterConfig::new()
///     .with_grace(Duration::from_mins(10))
///     .with_clock(ManualClock::new(now)); // a test's clock; the system's by default
/// assert_eq!(config.grace(), Duration::from_mins(10));
/// // At 11:20, hours that ended by 11:10 are sealed: 10:00's is.
/// assert_eq!(config.seal_until(now), Timestamp::parse_rfc3339("2026-05-12T11:10:00Z")?);
/// // A grace that would let the service's deadline pass is refused, naming it.
/// let late = MeterConfig::new().with_grace(Duration::from_hours(6));
/// assert!(late.validate().unwrap_err().to_string().contains("grace"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct MeterConfig {
    commit_interval: Duration,
    grace: Duration,
    month_close_margin: Duration,
    future_bound: Duration,
    lease: Duration,
    flush_interval: Duration,
    backlog_limit: usize,
    shutdown_timeout: Duration,
    deadline_warning: Duration,
    deadline_error: Duration,
    time_policy: TimePolicy,
    clock: Arc<dyn Clock>,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            commit_interval: Duration::from_secs(1),
            grace: Duration::from_mins(15),
            month_close_margin: Duration::from_hours(1),
            future_bound: Duration::from_mins(5),
            lease: Duration::from_mins(1),
            flush_interval: Duration::from_secs(10),
            backlog_limit: 1_000_000,
            shutdown_timeout: Duration::from_secs(10),
            deadline_warning: Duration::from_hours(6),
            deadline_error: Duration::from_hours(1),
            time_policy: TimePolicy::new(),
            clock: Arc::new(SystemClock),
        }
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
    /// How long before a month's cut-off (06:00 UTC on the 1st) the month's last hour is
    /// sealed, rather than at the grace's end: until then late usage for the month is still
    /// billed, in that hour; from then on it is set aside. The margin is the time left to
    /// send the hour, retries included.
    month_close_margin: Duration, with_month_close_margin;
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
    /// How close to the service's deadline records still unsent at the end of a flush are
    /// a warning (in `tracing`, once per flush and hour, and in the metrics): 6 hours by
    /// default.
    deadline_warning: Duration, with_deadline_warning;
    /// How close to the deadline they are an error, as past it: 1 hour by default. At most
    /// [`MeterConfig::deadline_warning`].
    deadline_error: Duration, with_deadline_error;
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

    /// The instant up to which hours are sealed at `now` (what a flusher passes to
    /// [`Ledger::seal`](crate::ledger::Ledger::seal)): hours that closed more than the grace
    /// ago, except a month's last hour, which stays open until its cut-off less
    /// [`MeterConfig::month_close_margin`], so that late usage for the month is still billed.
    /// Sealing goes in hour order, so the new month's first hours wait with it (their own
    /// deadline is a day away).
    #[must_use]
    pub fn seal_until(&self, now: Timestamp) -> Timestamp {
        let until = now.saturating_sub(self.grace);
        if self.time_policy.month_end_grace().is_none() {
            return until;
        }
        let last_hour = now.month_start().saturating_sub(Duration::from_hours(1));
        let close = self
            .time_policy
            .deadline(last_hour)
            .saturating_sub(self.month_close_margin);
        if now < close {
            until.min(last_hour)
        } else {
            until
        }
    }

    /// Refuses a submitter given a clock of its own that reads otherwise than this one: a
    /// meter and what it starts read one clock, this one, and a second clock is a mistake
    /// waiting to happen (a submitter checking records against its own time quarantines
    /// them by it). A submitter given no clock is fine: the meter's clock is the one read.
    ///
    /// # Errors
    /// [`MeterError::Config`] naming both clocks' readings.
    pub(crate) fn check_submitter(&self, submitter: &SubmitConfig) -> Result<(), MeterError> {
        let Some(theirs) = submitter.given_clock() else {
            return Ok(());
        };
        let (ours, theirs) = (self.clock.now(), theirs.now());
        if ours.duration_since(theirs).max(theirs.duration_since(ours)) <= CLOCKS_APART {
            return Ok(());
        }
        Err(MeterError::Config {
            setting: "clock",
            rule: "a Meter's submitter reads the meter's clock: give the clock once, to \
                   `MeterConfig::with_clock`, and build the submitter without one"
                .into(),
            value: format!(
                "the submitter was given a clock reading {theirs}, the meter's reads {ours}"
            ),
        })
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
        if self.deadline_error > self.deadline_warning {
            return Err(MeterError::Config {
                setting: "deadline_error",
                rule: format!(
                    "must be at most deadline_warning ({:?}): an error comes after the warning",
                    self.deadline_warning
                ),
                value: format!("{:?}", self.deadline_error),
            });
        }
        let sending = self.flush_interval + self.lease;
        if self.month_close_margin <= sending {
            return Err(MeterError::Config {
                setting: "month_close_margin",
                rule: format!(
                    "must exceed a flush interval ({:?}) and a lease ({:?}), to send the month's last hour after it is sealed",
                    self.flush_interval, self.lease
                ),
                value: format!("{:?}", self.month_close_margin),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_error_margin_comes_after_the_warning() {
        let config = MeterConfig::new();
        assert_eq!(
            (config.deadline_warning(), config.deadline_error()),
            (Duration::from_hours(6), Duration::from_hours(1))
        );
        let inverted = config.clone().with_deadline_error(Duration::from_hours(7));
        let error = inverted.validate().unwrap_err().to_string();
        assert!(
            error.contains("deadline_error") && error.contains("25200s"),
            "{error}"
        );
        let equal = config.with_deadline_error(Duration::from_hours(6));
        equal.validate().unwrap();
    }

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
    fn a_months_last_hour_is_sealed_an_hour_before_the_cut_off() {
        let at = |text| Timestamp::parse_rfc3339(text).unwrap();
        let config = MeterConfig::new();
        let until = |now| config.seal_until(at(now)).to_string();
        assert_eq!(until("2026-05-12T10:20:00Z"), "2026-05-12T10:05:00Z");
        // May's last hour (23:00) stays open, and June's first hours with it, until 05:00.
        assert_eq!(until("2026-06-01T00:20:00Z"), "2026-05-31T23:00:00Z");
        assert_eq!(until("2026-06-01T04:59:59Z"), "2026-05-31T23:00:00Z");
        assert_eq!(until("2026-06-01T05:00:00Z"), "2026-06-01T04:45:00Z");
        // The margin is configurable; the hour's deadline binds under a 6-hour window.
        let config = MeterConfig::new().with_month_close_margin(Duration::from_mins(30));
        assert_eq!(
            config.seal_until(at("2026-06-01T05:29:00Z")),
            at("2026-05-31T23:00:00Z")
        );
        let six = MeterConfig::new()
            .with_time_policy(TimePolicy::new().with_window(Duration::from_hours(6)));
        assert_eq!(
            six.seal_until(at("2026-06-01T04:00:00Z")),
            at("2026-06-01T03:45:00Z")
        );
        // Without the month-end rule, no hour is held.
        let no_rule =
            MeterConfig::new().with_time_policy(TimePolicy::new().with_month_end_grace(None));
        assert_eq!(
            no_rule.seal_until(at("2026-06-01T00:20:00Z")),
            at("2026-06-01T00:05:00Z")
        );
        // The margin must leave time to send: a flush interval and a lease.
        let tight = MeterConfig::new().with_month_close_margin(Duration::from_secs(70));
        let err = tight.validate().unwrap_err();
        assert!(matches!(
            err,
            MeterError::Config {
                setting: "month_close_margin",
                ..
            }
        ));
        assert!(err.to_string().contains("(value: 70s)"), "{err}");
        tight
            .with_month_close_margin(Duration::from_secs(71))
            .validate()
            .unwrap();
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

    #[test]
    fn a_submitter_given_another_clock_is_refused_naming_both() {
        let at = |text| Timestamp::parse_rfc3339(text).unwrap();
        let clock = crate::ManualClock::new(at("2026-05-12T10:05:00Z"));
        let config = MeterConfig::new().with_clock(clock.clone());
        // Given no clock, the submitter is on the meter's; given the meter's, too.
        config.check_submitter(&SubmitConfig::default()).unwrap();
        config
            .check_submitter(&SubmitConfig::default().with_clock(clock.clone()))
            .unwrap();
        let given = |text| SubmitConfig::default().with_clock(crate::ManualClock::new(at(text)));
        config
            .check_submitter(&given("2026-05-12T10:05:01Z"))
            .unwrap();
        config
            .check_submitter(&given("2026-05-12T10:04:59Z"))
            .unwrap();
        for other in ["2026-05-12T10:05:01.000001Z", "2026-05-12T10:04:58.999999Z"] {
            let err = config.check_submitter(&given(other)).unwrap_err();
            assert!(
                matches!(
                    err,
                    MeterError::Config {
                        setting: "clock",
                        ..
                    }
                ),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!(
                    "reading {other}, the meter's reads 2026-05-12T10:05:00Z"
                )),
                "{text}"
            );
        }
        let err = config
            .check_submitter(&SubmitConfig::default().with_clock(SystemClock))
            .unwrap_err();
        assert!(err.to_string().contains("MeterConfig.clock"), "{err}");
    }
}
