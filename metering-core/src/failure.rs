//! Why a request failed as a whole, typed so a program can act on it and a ledger can
//! store it.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The exceptions `BatchMeterUsage` models, and any other code the service answers with.
///
/// Serialized as the service spells it (`"ThrottlingException"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InternalServiceErrorException`: a service-side failure; safe to resend.
    InternalServiceError,
    /// `ThrottlingException`: over the account's request rate; resend later.
    Throttling,
    /// `DisabledApiException`: the API is not enabled in the region.
    DisabledApi,
    /// `InvalidProductCodeException`: the request's product code is unknown.
    InvalidProductCode,
    /// `InvalidUsageDimensionException`: a record's dimension is not the product's.
    InvalidUsageDimension,
    /// `InvalidTagException`: an allocation's tags break a rule.
    InvalidTag,
    /// `InvalidUsageAllocationsException`: a record's allocations break a rule.
    InvalidUsageAllocations,
    /// `InvalidCustomerIdentifierException`: a record's customer is unknown.
    InvalidCustomerIdentifier,
    /// `InvalidLicenseException`: a record's licence is unknown or not the customer's.
    InvalidLicense,
    /// `TimestampOutOfBoundsException`: a record's timestamp is outside what the service
    /// accepts.
    TimestampOutOfBounds,
    /// A code the service model does not list for `BatchMeterUsage` (e.g.
    /// `ValidationException`).
    Other(String),
}

impl ErrorCode {
    /// Every modelled code, for parsing.
    const MODELLED: [Self; 10] = [
        Self::InternalServiceError,
        Self::Throttling,
        Self::DisabledApi,
        Self::InvalidProductCode,
        Self::InvalidUsageDimension,
        Self::InvalidTag,
        Self::InvalidUsageAllocations,
        Self::InvalidCustomerIdentifier,
        Self::InvalidLicense,
        Self::TimestampOutOfBounds,
    ];

    /// The code as the service spells it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::InternalServiceError => "InternalServiceErrorException",
            Self::Throttling => "ThrottlingException",
            Self::DisabledApi => "DisabledApiException",
            Self::InvalidProductCode => "InvalidProductCodeException",
            Self::InvalidUsageDimension => "InvalidUsageDimensionException",
            Self::InvalidTag => "InvalidTagException",
            Self::InvalidUsageAllocations => "InvalidUsageAllocationsException",
            Self::InvalidCustomerIdentifier => "InvalidCustomerIdentifierException",
            Self::InvalidLicense => "InvalidLicenseException",
            Self::TimestampOutOfBounds => "TimestampOutOfBoundsException",
            Self::Other(code) => code,
        }
    }

    /// What to do about a request rejected with this code; `None` for a code this library
    /// does not know (the transport then decides, e.g. by HTTP status).
    ///
    /// ```
    /// use metering_core::{ErrorCode, FailureKind};
    ///
    /// assert_eq!(ErrorCode::Throttling.kind(), Some(FailureKind::Retry));
    /// assert_eq!(ErrorCode::InvalidTag.kind(), Some(FailureKind::RejectedRecords));
    /// assert_eq!(ErrorCode::InvalidProductCode.kind(), Some(FailureKind::Stop));
    /// let unknown: ErrorCode = "SomethingNewException".into();
    /// assert_eq!((unknown.as_str(), unknown.kind()), ("SomethingNewException", None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> Option<FailureKind> {
        Some(match self {
            Self::InternalServiceError | Self::Throttling => FailureKind::Retry,
            Self::InvalidUsageDimension
            | Self::InvalidTag
            | Self::InvalidUsageAllocations
            | Self::InvalidCustomerIdentifier
            | Self::InvalidLicense
            | Self::TimestampOutOfBounds => FailureKind::RejectedRecords,
            Self::DisabledApi | Self::InvalidProductCode => FailureKind::Stop,
            // The generic AWS answer to a request that breaks a field rule.
            Self::Other(code) if code == "ValidationException" => FailureKind::RejectedRecords,
            Self::Other(_) => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = std::convert::Infallible;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(Self::MODELLED
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or_else(|| Self::Other(code.to_owned())))
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        let Ok(code) = code.parse();
        code
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(String::deserialize(deserializer)?.as_str().into())
    }
}

/// How a failed request should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// Throttling, a 5xx, a timeout, a dropped connection: send the same request again.
    Retry,
    /// The whole request was rejected because of some of its records: find them.
    RejectedRecords,
    /// Nothing will succeed until someone acts (invalid product code, disabled API,
    /// missing credentials): stop, and keep every record.
    Stop,
}

/// A request that failed as a whole: what to do about it, the service's code and its
/// message.
///
/// It shows as `code: message`, once and short; the error it came from (for the AWS
/// transport, the SDK's error with the raw response) stays reachable as
/// [`source()`](Error::source). It serializes without that source, so a ledger can store
/// it; equality ignores the source too.
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    kind: FailureKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    code: Option<ErrorCode>,
    message: String,
    #[serde(skip)]
    source: Option<Arc<dyn Error + Send + Sync>>,
}

