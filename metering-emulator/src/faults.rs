//! Fault injection: shares of requests that fail, seeded so that a run can be replayed.

use std::time::Duration;

use serde::Deserialize;

use crate::error::EmulatorError;

/// Which faults to inject, as shares (0.0..=1.0) of `BatchMeterUsage` requests.
///
/// Each request draws once from a generator seeded with `seed` and the request's sequence
/// number (its arrival order since start), so the same seed and the same sequence of requests
/// replay the same faults. The four failing outcomes exclude each other (their shares must add
/// up to at most 1); `slow` is drawn apart and delays a request whatever else happens to it.
///
/// ```
/// use std::time::Duration;
/// use metering_emulator::Faults;
///
/// let faults = Faults { seed: 7, throttle: 0.1, slow: 0.5, slow_delay: Duration::from_millis(20), ..Faults::none() };
/// assert!(faults.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Seeds the draws.
    pub seed: u64,
    /// Answered `ThrottlingException` (HTTP 400).
    pub throttle: f64,
    /// Answered `InternalServiceErrorException` (HTTP 500).
    pub internal_error: f64,
    /// The connection is closed without an answer (after the request was read; nothing is
    /// billed).
    pub drop_connection: f64,
    /// Processed with some records (at least one, each with probability 1/2) left out and
    /// returned in `UnprocessedRecords`, unbilled.
    pub unprocessed: f64,
    /// Delayed by [`Faults::slow_delay`] before it is answered.
    pub slow: f64,
    /// The delay of slow requests (in JSON `slow_ms`, in milliseconds).
    #[serde(rename = "slow_ms", deserialize_with = "millis")]
    pub slow_delay: Duration,
}

fn millis<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

/// What the draw decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Throttle,
    InternalError,
    DropConnection,
    /// Carries the draw that picks the records.
    Unprocessed(u64),
}

impl Faults {
    /// No faults.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            seed: 0,
            throttle: 0.0,
            internal_error: 0.0,
            drop_connection: 0.0,
            unprocessed: 0.0,
            slow: 0.0,
            slow_delay: Duration::ZERO,
        }
    }

    /// Checks every share is within 0..=1 and the failing ones add up to at most 1.
    ///
    /// # Errors
    /// The share out of range.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let shares = [
            ("faults.throttle", self.throttle),
            ("faults.internal_error", self.internal_error),
            ("faults.drop_connection", self.drop_connection),
            ("faults.unprocessed", self.unprocessed),
            ("faults.slow", self.slow),
        ];
        for (field, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(EmulatorError::Config {
                    field,
                    rule: "must be a share within 0.0..=1.0",
                    value: share.to_string(),
                });
            }
        }
        let failing = self.throttle + self.internal_error + self.drop_connection + self.unprocessed;
        if failing > 1.0 + f64::EPSILON {
            return Err(EmulatorError::Config {
                field: "faults",
                rule: "throttle + internal_error + drop_connection + unprocessed must be at most 1.0",
                value: failing.to_string(),
            });
        }
        Ok(())
    }

    /// Sets one member from `NAME=VALUE`, named as in the configuration: a share for
    /// `throttle`, `internal_error`, `drop_connection`, `unprocessed` or `slow`, milliseconds
    /// for `slow_ms`, a number for `seed` (what a command line's `--fault` takes). Call
    /// [`validate`](Self::validate) once every member is set.
    ///
    /// ```
    /// use metering_emulator::Faults;
    ///
    /// let mut faults = Faults::none();
    /// faults.set("throttle=0.1")?;
    /// faults.set("slow_ms=200")?;
    /// assert_eq!(faults.throttle, 0.1);
    /// assert!(faults.set("jitter=0.5").unwrap_err().to_string().contains("throttle"));
    /// # Ok::<(), metering_emulator::EmulatorError>(())
    /// ```
    ///
    /// # Errors
    /// [`EmulatorError::Config`] naming the member: no `=`, an unknown name, or a value
    /// that is not a number.
    pub fn set(&mut self, setting: &str) -> Result<(), EmulatorError> {
        let invalid = |field, rule| EmulatorError::Config {
            field,
            rule,
            value: setting.to_owned(),
        };
        let names = "must be NAME=VALUE, NAME one of throttle, internal_error, \
                     drop_connection, unprocessed, slow (shares), slow_ms (milliseconds), seed";
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| invalid("faults", names))?;
        let share = |field| {
            value
                .parse::<f64>()
                .map_err(|_| invalid(field, "must be a share within 0.0..=1.0"))
        };
        match name {
            "throttle" => self.throttle = share("faults.throttle")?,
            "internal_error" => self.internal_error = share("faults.internal_error")?,
            "drop_connection" => self.drop_connection = share("faults.drop_connection")?,
            "unprocessed" => self.unprocessed = share("faults.unprocessed")?,
            "slow" => self.slow = share("faults.slow")?,
            "slow_ms" => {
                let millis = value
                    .parse()
                    .map_err(|_| invalid("faults.slow_ms", "must be whole milliseconds"))?;
                self.slow_delay = Duration::from_millis(millis);
            }
            "seed" => {
                self.seed = value
                    .parse()
                    .map_err(|_| invalid("faults.seed", "must be a whole number"))?;
            }
            _ => return Err(invalid("faults", names)),
        }
        Ok(())
    }

    /// The fault, and the delay, for request number `sequence`.
    pub(crate) fn draw(&self, sequence: u64) -> (Option<Fault>, Option<Duration>) {
        let base = mix(self.seed ^ mix(sequence));
        let slow = (unit(mix(base ^ 0x51_0e)) < self.slow).then_some(self.slow_delay);
        let roll = unit(base);
        let mut edge = 0.0;
        let mut hit = |share: f64| {
            edge += share;
            roll < edge
        };
        let fault = if hit(self.throttle) {
            Some(Fault::Throttle)
        } else if hit(self.internal_error) {
            Some(Fault::InternalError)
        } else if hit(self.drop_connection) {
            Some(Fault::DropConnection)
        } else if hit(self.unprocessed) {
            Some(Fault::Unprocessed(mix(base ^ 0x0dd)))
        } else {
            None
        };
        (fault, slow)
    }
}

