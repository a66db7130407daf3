//! The service's request quota: 10 `BatchMeterUsage` requests per second per account and
//! Region. The emulator serves one account, so one bucket covers every request.

use tokio::time::Instant;

use crate::error::EmulatorError;

/// A request quota as a token bucket: `per_second` tokens a second, at most `burst` saved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests a second, sustained.
    pub per_second: f64,
    /// Requests that may arrive at once after a quiet spell.
    pub burst: f64,
}

impl Quota {
    /// The service's quota: 10 requests a second (a second's worth may arrive at once; how
    /// the service counts bursts is not documented).
    pub const SERVICE: Self = Self {
        per_second: 10.0,
        burst: 10.0,
    };

    /// `per_second` requests a second, and as many at once (at least one: a bucket that
    /// holds less than one token would throttle every request).
    #[must_use]
    pub fn per_second(per_second: f64) -> Self {
        Self {
            per_second,
            burst: per_second.max(1.0),
        }
    }

    /// Checks the rate is positive and the burst admits at least one request.
    ///
    /// # Errors
    /// The setting out of range.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let config = |field, rule, value: f64| {
            Err(EmulatorError::Config {
                field,
                rule,
                value: value.to_string(),
            })
        };
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return config(
                "quota.per_second",
                "must be a positive number",
                self.per_second,
            );
        }
        if !(self.burst.is_finite() && self.burst >= 1.0) {
            return config(
                "quota.burst",
                "must be at least 1.0 (with less, every request is throttled)",
                self.burst,
            );
        }
        Ok(())
    }
}

/// The bucket's state.
#[derive(Debug)]
pub(crate) struct Bucket {
    quota: Quota,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota,
            tokens: quota.burst,
            last: Instant::now(),
        }
    }

    /// Takes a token for a request arriving now; `false` means throttled.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.quota.per_second;
        self.tokens = (self.tokens + refill).min(self.quota.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_sustained_rate() {
        let mut bucket = Bucket::new(Quota::SERVICE);
        let first: Vec<bool> = (0..12).map(|_| bucket.take()).collect();
        assert_eq!(first.iter().filter(|taken| **taken).count(), 10);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.take(), "one token a tenth of a second");
        assert!(!bucket.take());
        tokio::time::advance(Duration::from_mins(1)).await;
        assert_eq!(
            (0..20).filter(|_| bucket.take()).count(),
            10,
            "never more than the burst"
        );
    }

    /// A rate below one a second still lets one request through, then one per period;
    /// before the fix, `quota_per_second: 0.5` made a bucket of half a token that throttled
    /// every request forever.
    #[tokio::test(start_paused = true)]
    async fn a_slow_rate_still_serves() {
        let quota = Quota::per_second(0.5);
        assert!(quota.validate().is_ok());
        let mut bucket = Bucket::new(quota);
        assert!(bucket.take(), "the first request");
        assert!(!bucket.take());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(bucket.take(), "one token every two seconds");
        assert!(!bucket.take());
    }

    #[test]
    fn quotas_that_serve_nothing_are_refused() {
        for (per_second, burst, field) in [
            (0.5, 0.5, "quota.burst"),
            (0.0, 1.0, "quota.per_second"),
            (-1.0, 1.0, "quota.per_second"),
            (f64::NAN, 1.0, "quota.per_second"),
            (1.0, f64::INFINITY, "quota.burst"),
        ] {
            let error = Quota { per_second, burst }.validate().unwrap_err();
            assert!(error.to_string().starts_with(field), "{error}");
        }
        assert!(Quota::SERVICE.validate().is_ok());
    }
}
