//! What the SDK tests share.

use aws_sdk_marketplacemetering as sdk;
use metering_emulator::RunningEmulator;
use sdk::config::retry::RetryConfig;
use sdk::config::{BehaviorVersion, Credentials, Region};

/// The real SDK client, pointed at `emulator`, without retries.
pub(crate) fn client(emulator: &RunningEmulator) -> sdk::Client {
    let config = sdk::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .endpoint_url(emulator.endpoint_url())
        .retry_config(RetryConfig::disabled())
        .build();
    sdk::Client::from_conf(config)
}
