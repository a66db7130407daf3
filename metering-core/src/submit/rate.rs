//! The client-side rate limit: one budget per account and region, shared by every
//! submitter in the process that sends there.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// A budget of request starts per second, spaced evenly (at 10 a second, one every
/// 100 ms, never a burst). Clones share the budget: give one to every
/// [`Submitter`](super::Submitter) that sends as the same account to the same region.
///
/// You rarely build one: by default a submitter joins the process-wide budget of its
/// transport's [`quota_key`](super::Transport::quota_key) (for the AWS transport, the
/// region and endpoint), so two submitters in one process never exceed the account's
/// 10 requests a second together.
#[derive(Clone)]
pub struct RateLimit(Arc<Limiter>);

struct Limiter {
    rate: Option<f64>,
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

/// The process-wide budgets by quota key; an entry lives while a submitter holds it.
static SHARED: Mutex<Option<HashMap<String, Weak<Limiter>>>> = Mutex::new(None);

impl RateLimit {
    /// A budget of its own, `requests_per_second` at most (`None`, or a rate that is not a
    /// positive number, for no limit).
    #[must_use]
    pub fn new(requests_per_second: Option<f64>) -> Self {
        let rate = requests_per_second.filter(|rate| rate.is_finite() && *rate > 0.0);
        Self(Arc::new(Limiter {
            rate,
            interval: rate.map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next: Mutex::new(None),
        }))
    }

    /// The process-wide budget of `key` at this rate: every call with the same key and
    /// rate, while one is held, returns the same budget.
    ///
    /// ```
    /// use metering_core::submit::RateLimit;
    ///
    /// let account = RateLimit::shared("123456789012 us-east-1", Some(10.0));
    /// assert_eq!(account.requests_per_second(), Some(10.0));
    /// assert_eq!(RateLimit::new(None).requests_per_second(), None); // no limit
    /// assert_eq!(RateLimit::new(Some(0.0)).requests_per_second(), None); // not a positive rate
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn shared(key: &str, requests_per_second: Option<f64>) -> Self {
        let limit = Self::new(requests_per_second);
        let Some(rate) = limit.0.rate else {
            return limit;
        };
        let key = format!("{key} @{rate}/s");
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = shared.get_or_insert_with(HashMap::new);
        if let Some(limiter) = shared.get(&key).and_then(Weak::upgrade) {
            return Self(limiter);
        }
        shared.retain(|_, limiter| limiter.strong_count() > 0);
        shared.insert(key, Arc::downgrade(&limit.0));
        limit
    }

    /// Requests started per second at most; `None` for no limit.
    #[must_use]
    pub fn requests_per_second(&self) -> Option<f64> {
        self.0.rate
    }

    /// Waits for the next free slot of the budget.
    pub(crate) async fn acquire(&self) {
        let Some(interval) = self.0.interval else {
            return;
        };
        let slot = {
            let mut next = self.0.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |next| next.max(now));
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("requests_per_second", &self.requests_per_second())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PlannedRequest;
    use crate::submit::{Failure, Response, SubmitConfig, Submitter, Transport};

    /// A transport that names its quota; it is never asked to send.
    struct Quota(&'static str);

    impl Transport for Quota {
        async fn send(&self, _: &PlannedRequest) -> Result<Response, Failure> {
            unreachable!("nothing is sent")
        }

        fn quota_key(&self) -> Option<String> {
            Some(self.0.to_owned())
        }
    }

    /// A transport that says nothing of its quota (the trait's default).
    struct Unnamed;

    impl Transport for Unnamed {
        async fn send(&self, _: &PlannedRequest) -> Result<Response, Failure> {
            unreachable!("nothing is sent")
        }
    }

    /// Two submitters sending as one account to one region never exceed its 10 requests a
    /// second together; submitters whose transports name no quota, or another one, are not
    /// slowed by each other.
    #[test]
    fn submitters_share_the_budget_of_their_transports_quota() {
        let shared = |a: &RateLimit, b: &RateLimit| Arc::ptr_eq(&a.0, &b.0);
        let keyed = Submitter::new(Quota("us-east-1 quota-test"));
        let through_arc = Submitter::new(Arc::new(Quota("us-east-1 quota-test")));
        let elsewhere = Submitter::new(Quota("eu-west-1 quota-test"));
        let (unkeyed, unkeyed_arc) = (Submitter::new(Unnamed), Submitter::new(Arc::new(Unnamed)));
        assert!(shared(keyed.rate_limit(), through_arc.rate_limit()));
        assert!(!shared(keyed.rate_limit(), elsewhere.rate_limit()));
        assert!(!shared(unkeyed.rate_limit(), unkeyed_arc.rate_limit()));
        assert!(!shared(keyed.rate_limit(), unkeyed.rate_limit()));
        // A budget in the configuration is the one used, whatever the transport's quota.
        let own = RateLimit::new(Some(2.0));
        let given = Submitter::with_config(
            Quota("us-east-1 quota-test"),
            SubmitConfig::default().with_rate_limit(own.clone()),
        );
        assert!(shared(given.rate_limit(), &own));
        assert!(shared(given.config().rate_limit().unwrap(), &own));
        // What a log shows of a submitter: its settings (its transport may hold credentials).
        let shown = format!("{given:?}");
        assert!(
            shown.starts_with("Submitter")
                && shown.contains("RateLimit { requests_per_second: Some(2.0) }"),
            "{shown}"
        );
    }

    #[test]
    fn one_key_one_budget_while_held() {
        let first = RateLimit::shared("us-east-1 test-a", Some(10.0));
        let second = RateLimit::shared("us-east-1 test-a", Some(10.0));
        let other_region = RateLimit::shared("eu-west-1 test-a", Some(10.0));
        let other_rate = RateLimit::shared("us-east-1 test-a", Some(5.0));
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert!(!Arc::ptr_eq(&first.0, &other_region.0));
        assert!(!Arc::ptr_eq(&first.0, &other_rate.0));
        let weak = Arc::downgrade(&first.0);
        drop((first, second));
        assert!(weak.upgrade().is_none(), "released when unheld");
        assert_eq!(
            RateLimit::shared("us-east-1 test-a", None).requests_per_second(),
            None
        );
        // A budget no one holds leaves the registry at the next insertion (this test's or a
        // concurrent one's); one held stays.
        let registered = |key: &str| {
            let shared = SHARED.lock().unwrap();
            shared
                .as_ref()
                .is_some_and(|shared| shared.contains_key(key))
        };
        drop(RateLimit::shared("us-east-1 test-b", Some(10.0)));
        let held = RateLimit::shared("us-east-1 test-c", Some(10.0));
        assert!(!registered("us-east-1 test-b @10/s"));
        drop(RateLimit::shared("us-east-1 test-d", Some(10.0)));
        assert!(registered("us-east-1 test-c @10/s"));
        drop(held);
    }

    /// A positive, finite rate is a budget; anything else lifts the limit.
    #[test]
    fn rates_that_are_not_positive_numbers_lift_the_limit() {
        assert_eq!(RateLimit::new(Some(2.5)).requests_per_second(), Some(2.5));
        for rate in [
            None,
            Some(0.0),
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ] {
            assert_eq!(RateLimit::new(rate).requests_per_second(), None, "{rate:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn holders_of_one_budget_share_its_slots() {
        let a = RateLimit::new(Some(10.0));
        let b = a.clone();
        let started = Instant::now();
        for _ in 0..5 {
            a.acquire().await;
            b.acquire().await;
        }
        // Ten starts at 10 a second: the last 0.9 s after the first.
        assert_eq!(started.elapsed(), Duration::from_millis(900));
    }
}
