//! What the SDK tests share.

use aws_sdk_marketplacemetering as sdk;
use metering_emulator::RunningEmulator;
use sdk::config::retry::RetryConfig;

/// The real SDK client, pointed at `emulator`, without retries.
pub(crate) fn client(emulator: &RunningEmulator) -> sdk::Client {
    let config = emulator
        .sdk_config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    sdk::Client::from_conf(config)
}