/// Which of `count` records an `Unprocessed(draw)` fault leaves out: each with probability
/// 1/2, and at least one.
pub(crate) fn unprocessed_records(draw: u64, count: usize) -> Vec<bool> {
    let mut picked: Vec<bool> = (0..count as u64)
        .map(|index| mix(draw ^ mix(index)) & 1 == 1)
        .collect();
    if count > 0 && !picked.contains(&true) {
        let index = usize::try_from(draw % count as u64).unwrap_or(0);
        picked[index] = true;
    }
    picked
}

/// `SplitMix64`'s finaliser: a fast, well-mixed, stable hash of a `u64`.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in `0.0..1.0` from 53 bits of `bits`.
#[allow(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_honoured_and_replayable() {
        let faults = Faults {
            seed: 42,
            throttle: 0.2,
            internal_error: 0.1,
            drop_connection: 0.1,
            unprocessed: 0.1,
            slow: 0.3,
            slow_delay: Duration::from_millis(1),
        };
        let draws: Vec<_> = (0..10_000).map(|n| faults.draw(n)).collect();
        let throttled = draws
            .iter()
            .filter(|d| d.0 == Some(Fault::Throttle))
            .count();
        let failed = draws
            .iter()
            .filter(|d| d.0 == Some(Fault::InternalError))
            .count();
        let slow = draws.iter().filter(|d| d.1.is_some()).count();
        assert!((1800..2200).contains(&throttled), "{throttled}");
        assert!((800..1200).contains(&failed), "{failed}");
        assert!((2700..3300).contains(&slow), "{slow}");
        let again: Vec<_> = (0..10_000).map(|n| faults.draw(n)).collect();
        assert_eq!(draws, again);
        let other = Faults { seed: 43, ..faults };
        assert_ne!(
            draws,
            (0..10_000).map(|n| other.draw(n)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn no_faults_by_default() {
        assert!((0..1000).all(|n| Faults::default().draw(n) == (None, None)));
        let all = Faults {
            throttle: 1.0,
            ..Faults::none()
        };
        assert!((0..1000).all(|n| all.draw(n).0 == Some(Fault::Throttle)));
    }

    #[test]
    fn unprocessed_picks_at_least_one() {
        for draw in 0..200 {
            let picked = unprocessed_records(draw, 3);
            assert!(picked.contains(&true));
        }
        assert!(unprocessed_records(9, 0).is_empty());
        let many = unprocessed_records(5, 1000).iter().filter(|p| **p).count();
        assert!((400..600).contains(&many), "{many}");
    }

    #[test]
    fn invalid_shares_are_named() {
        let err = Faults {
            throttle: 0.7,
            internal_error: 0.7,
            ..Faults::none()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("at most 1.0"), "{err}");
        let err = Faults {
            slow: 1.5,
            ..Faults::none()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().starts_with("faults.slow"), "{err}");
    }
}
