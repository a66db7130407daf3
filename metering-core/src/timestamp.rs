//! The moment usage happened, in UTC, with the service's wire forms.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Rule, ValidationError};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Nanoseconds since the epoch of `-9999-01-01T00:00:00Z` and `9999-12-31T23:59:59.999999999Z`,
/// the range of `time` without its `large-dates` feature (checked in the tests).
const MIN_NANOS: i128 = -377_705_116_800 * NANOS_PER_SECOND;
const MAX_NANOS: i128 = 253_402_300_800 * NANOS_PER_SECOND - 1;
const NANOS_PER_HOUR: i128 = 3600 * NANOS_PER_SECOND;

/// A UTC instant with nanosecond precision, within the years -9999..=9999.
///
/// On the wire it is epoch seconds (a JSON number, with a fraction when it has one, as the
/// AWS SDKs send it); RFC 3339 strings are accepted when reading too. It is held as
/// nanoseconds since the epoch, so comparing and hour arithmetic (done for every record
/// planned) are integer operations.
///
/// ```
/// use std::time::Duration;
/// use metering_core::Timestamp;
///
/// let at = Timestamp::parse_rfc3339("2026-05-12T10:05:30Z")?;
/// assert_eq!(at.hour_start(), Timestamp::parse_rfc3339("2026-05-12T10:00:00Z")?);
/// assert_eq!(at.month_start(), Timestamp::parse_rfc3339("2026-05-01T00:00:00Z")?);
/// assert_eq!(at.saturating_add(Duration::from_secs(30)).unix_seconds(), at.unix_seconds() + 30);
/// assert!(Timestamp::parse_rfc3339("2026-05-12 10:05").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    nanos: i128,
}

impl Timestamp {
    /// The current time from the system clock.
    #[must_use]
    pub fn now() -> Self {
        Self::from(OffsetDateTime::now_utc())
    }

    /// From whole seconds since the Unix epoch.
    ///
    /// ```
    /// use metering_core::Timestamp;
    ///
    /// let at = Timestamp::from_unix_seconds(1_778_580_300)?;
    /// assert_eq!(at, Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
    /// assert_eq!(at.unix_seconds(), 1_778_580_300);
    /// assert!(Timestamp::from_unix_seconds(i64::MAX).is_err()); // past the year 9999
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When the value is outside the years -9999..=9999.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, ValidationError> {
        Self::from_unix_nanos(i128::from(seconds) * NANOS_PER_SECOND)
            .map_err(|_| ValidationError::new("Timestamp", Rule::Timestamp, seconds))
    }

    /// From nanoseconds since the Unix epoch.
    ///
    /// ```
    /// use metering_core::Timestamp;
    ///
    /// let at = Timestamp::from_unix_nanos(1_778_580_300_250_000_000)?;
    /// assert_eq!(at, Timestamp::parse_rfc3339("2026-05-12T10:05:00.25Z")?);
    /// assert_eq!(at.unix_nanos(), 1_778_580_300_250_000_000);
    /// assert_eq!(at.unix_seconds(), 1_778_580_300); // rounded down
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When the value is outside the years -9999..=9999.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, ValidationError> {
        if (MIN_NANOS..=MAX_NANOS).contains(&nanos) {
            Ok(Self { nanos })
        } else {
            Err(ValidationError::new("Timestamp", Rule::Timestamp, nanos))
        }
    }

