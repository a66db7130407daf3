//! The submitter's configuration, in the AWS SDK's style (`RetryConfig`): private fields,
//! `with_*` setters, getters.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::RateLimit;
use crate::plan::Planner;
use crate::time_policy::{Clock, SystemClock};

/// How a [`Submitter`](super::Submitter) plans, paces and retries, and the clock it reads.
///
/// The defaults suit production: 10 requests a second (the account's quota, shared with
/// every other submitter of the process that sends to the same region: see
/// [`RateLimit`]), 4 requests in flight, 8 attempts per request with backoff from 100 ms
/// to 20 s, the service's time policy and the system clock.
///
/// ```
/// # use std::time::Duration;
/// use metering_core::submit::SubmitConfig;
///
/// let config = SubmitConfig::default()
///     .with_max_attempts(4)
///     .with_max_backoff(Duration::from_secs(5));
/// assert_eq!(config.max_attempts(), 4);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SubmitConfig {
    requests_per_second: Option<f64>,
    rate_limit: Option<RateLimit>,
    concurrency: usize,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    planner: Planner,
    /// The clock given, if one was: a meter refuses a submitter given another clock than
    /// its own.
    clock: Option<Arc<dyn Clock>>,
}

/// The clock of a configuration given none.
static SYSTEM_CLOCK: LazyLock<Arc<dyn Clock>> = LazyLock::new(|| Arc::new(SystemClock));

impl Default for SubmitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: Some(10.0),
            rate_limit: None,
            concurrency: 4,
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            planner: Planner::default(),
            clock: None,
        }
    }
}

settings! {
    SubmitConfig + rate_limit;
    /// Requests started per second, at most; `None` lifts the limit. By default the
    /// submitter shares this budget with every submitter of the process that has the same
    /// rate and whose transport names the same quota (see [`RateLimit`]).
    requests_per_second: Option<f64>, with_requests_per_second;
    /// Requests in flight at once (at least 1).
    concurrency: usize, with_concurrency;
    /// Attempts per request (and per set of unprocessed records) before its records are
    /// left `Pending`.
    max_attempts: u32, with_max_attempts;
    /// The first backoff; each retry doubles it, up to the longest, with full jitter.
    initial_backoff: Duration, with_initial_backoff;
    /// The longest backoff.
    max_backoff: Duration, with_max_backoff;
    /// How records are planned (time policy, records per request).
    planner: Planner, with_planner;
}

impl SubmitConfig {
    /// An explicit budget instead of the transport's process-wide one: give the same
    /// [`RateLimit`] to submitters that share a quota the transport cannot tell apart, or a
    /// fresh one to a submitter that has a quota of its own.
    ///
    /// ```
    /// use metering_core::submit::{RateLimit, Response, Transport};
    /// use metering_core::{Failure, PlannedRequest, SubmitConfig, Submitter};
    ///
    /// # struct Answer;
    /// # impl Transport for Answer {
    /// #     async fn send(&self, _: &PlannedRequest) -> Result<Response, Failure> { Ok(Response::default()) }
    /// # }
    /// // Two submitters that share one quota, at 5 requests a second together.
    /// let budget = RateLimit::new(Some(5.0));
    /// let config = SubmitConfig::default().with_rate_limit(budget.clone());
    /// assert_eq!(config.rate_limit().and_then(RateLimit::requests_per_second), Some(5.0));
    /// let (one, two) = (Submitter::with_config(Answer, config.clone()), Submitter::with_config(Answer, config));
    /// assert_eq!(one.rate_limit().requests_per_second(), Some(5.0));
    /// assert_eq!(two.rate_limit().requests_per_second(), Some(5.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// The explicit budget, if one was given.
    #[must_use]
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }

    /// Reads time from `clock` (the time policy's "now"; a test's [`ManualClock`]).
    ///
    /// [`ManualClock`]: crate::ManualClock
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.clock.as_ref().unwrap_or(&SYSTEM_CLOCK)
    }

    /// The clock, when one was given ([`SubmitConfig::with_clock`]).
    pub(crate) fn given_clock(&self) -> Option<&Arc<dyn Clock>> {
        self.clock.as_ref()
    }
}
