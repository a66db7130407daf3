//! The emulator's settings as a JSON file (the binary's `--config`).

use std::collections::BTreeMap;
use std::time::Duration;

use metering_core::TimePolicy;
use serde::Deserialize;

use crate::builder::Builder;
use crate::faults::Faults;
use crate::quota::Quota;

/// Settings read from JSON; every member is optional and defaults to the permissive choice.
///
/// ```
/// let config = metering_emulator::EmulatorConfig::from_json(r#"{
///     "subscribed": ["123456789012"],
///     "unsubscribed": ["999999999999"],
///     "known_dimensions": ["api_calls"],
///     "products": ["prod-example123"],
///     "licenses": {"arn:aws:license-manager::123456789012:license:l-1": "123456789012"},
///     "quota_per_second": 0.5,
///     "disabled_api": false,
///     "time": {"window_secs": 86400, "max_skew_secs": 300, "month_end_grace_secs": 21600},
///     "faults": {"seed": 7, "throttle": 0.1, "internal_error": 0.05, "drop_connection": 0.0,
///                "unprocessed": 0.1, "slow": 0.2, "slow_ms": 50}
/// }"#)?;
/// // Half a request a second still lets one through at once.
/// assert_eq!(config.quota().map(|quota| quota.burst), Some(1.0));
/// let builder = metering_emulator::Emulator::builder().config(config);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// Throttle requests beyond this many a second (absent: no quota; the service's is 10).
    pub quota_per_second: Option<f64>,
    /// Answer `DisabledApiException` to everything.
    pub disabled_api: bool,
    /// Time rules; absent members keep the service's current rules.
    pub time: TimeConfig,
    /// Faults to inject.
    pub faults: FaultsConfig,
}

/// [`TimePolicy`] in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeConfig {
    /// How long after the event a record is accepted (default 86400).
    pub window_secs: Option<u64>,
    /// How far ahead of the clock a timestamp may be (default 300).
    pub max_skew_secs: Option<u64>,
    /// How long into a month the previous month stays open (default 21600); `0` turns the
    /// rule off.
    pub month_end_grace_secs: Option<u64>,
}

/// [`Faults`] with the delay in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// Seeds the draws.
    pub seed: u64,
    /// Share throttled.
    pub throttle: f64,
    /// Share failing with HTTP 500.
    pub internal_error: f64,
    /// Share whose connection is dropped.
    pub drop_connection: f64,
    /// Share with records returned unprocessed.
    pub unprocessed: f64,
    /// Share delayed by `slow_ms`.
    pub slow: f64,
    /// The delay of slow requests.
    pub slow_ms: u64,
}

impl EmulatorConfig {
    /// Reads the JSON form.
    ///
    /// # Errors
    /// Malformed JSON, or a member this type does not have.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The time rules this configuration describes.
    #[must_use]
    pub fn time_policy(&self) -> TimePolicy {
        let mut policy = TimePolicy::new();
        if let Some(window) = self.time.window_secs {
            policy = policy.with_window(Duration::from_secs(window));
        }
        if let Some(skew) = self.time.max_skew_secs {
            policy = policy.with_max_skew(Duration::from_secs(skew));
        }
        if let Some(grace) = self.time.month_end_grace_secs {
            policy = policy.with_month_end_grace((grace > 0).then(|| Duration::from_secs(grace)));
        }
        policy
    }

    /// The request quota this configuration describes: `quota_per_second` requests a
    /// second, as many at once (at least one).
    #[must_use]
    pub fn quota(&self) -> Option<Quota> {
        self.quota_per_second.map(Quota::per_second)
    }

    /// The faults this configuration describes.
    #[must_use]
    pub fn faults(&self) -> Faults {
        let f = &self.faults;
        Faults {
            seed: f.seed,
            throttle: f.throttle,
            internal_error: f.internal_error,
            drop_connection: f.drop_connection,
            unprocessed: f.unprocessed,
            slow: (f.slow, Duration::from_millis(f.slow_ms)),
        }
    }
}

impl Builder {
    /// Applies every setting of `config` (the clock and the address are set apart).
    #[must_use]
    pub fn config(mut self, config: EmulatorConfig) -> Self {
        self = self
            .time_policy(config.time_policy())
            .faults(config.faults())
            .disabled_api(config.disabled_api)
            .quota(config.quota())
            .unsubscribed(config.unsubscribed);
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