    /// Parses an RFC 3339 date-time such as `2026-11-26T10:15:00Z`.
    ///
    /// # Errors
    /// When `text` is not RFC 3339.
    pub fn parse_rfc3339(text: &str) -> Result<Self, ValidationError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from)
            .map_err(|_| ValidationError::new("Timestamp", Rule::Timestamp, text))
    }

    /// Whole seconds since the Unix epoch (rounded down).
    #[must_use]
    pub fn unix_seconds(self) -> i64 {
        // Within the years -9999..=9999 the seconds fit an i64 with room to spare.
        i64::try_from(self.nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or_default()
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_nanos(self) -> i128 {
        self.nanos
    }

    /// The start of the UTC hour this instant falls in: the service de-duplicates per hour.
    #[must_use]
    pub const fn hour_start(self) -> Self {
        Self {
            nanos: self.nanos - self.nanos.rem_euclid(NANOS_PER_HOUR),
        }
    }

    /// The start of the UTC month this instant falls in.
    #[must_use]
    pub fn month_start(self) -> Self {
        let date = self.as_offset_date_time().date();
        Self::from(date.replace_day(1).unwrap_or(date).midnight().assume_utc())
    }

    /// The instant as a `time` value in UTC.
    ///
    /// ```
    /// use metering_core::Timestamp;
    ///
    /// let at = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?.as_offset_date_time();
    /// assert_eq!((at.year(), u8::from(at.month()), at.day(), at.hour()), (2026, 5, 12, 10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn as_offset_date_time(self) -> OffsetDateTime {
        // The range is `time`'s own, so the conversion cannot fail.
        OffsetDateTime::from_unix_timestamp_nanos(self.nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// This instant moved later by `duration` (saturating at the end of year 9999).
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        let nanos = self
            .nanos
            .saturating_add(i128::try_from(duration.as_nanos()).unwrap_or(i128::MAX));
        Self {
            nanos: nanos.min(MAX_NANOS),
        }
    }

    /// This instant moved earlier by `duration` (saturating at the start of year -9999).
    ///
    /// ```
    /// use std::time::Duration;
    /// use metering_core::Timestamp;
    ///
    /// let at = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// assert_eq!(at.saturating_sub(Duration::from_hours(24)), Timestamp::parse_rfc3339("2026-05-11T10:05:00Z")?);
    /// assert!(at.saturating_sub(Duration::MAX) < at); // the earliest instant, not a panic
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let nanos = self
            .nanos
            .saturating_sub(i128::try_from(duration.as_nanos()).unwrap_or(i128::MAX));
        Self {
            nanos: nanos.max(MIN_NANOS),
        }
    }

    /// How far `self` lies after `earlier`; zero when it does not.
    ///
    /// ```
    /// use std::time::Duration;
    /// use metering_core::Timestamp;
    ///
    /// let (ten, eleven) = (Timestamp::parse_rfc3339("2026-05-12T10:00:00Z")?, Timestamp::parse_rfc3339("2026-05-12T11:30:00Z")?);
    /// assert_eq!(eleven.duration_since(ten), Duration::from_mins(90));
    /// assert_eq!(ten.duration_since(eleven), Duration::ZERO);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn duration_since(self, earlier: Self) -> Duration {
        let nanos = u128::try_from(self.nanos - earlier.nanos).unwrap_or_default();
        Duration::new(
            u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
            u32::try_from(nanos % 1_000_000_000).unwrap_or_default(),
        )
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Self {
        Self {
            nanos: value.unix_timestamp_nanos().clamp(MIN_NANOS, MAX_NANOS),
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(value: SystemTime) -> Self {
        Self::from(OffsetDateTime::from(value))
    }
}

impl From<Timestamp> for SystemTime {
    fn from(value: Timestamp) -> Self {
        value.as_offset_date_time().into()
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339, e.g. `2026-11-26T10:15:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let instant = self.as_offset_date_time();
        match instant.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{instant}"),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    /// Epoch seconds: an integer for whole seconds, otherwise a number with a fraction.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nanos = self.unix_nanos();
        if nanos % NANOS_PER_SECOND == 0 {
            serializer.serialize_i64(self.unix_seconds())
        } else {
            // Whole seconds and the fraction apart, so that a fraction like .25 stays exact;
            // the fraction to the microsecond (as it is read), since a double of today's
            // seconds rounds nanoseconds .999999999 up into the next second and hour.
            #[allow(clippy::cast_precision_loss, reason = "the wire form is a JSON number")]
            let seconds = self.unix_seconds() as f64
                + (nanos.rem_euclid(NANOS_PER_SECOND) / 1000) as f64 / 1e6;
            serializer.serialize_f64(seconds)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Epoch seconds (integer or fraction, rounded to the microsecond) or RFC 3339.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Fractional(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => Self::from_unix_seconds(seconds),
            Raw::Fractional(seconds) if seconds.is_finite() && seconds.abs() < 1e12 => {
                #[allow(clippy::cast_possible_truncation, reason = "bounded just above")]
                let micros = (seconds * 1e6).round() as i128;
                Self::from_unix_nanos(micros * 1000)
            }
            Raw::Fractional(seconds) => {
                Err(ValidationError::new("Timestamp", Rule::Timestamp, seconds))
            }
            Raw::Text(text) => Self::parse_rfc3339(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let t: Timestamp = serde_json::from_str("1764151200").unwrap();
        assert_eq!(t.to_string(), "2025-11-26T10:00:00Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "1764151200");
        let rfc: Timestamp = serde_json::from_str("\"2025-11-26T11:00:00+01:00\"").unwrap();
        assert_eq!(rfc, t);
        let fractional: Timestamp = serde_json::from_str("1764151200.25").unwrap();
        assert_eq!(fractional.unix_nanos(), 1_764_151_200_250_000_000);
        assert_eq!(serde_json::to_string(&fractional).unwrap(), "1764151200.25");
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn out_of_range_seconds_are_shown_as_given() {
        // Epoch milliseconds, a usual mistake in a usage file: shown as typed, not in nanos.
        let error = Timestamp::from_unix_seconds(1_795_690_800_000).unwrap_err();
        assert!(
            error.to_string().ends_with("(value: \"1795690800000\")"),
            "{error}"
        );
    }

    #[test]
    fn a_second_last_nanoseconds_stay_in_it_on_the_wire() {
        let t = Timestamp::parse_rfc3339("2026-11-26T10:59:59.999999999Z").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "1795690799.999999");
    }

    #[test]
    fn the_range_is_times_own() {
        for nanos in [MIN_NANOS, MAX_NANOS] {
            let instant = Timestamp::from_unix_nanos(nanos).unwrap();
            assert_eq!(
                OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap(),
                instant.as_offset_date_time()
            );
        }
        assert!(Timestamp::from_unix_nanos(MIN_NANOS - 1).is_err());
        assert!(Timestamp::from_unix_nanos(MAX_NANOS + 1).is_err());
        let max = Timestamp::from_unix_nanos(MAX_NANOS).unwrap();
        assert_eq!(max.saturating_add(Duration::from_hours(1)), max);
        assert_eq!(max.to_string(), "9999-12-31T23:59:59.999999999Z");
        let min = Timestamp::from_unix_nanos(MIN_NANOS).unwrap();
        assert_eq!(min.saturating_sub(Duration::from_hours(1)), min);
        assert_eq!(max.duration_since(min).as_secs(), 631_107_417_599);
        assert_eq!(min.duration_since(max), Duration::ZERO);
    }

    #[test]
    fn hour_and_month() {
        let t = Timestamp::parse_rfc3339("2026-03-31T23:59:59.5Z").unwrap();
        assert_eq!(t.hour_start().to_string(), "2026-03-31T23:00:00Z");
        assert_eq!(t.month_start().to_string(), "2026-03-01T00:00:00Z");
    }
}
