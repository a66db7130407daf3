//! The emulator's settings as a JSON file (the binary's `--config`), read straight into the
//! types the builder takes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use metering_core::TimePolicy;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::builder::Builder;
use crate::faults::Faults;
use crate::quota::Quota;
use crate::registration::Registration;

/// Settings read from JSON; every member is optional and defaults to the permissive choice.
///
/// ```
/// use std::time::Duration;
/// use metering_emulator::{EmulatorConfig, Quota};
///
/// let config = EmulatorConfig::from_json(r#"{
///     "subscribed": ["123456789012"],
///     "unsubscribed": ["999999999999"],
///     "known_dimensions": ["api_calls"],
///     "products": ["prod-example123"],
///     "licenses": {"arn:aws:license-manager::123456789012:license:l-1": "123456789012"},
///     "quota_per_second": 0.5,
///     "disabled_api": false,
///     "time": {"window_secs": 86400, "max_skew_secs": 300, "month_end_grace_secs": 21600},
///     "faults": {"seed": 7, "throttle": 0.1, "internal_error": 0.05, "drop_connection": 0.0,
///                "unprocessed": 0.1, "slow": 0.2, "slow_ms": 50},
///     "registrations": [{"token": "tok-1", "customer_aws_account_id": "123456789012",
///                        "product_code": "prod-example123",
///                        "license_arn": "arn:aws:license-manager::123456789012:license:l-1"}]
/// }"#)?;
/// // Half a request a second still lets one through at once.
/// assert_eq!(config.quota, Some(Quota::per_second(0.5)));
/// assert_eq!(config.faults.slow_delay, Duration::from_millis(50));
/// assert_eq!(config.registrations[0].token, "tok-1");
/// let builder = metering_emulator::Emulator::builder().config(config);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Only these customers are subscribed (absent: every customer is).
    pub subscribed: Option<Vec<String>>,
    /// These customers are not subscribed.
    pub unsubscribed: Vec<String>,
    /// Only these dimensions are known (absent: every dimension is).
    pub known_dimensions: Option<Vec<String>>,
    /// Only these product codes are known (absent: every product is).
    pub products: Option<Vec<String>>,
    /// Only these licences exist, each to its account (absent: every licence does).
    pub licenses: Option<BTreeMap<String, String>>,
    /// The request quota; in JSON `quota_per_second`, that many requests a second and as
    /// many at once ([`Quota::per_second`]). Absent: no quota (the service's is 10).
    #[serde(rename = "quota_per_second", deserialize_with = "quota")]
    pub quota: Option<Quota>,
    /// Answer `DisabledApiException` to everything.
    pub disabled_api: bool,
    /// The time rules; in JSON `window_secs`, `max_skew_secs` and `month_end_grace_secs`
    /// (`0` turns the month-end rule off). Absent members keep the service's current rules.
    #[serde(deserialize_with = "time_policy")]
    pub time: TimePolicy,
    /// Faults to inject.
    pub faults: Faults,
    /// Registration tokens `ResolveCustomer` resolves.
    pub registrations: Vec<Registration>,
}

impl EmulatorConfig {
    /// Reads the JSON form.
    ///
    /// # Errors
    /// Malformed JSON, or a member this type does not have.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

fn quota<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Quota>, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.map(Quota::per_second))
}

/// Reads a [`TimePolicy`] member by member onto the service's current rules.
fn time_policy<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimePolicy, D::Error> {
    const FIELDS: &[&str] = &["window_secs", "max_skew_secs", "month_end_grace_secs"];
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = TimePolicy;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of time rules in seconds")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TimePolicy, A::Error> {
            let mut policy = TimePolicy::new();
            while let Some(key) = map.next_key::<String>()? {
                let mut secs = || map.next_value::<u64>().map(Duration::from_secs);
                policy = match key.as_str() {
                    "window_secs" => policy.with_window(secs()?),
                    "max_skew_secs" => policy.with_max_skew(secs()?),
                    "month_end_grace_secs" => {
                        policy.with_month_end_grace(Some(secs()?).filter(|grace| !grace.is_zero()))
                    }
                    other => return Err(de::Error::unknown_field(other, FIELDS)),
                };
            }
            Ok(policy)
        }
    }
    deserializer.deserialize_map(Members)
}

impl Builder {
    /// Applies every setting of `config` (the clock and the address are set apart).
    #[must_use]
    pub fn config(mut self, config: EmulatorConfig) -> Self {
        self = self
            .time_policy(config.time)
            .faults(config.faults)
            .disabled_api(config.disabled_api)
            .quota(config.quota)
            .unsubscribed(config.unsubscribed)
            .registrations(config.registrations);
        if let Some(subscribed) = config.subscribed {
            self = self.subscribed(subscribed);
        }
        if let Some(dimensions) = config.known_dimensions {
            self = self.known_dimensions(dimensions);
        }
        if let Some(products) = config.products {
            self = self.products(products);
        }
        if let Some(licenses) = config.licenses {
            self = self.licenses(licenses);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_read_into_the_builders_types() {
        let config = EmulatorConfig::from_json(
            r#"{"quota_per_second": 4, "time": {"window_secs": 21600, "month_end_grace_secs": 0},
                "faults": {"seed": 3, "unprocessed": 0.25, "slow": 0.5, "slow_ms": 20}}"#,
        )
        .unwrap();
        assert_eq!(config.quota, Some(Quota::per_second(4.0)));
        assert_eq!(
            config.time,
            TimePolicy::new()
                .with_window(Duration::from_hours(6))
                .with_month_end_grace(None)
        );
        assert_eq!(
            config.faults,
            Faults {
                seed: 3,
                unprocessed: 0.25,
                slow: 0.5,
                slow_delay: Duration::from_millis(20),
                ..Faults::none()
            }
        );
        assert_eq!(
            EmulatorConfig::from_json("{}").unwrap(),
            EmulatorConfig::default()
        );
        assert_eq!(EmulatorConfig::default().time, TimePolicy::new());
    }

    #[test]
    fn unknown_members_are_named() {
        for (json, member) in [
            (r#"{"quota": 1}"#, "`quota`"),
            (r#"{"time": {"window": 1}}"#, "`window`"),
            (r#"{"faults": {"slow_secs": 1}}"#, "`slow_secs`"),
        ] {
            let error = EmulatorConfig::from_json(json).unwrap_err().to_string();
            assert!(error.contains(member), "{json}: {error}");
        }
    }
}
