//! Errors that name the field, the rule it breaks and the offending value.

use std::fmt;

use metering_rules::Violation;

use crate::quantity::Quantity;

/// A value broke a rule of the service model (or one of ours, which are stricter).
///
/// The message says which field, which rule, and which value:
/// `UsageAllocations[0].Tags[1].Key: must match ^[a-zA-Z0-9+ -=._:\/@]+$; character '?' at
/// position 3 is not allowed (value: "env?")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}{}", Shown(.rule, .value))]
pub struct ValidationError {
    /// The field, by its wire name, with the path to it inside a record.
    pub field: String,
    /// The rule the value breaks.
    pub rule: Rule,
    /// The offending value as text.
    pub value: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, rule: Rule, value: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            rule,
            value: value.to_string(),
        }
    }

    /// Places the field inside `parent`, e.g. `Key` inside `UsageAllocations[0].Tags[1]`.
    #[must_use]
    pub fn within(mut self, parent: impl fmt::Display) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// The rule a value breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// A string's length or pattern, as the service model states them.
    #[error(transparent)]
    String(#[from] Violation),
    /// A quantity outside what the service accepts.
    #[error("must be 0..=9999999999.999999, with at most 6 fraction digits")]
    Quantity,
    /// A value of the integer `Quantity` field outside its int32 range (a larger quantity
    /// travels as `QuantityAsDecimal`).
    #[error("must be an integer 0..=2147483647 (send a larger quantity as QuantityAsDecimal)")]
    IntegerQuantity,
    /// A list with too few or too many entries.
    #[error("must have {min}..={max} entries, has {actual}")]
    Count {
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
        /// The list's length.
        actual: usize,
    },
    /// Allocated quantities that do not add up to the record's quantity.
    #[error(
        "allocated quantities must sum to the record's Quantity {expected}, they sum to {actual}"
    )]
    AllocationSum {
        /// The record's quantity.
        expected: Quantity,
        /// The allocations' sum.
        actual: Quantity,
    },
    /// The same tag key twice on one allocation.
    #[error("tag keys must be unique within an allocation; this key appears more than once")]
    DuplicateTagKey,
    /// A required field is missing.
    #[error("is required")]
    Required,
    /// Two fields that exclude each other are both present.
    #[error("cannot be combined with {0}")]
    Exclusive(&'static str),
    /// A record and its allocations mixing integer and decimal quantities.
    #[error(
        "a record and its allocations must all use integer quantities or all use decimal quantities"
    )]
    MixedQuantityKinds,
    /// A value this library cannot send (yet), though the service model allows it.
    #[error("cannot be sent: {0}")]
    Unsupported(&'static str),
    /// A JSON value of the wrong type (a string where the model has an integer, an array
    /// where it has an object).
    #[error("must be {0}")]
    JsonType(&'static str),
    /// A timestamp that is not epoch seconds or RFC 3339.
    #[error("must be epoch seconds or an RFC 3339 date-time")]
    Timestamp,
    /// A member the service model does not define, in a file read strictly (a misspelt
    /// `Quantity` would otherwise bill 0); with the member it probably meant.
    #[error("is not a member the service model defines{}", DidYouMean(*.0))]
    UnknownMember(Option<&'static str>),
    /// A record's own `ProductCode` inside a request, read strictly: the service takes no
    /// product from a record, it bills every record under the request's.
    #[error(
        "is a member of the request, not of its records: the service bills every record under the request's ProductCode"
    )]
    RequestMember,
    /// A record without a quantity, in a file read strictly: the service would bill 0.
    #[error("is required (or QuantityAsDecimal in its place); a record without one bills 0")]
    QuantityRequired,
}

/// `; did you mean "X"?`, when there is an `X`.
struct DidYouMean(Option<&'static str>);

impl fmt::Display for DidYouMean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "; did you mean {name:?}?"),
            None => Ok(()),
        }
    }
}

/// Shows a value quoted, and cut short when it is long (a 2,500-allocation record would
/// otherwise flood a log line); not at all for a member that is missing or unknown, which
/// has none.
struct Shown<'a>(&'a Rule, &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 120;
        let Self(rule, value) = *self;
        if value.is_empty()
            && matches!(
                rule,
                Rule::Required | Rule::UnknownMember(_) | Rule::QuantityRequired
            )
        {
            return Ok(());
        }
        match value.char_indices().nth(MAX) {
            Some((cut, _)) => write!(
                f,
                " (value: {:?}… ({} characters))",
                &value[..cut],
                value.chars().count()
            ),
            None => write!(f, " (value: {value:?})"),
        }
    }
}
