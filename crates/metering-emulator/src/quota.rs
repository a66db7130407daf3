//! The service's request quota: 10 `BatchMeterUsage` requests per second per account and
//! Region. The emulator serves one account, so one bucket covers every request.

use tokio::time::Instant;

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
}
