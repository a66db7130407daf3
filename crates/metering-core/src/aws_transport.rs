//! The [`Transport`] over the real `aws-sdk-marketplacemetering` client.

use std::sync::LazyLock;

use aws_sdk_marketplacemetering::Client;
use aws_sdk_marketplacemetering::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_marketplacemetering::config::retry::RetryConfig;
use aws_sdk_marketplacemetering::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_marketplacemetering::error::{
    BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError,
};
use aws_sdk_marketplacemetering::operation::batch_meter_usage::BatchMeterUsageError;
use aws_sdk_marketplacemetering::types as sdk;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use memchr::memmem::Finder;

use crate::customer::{Customer, RequestScope};
use crate::error::ValidationError;
use crate::plan::PlannedRequest;
use crate::record::UsageRecord;
use crate::submit::{Failure, FailureKind, RecordStatus, Response, Transport};

/// Sends requests with the AWS SDK client.
///
/// The client's own retries are turned off (this library's submitter owns the retry
/// budget, so the two do not multiply), and an interceptor removes the empty
/// `"CustomerIdentifier":""` that SDK 1.124 sends on every record.
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

impl AwsTransport {
    /// A transport configured the way AWS SDK users expect: region and credentials from
    /// the environment, profile, or instance role (`aws_config::load_defaults`).
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_sdk_config(&config)
    }

    /// A transport from a loaded `aws_config::SdkConfig`.
    #[must_use]
    pub fn from_sdk_config(config: &aws_config::SdkConfig) -> Self {
        Self::from_config(aws_sdk_marketplacemetering::config::Builder::from(config))
    }

    /// A transport from a client configuration (e.g. with `endpoint_url` set to the
    /// emulator).
    #[must_use]
    pub fn from_config(config: aws_sdk_marketplacemetering::config::Builder) -> Self {
        let config = config
            .retry_config(RetryConfig::disabled())
            .interceptor(OmitEmptyCustomerIdentifier)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }

    /// A transport from an existing client, keeping its configuration but for the
    /// retries and the interceptor described on [`AwsTransport`].
    #[must_use]
    pub fn from_client(client: &Client) -> Self {
        Self::from_config(client.config().to_builder())
    }

    /// The client requests go through.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Transport for AwsTransport {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        let records = request
            .records()
            .iter()
            .map(sdk::UsageRecord::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Failure {
                kind: FailureKind::RejectedRecords,
                code: None,
                message: error.to_string(),
            })?;
        let mut call = self
            .client
            .batch_meter_usage()
            .set_usage_records(Some(records));
        if let RequestScope::Product(product) = request.scope() {
            call = call.product_code(product.as_str());
        }
        let output = call.send().await.map_err(|error| classify(&error))?;
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

    fn check(&self, record: &UsageRecord) -> Result<(), ValidationError> {
        crate::aws::check_sendable(record)
    }
}

/// Whether the service's echo of a record is `record`: within one request each
/// customer, dimension and hour appears once.
fn same_key(record: &UsageRecord, echo: &sdk::UsageRecord) -> bool {
    let hour = |seconds: i64| seconds - seconds.rem_euclid(3600);
    let customer_matches = match record.customer() {
        Customer::Legacy { identifier, .. } => echo.customer_identifier() == identifier.as_str(),
        Customer::Account { account, .. } => {
            echo.customer_aws_account_id() == Some(account.as_str())
        }
        Customer::Licensed { account, license } => {
            echo.customer_aws_account_id() == Some(account.as_str())
                && echo.license_arn() == Some(license.as_str())
        }
    };
    customer_matches
        && echo.dimension() == record.dimension().as_str()
        && hour(echo.timestamp().secs()) == hour(record.timestamp().unix_seconds())
}

