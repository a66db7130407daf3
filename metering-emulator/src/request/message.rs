//! Exceptions and their messages, worded as AWS words them.

use std::fmt;

use metering_core::{ValidationError, Violation};

use crate::error::{ErrorKind, ServiceError};

/// Where in the request a member sits, formatted only when an error needs it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct At {
    record: Option<usize>,
    allocation: Option<usize>,
}

impl At {
    pub(super) fn record(index: usize) -> Self {
        Self {
            record: Some(index),
            allocation: None,
        }
    }

    pub(super) fn allocation(self, index: usize) -> Self {
        Self {
            allocation: Some(index),
            ..self
        }
    }

    /// `name` inside this place: `UsageRecords[0].Dimension`.
    pub(super) fn member(self, name: &str) -> String {
        if self.record.is_some() {
            format!("{self}.{name}")
        } else {
            name.to_owned()
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(record) = self.record {
            write!(f, "UsageRecords[{record}]")?;
        }
        if let Some(allocation) = self.allocation {
            write!(f, ".UsageAllocations[{allocation}]")?;
        }
        Ok(())
    }
}

/// A `ValidationException` for a body of `len` bytes, 1 MB or more.
pub(crate) fn too_large(len: usize) -> ServiceError {
    validation_exception(&[format!(
        "Request body of {len} bytes failed to satisfy constraint: Request must be less than 1 MB ({} bytes)",
        metering_core::limits::MAX_REQUEST_BYTES
    )])
}

pub(super) fn validation_exception(problems: &[String]) -> ServiceError {
    let count = problems.len();
    let plural = if count == 1 { "error" } else { "errors" };
    ServiceError::new(
        ErrorKind::Validation,
        format!(
            "{count} validation {plural} detected: {}",
            problems.join("; ")
        ),
    )
}

/// One AWS-style constraint message.
pub(super) fn constraint(value: &str, path: &str, rule: &str) -> String {
    format!("Value {value} at '{path}' failed to satisfy constraint: {rule}")
}

/// A [`Violation`] as AWS words it.
pub(super) fn constraint_rule(violation: &Violation) -> String {
    match violation {
        Violation::TooShort { min, .. } => {
            format!("Member must have length greater than or equal to {min}")
        }
        Violation::TooLong { max, .. } => {
            format!("Member must have length less than or equal to {max}")
        }
        Violation::Pattern { pattern, .. } => {
            format!("Member must satisfy regular expression pattern: {pattern}")
        }
    }
}

pub(super) fn serialization(what: impl std::fmt::Display, expected: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Serialization,
        format!("{what}: expected {expected}"),
    )
}

pub(super) fn invalid(kind: impl Into<ErrorKind>, error: &ValidationError) -> ServiceError {
    ServiceError::new(kind, error.to_string())
}
