//! The moment usage happened, in UTC, with the service's wire forms.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Rule, ValidationError};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_HOUR: i64 = 3600;

/// A UTC instant with nanosecond precision.
///
/// On the wire it is epoch seconds (a JSON number, with a fraction when it has one, as the
/// AWS SDKs send it); RFC 3339 strings are accepted when reading too.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time from the system clock.
    #[must_use]
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// From whole seconds since the Unix epoch.
    ///
    /// # Errors
    /// When the value is outside the years -9999..=9999.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, ValidationError> {
        Self::from_unix_nanos(i128::from(seconds) * NANOS_PER_SECOND)
    }

    /// From nanoseconds since the Unix epoch.
    ///
    /// # Errors
    /// When the value is outside the years -9999..=9999.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, ValidationError> {
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map(Self)
            .map_err(|_| ValidationError::new("Timestamp", Rule::Timestamp, nanos))
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
        self.0.unix_timestamp()
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub fn unix_nanos(self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// The start of the UTC hour this instant falls in: the service de-duplicates per hour.
    #[must_use]
    pub fn hour_start(self) -> Self {
        let seconds = self.unix_seconds();
        let floored = seconds - seconds.rem_euclid(SECONDS_PER_HOUR);
        Self(OffsetDateTime::from_unix_timestamp(floored).unwrap_or(self.0))
    }

    /// The start of the UTC month this instant falls in.
    #[must_use]
    pub fn month_start(self) -> Self {
        let date = self.0.date().replace_day(1).unwrap_or(self.0.date());
        Self(date.midnight().assume_utc())
    }

    /// The instant as a `time` value in UTC.
    #[must_use]
    pub const fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// This instant moved later by `duration` (saturating at the end of year 9999).
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(duration.try_into().unwrap_or(time::Duration::MAX)),
        )
    }

    /// This instant moved earlier by `duration` (saturating at the start of year -9999).
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(duration.try_into().unwrap_or(time::Duration::MAX)),
        )
    }

    /// How far `self` lies after `earlier`; zero when it does not.
    #[must_use]
    pub fn duration_since(self, earlier: Self) -> Duration {
        (self.0 - earlier.0).try_into().unwrap_or_default()
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Self {
        Self(value.to_offset(time::UtcOffset::UTC))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(value: SystemTime) -> Self {
        Self(value.into())
    }
}

impl From<Timestamp> for SystemTime {
    fn from(value: Timestamp) -> Self {
        value.0.into()
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339, e.g. `2026-11-26T10:15:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}", self.0),
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
            // Whole seconds and the fraction apart, so that a fraction like .25 stays exact.
            #[allow(clippy::cast_precision_loss, reason = "the wire form is a JSON number")]
            let seconds =
                self.unix_seconds() as f64 + nanos.rem_euclid(NANOS_PER_SECOND) as f64 / 1e9;
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
    fn hour_and_month() {
        let t = Timestamp::parse_rfc3339("2026-03-31T23:59:59.5Z").unwrap();
        assert_eq!(t.hour_start().to_string(), "2026-03-31T23:00:00Z");
        assert_eq!(t.month_start().to_string(), "2026-03-01T00:00:00Z");
    }
}