/// Sorts an SDK error into what the submitter should do about it.
fn classify(error: &SdkError<BatchMeterUsageError>) -> Failure {
    let message = DisplayErrorContext(error).to_string();
    let code = error.code().map(str::to_owned);
    let kind = match error {
        SdkError::ServiceError(context) => match context.err().code() {
            Some("ThrottlingException" | "InternalServiceErrorException") => FailureKind::Retry,
            Some(
                "TimestampOutOfBoundsException"
                | "InvalidTagException"
                | "InvalidUsageAllocationsException"
                | "InvalidUsageDimensionException"
                | "InvalidLicenseException"
                | "InvalidCustomerIdentifierException"
                | "ValidationException",
            ) => FailureKind::RejectedRecords,
            _ if context.raw().status().is_server_error() => FailureKind::Retry,
            _ => FailureKind::Stop,
        },
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => FailureKind::Retry,
        // A dropped connection is `Other(TransientError)`; missing credentials are
        // `Other(None)`, and no retry will mend them.
        SdkError::DispatchFailure(failure)
            if failure.is_io()
                || failure.is_timeout()
                || failure.as_other() == Some(ErrorKind::TransientError) =>
        {
            FailureKind::Retry
        }
        _ => FailureKind::Stop,
    };
    Failure {
        kind,
        code,
        message,
    }
}

/// Removes `"CustomerIdentifier":""` from the request body before it is signed.
///
/// SDK 1.124 models the field as a plain `String` and always sends it, even beside
/// `CustomerAWSAccountId`, which the service documents as mutually exclusive.
#[derive(Debug)]
struct OmitEmptyCustomerIdentifier;

const EMPTY_IDENTIFIER: &[u8] = br#""CustomerIdentifier":"""#;

static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(EMPTY_IDENTIFIER));

impl Intercept for OmitEmptyCustomerIdentifier {
    fn name(&self) -> &'static str {
        "OmitEmptyCustomerIdentifier"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let Some(body) = request.body().bytes() else {
            return Ok(());
        };
        let Some(stripped) = omit_empty_identifier(body) else {
            return Ok(());
        };
        let length = stripped.len().to_string();
        *request.body_mut() = SdkBody::from(stripped);
        request.headers_mut().insert("content-length", length);
        Ok(())
    }
}

/// The body without its `"CustomerIdentifier":""` members, or `None` when it has none.
///
/// Matching bytes is exact here: inside a JSON string every `"` is escaped, so the
/// sequence can only be a member (a key with an empty string value).
fn omit_empty_identifier(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    let mut found = false;
    while let Some(at) = FINDER.find(rest) {
        found = true;
        let after = &rest[at + EMPTY_IDENTIFIER.len()..];
        if let Some(after_comma) = after.strip_prefix(b",") {
            out.extend_from_slice(&rest[..at]);
            rest = after_comma;
        } else {
            // The last member: drop the comma before it instead, if there is one.
            let before = &rest[..at];
            out.extend_from_slice(before.strip_suffix(b",").unwrap_or(before));
            rest = after;
        }
    }
    found.then(|| {
        out.extend_from_slice(rest);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::omit_empty_identifier;

    #[test]
    fn removes_every_empty_identifier_and_its_comma() {
        let cases = [
            (
                r#"{"CustomerIdentifier":"","Dimension":"d"}"#,
                r#"{"Dimension":"d"}"#,
            ),
            (
                r#"{"Dimension":"d","CustomerIdentifier":""}"#,
                r#"{"Dimension":"d"}"#,
            ),
            (
                r#"{"a":1,"CustomerIdentifier":"","b":2}"#,
                r#"{"a":1,"b":2}"#,
            ),
            (
                r#"[{"CustomerIdentifier":""},{"CustomerIdentifier":"","x":1}]"#,
                r#"[{},{"x":1}]"#,
            ),
        ];
        for (body, expected) in cases {
            let out = omit_empty_identifier(body.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn keeps_real_identifiers_and_escaped_lookalikes() {
        for body in [
            r#"{"CustomerIdentifier":"abc"}"#,
            r#"{"Dimension":"\"CustomerIdentifier\":\"\""}"#,
        ] {
            assert_eq!(omit_empty_identifier(body.as_bytes()), None, "{body}");
        }
    }
}