impl Failure {
    /// A failure to handle as `kind`, described by `message`.
    ///
    /// ```
    /// use std::error::Error;
    /// use metering_core::{Failure, FailureKind};
    ///
    /// // A transport's own failure: a dropped connection is sent again.
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    /// let failure = Failure::new(FailureKind::Retry, "connection lost").with_source(io);
    /// assert_eq!(failure.kind(), FailureKind::Retry);
    /// assert_eq!(failure.code(), None);
    /// assert_eq!(failure.source().map(ToString::to_string).as_deref(), Some("reset by peer"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    /// The service answered `code`: handled as the code says ([`ErrorCode::kind`]), or
    /// stopped on for a code this library does not know.
    ///
    /// ```
    /// use metering_core::{Failure, FailureKind};
    ///
    /// let throttled = Failure::service("ThrottlingException", "Rate exceeded");
    /// assert_eq!(throttled.kind(), FailureKind::Retry);
    /// assert_eq!(throttled.code().map(|code| code.as_str()), Some("ThrottlingException"));
    /// assert_eq!(throttled.message(), "Rate exceeded");
    /// assert_eq!(throttled.to_string(), "ThrottlingException: Rate exceeded");
    /// // A code this library does not know: nothing is sent again until someone looks.
    /// assert_eq!(Failure::service("SomethingNewException", "...").kind(), FailureKind::Stop);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        let code = code.into();
        let kind = code.kind().unwrap_or(FailureKind::Stop);
        Self::new(kind, message).with_code(code)
    }

    /// With the service's error code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<ErrorCode>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// With the error this failure came from, for [`source()`](Error::source).
    #[must_use]
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// This failure of a one-record request, told about the caller's records: the
    /// service's `UsageRecords[0]` (the record's place in the request the planner made)
    /// becomes `input[17]`, its place in what the caller submitted (`input[3,17]` for
    /// merged records).
    #[cfg(feature = "submit")]
    #[must_use]
    pub(crate) fn about_input(mut self, inputs: &[usize]) -> Self {
        const PLACE: &str = "UsageRecords[";
        let Some(start) = self.message.find(PLACE) else {
            return self;
        };
        let input = input_place(inputs);
        let mut message = String::with_capacity(self.message.len());
        let mut rest = &self.message[..];
        let mut at = Some(start);
        while let Some(found) = at {
            message.push_str(&rest[..found]);
            let after = &rest[found + PLACE.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && after[digits..].starts_with(']') {
                message.push_str(&input);
                rest = &after[digits + 1..];
            } else {
                message.push_str(PLACE);
                rest = after;
            }
            at = rest.find(PLACE);
        }
        message.push_str(rest);
        self.message = message;
        self
    }

    /// This failure, told about a record kept back unsent because the service rejected the
    /// caller's records `proof` for the same `what` (a dimension, a customer, tags).
    #[cfg(feature = "submit")]
    #[must_use]
    pub(crate) fn proven_by(mut self, proof: &[usize], what: &str) -> Self {
        self.message = format!(
            "{} (not sent: the service rejected {} for the same {what})",
            self.message,
            input_place(proof)
        );
        self
    }

    /// How to handle it.
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The service's error code, when the service answered with one.
    #[must_use]
    pub fn code(&self) -> Option<&ErrorCode> {
        self.code.as_ref()
    }

    /// What went wrong: the service's message, or what kept the request from it.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The caller's records by their positions in what was submitted: `input[3,17]`.
#[cfg(feature = "submit")]
fn input_place(inputs: &[usize]) -> String {
    let positions: Vec<String> = inputs.iter().map(ToString::to_string).collect();
    format!("input[{}]", positions.join(","))
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) if self.message.is_empty() => write!(f, "{code}"),
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source (an SDK error with the whole HTTP response) is left out: it is
        // reachable through `source()`, and would bury the message.
        f.debug_struct("Failure")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.code, &self.message) == (other.kind, &other.code, &other.message)
    }
}

impl Eq for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_spelling() {
        for code in ErrorCode::MODELLED {
            assert_eq!(ErrorCode::from(code.as_str()), code);
            assert!(code.kind().is_some(), "{code} has a handling");
        }
        assert_eq!(
            ErrorCode::from("ValidationException").kind(),
            Some(FailureKind::RejectedRecords)
        );
        assert_eq!(ErrorCode::from("SomethingNew").kind(), None);
    }

    #[test]
    fn a_failure_shows_code_and_message_once_and_keeps_its_source() {
        let source = std::io::Error::other("the raw response");
        let failure =
            Failure::service("InvalidUsageDimensionException", "bad dimension").with_source(source);
        assert_eq!(failure.kind(), FailureKind::RejectedRecords);
        assert_eq!(
            failure.to_string(),
            "InvalidUsageDimensionException: bad dimension"
        );
        assert_eq!(failure.source().unwrap().to_string(), "the raw response");
        let json = serde_json::to_string(&failure).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"RejectedRecords","code":"InvalidUsageDimensionException","message":"bad dimension"}"#
        );
        let back: Failure = serde_json::from_str(&json).unwrap();
        assert_eq!(back, failure);
        assert!(back.source().is_none());
    }

    #[cfg(feature = "submit")]
    #[test]
    fn a_place_in_a_split_request_becomes_the_callers_record() {
        let failure = Failure::service(
            ErrorCode::InvalidTag,
            "UsageRecords[0].UsageAllocations[1].Tags[0].Key: bad; UsageRecords[x] UsageRecords[12]",
        );
        assert_eq!(
            failure.about_input(&[3, 17]).message(),
            "input[3,17].UsageAllocations[1].Tags[0].Key: bad; UsageRecords[x] input[3,17]"
        );
        let plain = Failure::service(ErrorCode::InvalidTag, "no place named");
        assert_eq!(plain.clone().about_input(&[4]), plain);
    }
}
