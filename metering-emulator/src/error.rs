//! The errors the emulator answers with, as the service does, and the errors of the emulator
//! itself.

use std::fmt;
use std::net::SocketAddr;

/// An exception of the service (or of the AWS JSON protocol), as `__type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `InternalServiceErrorException` (HTTP 500): a fault on the service's side.
    InternalServiceError,
    /// `ThrottlingException` (HTTP 400).
    Throttling,
    /// `DisabledApiException` (HTTP 400): the API is disabled in the region.
    DisabledApi,
    /// `InvalidProductCodeException` (HTTP 400).
    InvalidProductCode,
    /// `InvalidUsageDimensionException` (HTTP 400).
    InvalidUsageDimension,
    /// `InvalidTagException` (HTTP 400).
    InvalidTag,
    /// `InvalidUsageAllocationsException` (HTTP 400).
    InvalidUsageAllocations,
    /// `InvalidCustomerIdentifierException` (HTTP 400).
    InvalidCustomerIdentifier,
    /// `InvalidLicenseException` (HTTP 400).
    InvalidLicense,
    /// `TimestampOutOfBoundsException` (HTTP 400): rejects the whole request.
    TimestampOutOfBounds,
    /// `ValidationException` (HTTP 400): a constraint of the model that has no exception of
    /// its own (26 records, a 256-character dimension, a body of 1 MB or more, ...).
    Validation,
    /// `SerializationException` (HTTP 400): the body is not JSON, or a field has the wrong
    /// JSON type.
    Serialization,
    /// `UnknownOperationException` (HTTP 400): a target other than `BatchMeterUsage` and
    /// `ResolveCustomer`.
    UnknownOperation,
    /// `MissingAuthenticationTokenException` (HTTP 400): an unsigned request.
    MissingAuthenticationToken,
    /// `RequestTimeoutException` (HTTP 408): the request's body did not arrive in time.
    RequestTimeout,
    /// `InvalidTokenException` (HTTP 400): `ResolveCustomer` with a token never issued.
    InvalidToken,
    /// `ExpiredTokenException` (HTTP 400): `ResolveCustomer` with a token that expired or
    /// was already resolved.
    ExpiredToken,
}

impl ErrorKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [Self; 17] = [
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
        Self::Validation,
        Self::Serialization,
        Self::UnknownOperation,
        Self::MissingAuthenticationToken,
        Self::RequestTimeout,
        Self::InvalidToken,
        Self::ExpiredToken,
    ];

    /// The name the body's `__type` and the `x-amzn-ErrorType` header carry.
    #[must_use]
    pub const fn type_name(self) -> &'static str {
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
            Self::Validation => "ValidationException",
            Self::Serialization => "SerializationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::RequestTimeout => "RequestTimeoutException",
            Self::InvalidToken => "InvalidTokenException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }

    /// The HTTP status: 500 for the model's one fault, 408 for a request that did not arrive
    /// in time, 400 for everything else.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            Self::InternalServiceError => 500,
            Self::RequestTimeout => 408,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// A whole request rejected with an exception: its kind and the message the body carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ServiceError {
    /// The exception.
    pub kind: ErrorKind,
    /// The `message` of the body.
    pub message: String,
}

impl ServiceError {
    /// An exception with its message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The AWS JSON 1.1 error body: `{"__type": ..., "message": ...}`.
    #[must_use]
    pub fn body(&self) -> String {
        serde_json::json!({ "__type": self.kind.type_name(), "message": self.message }).to_string()
    }
}

/// Why the emulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A non-loopback address without the explicit permission.
    #[error(
        "bind address {0} is not a loopback address; allow it explicitly (`allow_non_loopback(true)`, `--allow-non-loopback`)"
    )]
    NonLoopback(SocketAddr),
    /// Binding the listener failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A configuration value out of range.
    #[error("{field}: {rule} (value: {value})")]
    Config {
        /// The setting.
        field: &'static str,
        /// The rule it breaks.
        rule: &'static str,
        /// The offending value.
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    /// Read from the service model, not copied by hand: every exception `BatchMeterUsage` and
    /// `ResolveCustomer` declare has a kind, and its status is 500 exactly when the model
    /// calls it a fault.
    #[test]
    fn every_exception_of_the_model_has_a_kind_and_its_status() {
        let model: serde_json::Value = serde_json::from_str(include_str!(
            "../../metering-core/tests/aws-model/meteringmarketplace-2016-01-14.service-2.json"
        ))
        .unwrap();
        let errors = ["BatchMeterUsage", "ResolveCustomer"].map(|operation| {
            model["operations"][operation]["errors"]
                .as_array()
                .unwrap()
                .clone()
        });
        assert!(errors.iter().all(|errors| !errors.is_empty()));
        for error in errors.iter().flatten() {
            let name = error["shape"].as_str().unwrap();
            let kind = ErrorKind::ALL
                .into_iter()
                .find(|kind| kind.type_name() == name)
                .unwrap_or_else(|| panic!("{name} has no ErrorKind"));
            let fault = model["shapes"][name]["fault"].as_bool() == Some(true);
            assert_eq!(kind.status(), if fault { 500 } else { 400 }, "{name}");
        }
    }
}
