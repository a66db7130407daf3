//! The [`Transport`] over the real `aws-sdk-marketplacemetering` client.

use aws_sdk_marketplacemetering::Client;
use aws_sdk_marketplacemetering::config::retry::RetryConfig;
use aws_sdk_marketplacemetering::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_marketplacemetering::operation::batch_meter_usage::BatchMeterUsageError;
use aws_sdk_marketplacemetering::types as sdk;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;

use crate::customer::RequestScope;
use crate::failure::{ErrorCode, Failure, FailureKind};
use crate::plan::PlannedRequest;
use crate::record::UsageRecord;
use crate::strings::{CustomerAwsAccountId, CustomerIdentifier};
use crate::submit::{RecordStatus, Response, Transport};

/// Sends requests with the AWS SDK client: it resolves the endpoint, signs, sends and
/// parses the answer, as for any SDK call.
///
/// The request body is this library's own serialization of the planned request, put in
/// place of the SDK's before signing. SDK 1.124 cannot write that body itself: it sends
/// `"CustomerIdentifier":""` on every record (even beside `CustomerAWSAccountId`, which
/// the service documents as exclusive), and it has no field for the model's decimal
/// quantities (`QuantityAsDecimal`). The client's own retries are turned off: the
/// submitter owns the retry budget, so the two do not multiply.
///
/// Feature `aws`.
#[derive(Clone)]
pub struct AwsTransport {
    client: Client,
}

impl std::fmt::Debug for AwsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's configuration holds credentials: never printed.
        f.debug_struct("AwsTransport").finish_non_exhaustive()
    }
}

/// Named as the SDK names its client's constructors (`Client::new`, `Client::from_conf`).
impl AwsTransport {
    /// A transport configured the way AWS SDK users expect: region and credentials from
    /// the environment, profile, or instance role (`aws_config::load_defaults`).
    ///
    /// ```no_run
    /// // `no_run`: it reads this machine's AWS configuration, and may ask the instance
    /// // metadata service on the network for a region and credentials.
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use metering_core::{AwsTransport, Submitter};
    ///
    /// let submitter = Submitter::new(AwsTransport::from_env().await);
    /// assert!(submitter.transport().client().config().region().is_some());
    /// # }
    /// ```
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(&config)
    }

    /// A transport from a loaded `aws_config::SdkConfig`, as `Client::new` takes it.
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::from_conf(aws_sdk_marketplacemetering::Config::new(config))
    }

    /// A transport from the service's own client configuration (e.g. with `endpoint_url`
    /// set to the emulator), as `Client::from_conf` takes it. Its retries are turned off
    /// (see [`AwsTransport`]).
    ///
    /// ```
    /// use aws_sdk_marketplacemetering::config::{BehaviorVersion, Credentials, Region};
    /// use metering_core::AwsTransport;
    ///
    /// let config = aws_sdk_marketplacemetering::Config::builder()
    ///     .behavior_version(BehaviorVersion::latest())
    ///     .region(Region::new("us-east-1"))
    ///     .credentials_provider(Credentials::for_tests())
    ///     .endpoint_url("http://127.0.0.1:4566") // an emulator, say
    ///     .build();
    /// let transport = AwsTransport::from_conf(config);
    /// let used = transport.client().config();
    /// assert_eq!(used.region().map(|r| r.as_ref()), Some("us-east-1"));
    /// assert_eq!(used.retry_config().map(|r| r.max_attempts()), Some(1)); // the submitter retries
    /// ```
    #[must_use]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the SDK's `Client::from_conf` shape"
    )]
    pub fn from_conf(config: aws_sdk_marketplacemetering::Config) -> Self {
        let config = config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }

    /// The client requests go through.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Transport for AwsTransport {
    /// The region: the service's quota is per account and region, and a process usually
    /// sends as one account.
    fn quota_key(&self) -> Option<String> {
        let region = self.client.config().region().map(ToString::to_string);
        Some(format!(
            "aws-marketplace-metering:{}",
            region.unwrap_or_default()
        ))
    }

    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        let body = request.body().into_bytes();
        let length = body.len().to_string();
        let product = match request.scope() {
            RequestScope::Product(product) => Some(product.as_str().to_owned()),
            RequestScope::Licensed => None,
        };
        let output = self
            .client
            .batch_meter_usage()
            .set_product_code(product)
            .set_usage_records(Some(Vec::new()))
            .customize()
            .mutate_request(move |http| {
                *http.body_mut() = SdkBody::from(body.clone());
                http.headers_mut().insert("content-length", length.clone());
            })
            .send()
            .await
            .map_err(classify)?;
        // The service answers in request order, so the record after the last one matched
        // is tried first; a full search covers any other order.
        let records = request.records();
        let mut expected = 0;
        let mut position = |echo: Option<&sdk::UsageRecord>| {
            let echo = echo?;
            let index = (expected < records.len() && same_key(&records[expected], echo))
                .then_some(expected)
                .or_else(|| records.iter().position(|record| same_key(record, echo)))?;
            expected = index + 1;
            Some(index)
        };
        let mut response = Response::default();
        for result in output.results.unwrap_or_default() {
            let Some(index) = position(result.usage_record.as_ref()) else {
                continue;
            };
            let status = match result.status {
                Some(sdk::UsageRecordResultStatus::Success) => {
                    RecordStatus::Success(result.metering_record_id.unwrap_or_default())
                }
                Some(sdk::UsageRecordResultStatus::CustomerNotSubscribed) => {
                    RecordStatus::CustomerNotSubscribed
                }
                Some(sdk::UsageRecordResultStatus::DuplicateRecord) => {
                    RecordStatus::DuplicateRecord
                }
                // An unknown or missing status settles nothing: the record stays unsettled
                // and is sent again, identically.
                _ => continue,
            };
            response.results.push((index, status));
        }
        response.unprocessed = output
            .unprocessed_records
            .unwrap_or_default()
            .iter()
            .filter_map(|echo| position(Some(echo)))
            .collect();
        Ok(response)
    }
}

