//! The errors the emulator answers with, as the service does, and the errors of the emulator
//! itself.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use metering_core::ErrorCode;

/// An exception of the service (or of the AWS JSON protocol), as `__type` names it.
///
/// The exceptions `BatchMeterUsage` models are the client library's own list,
/// [`ErrorCode`], so the emulator answers with exactly the codes the submitter handles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An exception `BatchMeterUsage` models (`InvalidTagException`,
    /// `ThrottlingException`, ...): HTTP 500 for `InternalServiceErrorException`, the model's
    /// one fault, 400 for the others.
    Metering(ErrorCode),
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
    /// The name the body's `__type` and the `x-amzn-ErrorType` header carry.
    #[must_use]
    pub fn type_name(&self) -> &str {
        match self {
            Self::Metering(code) => code.as_str(),
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
    pub fn status(&self) -> u16 {
        match self {
            Self::Metering(ErrorCode::InternalServiceError) => 500,
            Self::RequestTimeout => 408,
            _ => 400,
        }
    }
}

impl From<ErrorCode> for ErrorKind {
    fn from(code: ErrorCode) -> Self {
        Self::Metering(code)
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
    pub fn new(kind: impl Into<ErrorKind>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
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
    #[error(
        "cannot bind {addr}: {source}; choose another address (`bind(...)`, `--bind`; port 0 picks a free one)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file cannot be read.
    #[error("{}: cannot read: {source}; check the path", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file is not an `EmulatorConfig`.
    #[error("{}: {source}; see the emulator's README for the configuration's members", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        source: serde_json::Error,
    },
    /// Ctrl-C cannot be watched for.
    #[error("cannot watch for Ctrl-C: {0}")]
    Signal(std::io::Error),
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
    use metering_core::ErrorCode;

    use super::ErrorKind;

    /// Read from the service model, not copied by hand: every exception `BatchMeterUsage` and
    /// `ResolveCustomer` declare has a kind, each of `BatchMeterUsage`'s is the client's
    /// own code, and its status is 500 exactly when the model calls it a fault.
    #[test]
    fn every_exception_of_the_model_has_a_kind_and_its_status() {
        let model: serde_json::Value = serde_json::from_str(include_str!(
            "../../metering-core/tests/aws-model/meteringmarketplace-2016-01-14.service-2.json"
        ))
        .unwrap();
        let [metering, resolve] = ["BatchMeterUsage", "ResolveCustomer"].map(|operation| {
            model["operations"][operation]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|error| error["shape"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        });
        assert!(!metering.is_empty() && !resolve.is_empty());
        let own = [ErrorKind::InvalidToken, ErrorKind::ExpiredToken];
        for name in metering.iter().chain(&resolve) {
            let kind = match ErrorCode::from(name.as_str()) {
                ErrorCode::Other(_) => own
                    .iter()
                    .find(|kind| kind.type_name() == name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name} has no ErrorKind")),
                code => ErrorKind::Metering(code),
            };
            assert_eq!(kind.type_name(), name);
            let fault = model["shapes"][name.as_str()]["fault"].as_bool() == Some(true);
            assert_eq!(kind.status(), if fault { 500 } else { 400 }, "{name}");
        }
    }
}