/// Whether the service's echo of a record is `record`: within one request each
/// customer, dimension and hour appears once.
fn same_key(record: &UsageRecord, echo: &sdk::UsageRecord) -> bool {
    let hour = |seconds: i64| seconds - seconds.rem_euclid(3600);
    let customer = record.customer().wire_fields();
    let customer_matches = customer.record_fields().all(|(name, value)| {
        let echoed = match name {
            CustomerIdentifier::FIELD => Some(echo.customer_identifier()),
            CustomerAwsAccountId::FIELD => echo.customer_aws_account_id(),
            _ => echo.license_arn(),
        };
        echoed == Some(value)
    });
    customer_matches
        && echo.dimension() == record.dimension().as_str()
        && hour(echo.timestamp().secs()) == hour(record.timestamp().unix_seconds())
}

/// Sorts an SDK error into what the submitter should do about it: the service's code (by
/// the SDK's modelled variant; by the code it sent only for what the model lacks) and its
/// message once, with the SDK error kept as the source.
fn classify(error: SdkError<BatchMeterUsageError>) -> Failure {
    let failure = match &error {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let message = service.message().unwrap_or_default();
            if let Some(code) = modelled_code(service) {
                Failure::service(code, message)
            } else {
                let code = ErrorCode::from(service.code().unwrap_or("UnknownError"));
                // A 5xx the model does not name is the service's trouble: resend.
                let status = context.raw().status();
                let kind = code.kind().unwrap_or(if status.is_server_error() {
                    FailureKind::Retry
                } else {
                    FailureKind::Stop
                });
                Failure::new(kind, message).with_code(code)
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Failure::new(FailureKind::Retry, chain(&error))
        }
        // A dropped connection is `Other(TransientError)`; missing credentials are
        // `Other(None)`, and no retry will mend them.
        SdkError::DispatchFailure(failure)
            if failure.is_io()
                || failure.is_timeout()
                || failure.as_other() == Some(ErrorKind::TransientError) =>
        {
            Failure::new(FailureKind::Retry, chain(&error))
        }
        _ => Failure::new(FailureKind::Stop, chain(&error)),
    };
    failure.with_source(error)
}

/// The code of an exception the SDK models.
fn modelled_code(error: &BatchMeterUsageError) -> Option<ErrorCode> {
    Some(match error {
        BatchMeterUsageError::DisabledApiException(_) => ErrorCode::DisabledApi,
        BatchMeterUsageError::InternalServiceErrorException(_) => ErrorCode::InternalServiceError,
        BatchMeterUsageError::InvalidCustomerIdentifierException(_) => {
            ErrorCode::InvalidCustomerIdentifier
        }
        BatchMeterUsageError::InvalidLicenseException(_) => ErrorCode::InvalidLicense,
        BatchMeterUsageError::InvalidProductCodeException(_) => ErrorCode::InvalidProductCode,
        BatchMeterUsageError::InvalidTagException(_) => ErrorCode::InvalidTag,
        BatchMeterUsageError::InvalidUsageAllocationsException(_) => {
            ErrorCode::InvalidUsageAllocations
        }
        BatchMeterUsageError::InvalidUsageDimensionException(_) => ErrorCode::InvalidUsageDimension,
        BatchMeterUsageError::ThrottlingException(_) => ErrorCode::Throttling,
        BatchMeterUsageError::TimestampOutOfBoundsException(_) => ErrorCode::TimestampOutOfBounds,
        _ => return None,
    })
}

/// An error and its sources, `: `-separated, without the SDK's debug dump of the response.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use aws_sdk_marketplacemetering::config::{Credentials, Region};

    use super::AwsTransport;

    #[test]
    fn debug_never_shows_credentials() {
        let transport = AwsTransport::from_conf(
            aws_sdk_marketplacemetering::Config::builder()
                .behavior_version_latest()
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(
                    "AKIDEXAMPLE",
                    "wJalrXUtnFEMI-secret",
                    Some("session-token-secret".into()),
                    None,
                    "test",
                ))
                .build(),
        );
        let shown = format!("{transport:?}");
        for secret in [
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI-secret",
            "session-token-secret",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
