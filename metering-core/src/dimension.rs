//! The trait a seller's enum of dimensions implements, usually by `#[derive(Dimension)]`.

use crate::builder::RecordBuilder;
use crate::strings::DimensionKey;

/// A product's usage dimensions as a Rust type: each value names one dimension key.
///
/// Implemented by `#[derive(Dimension)]` only, which checks every key against the
/// service's rules at compile time (and, with `#[metering(catalog = "...")]`, against the
/// product's dimension list). A hand-written implementation does not compile: nothing would
/// check its keys, and a record of a key the service rejects could not be built.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a dimension enum",
    label = "not a `Dimension`",
    note = "derive `marketplace_metering::Dimension` on a fieldless enum whose variants are the product's dimensions"
)]
pub trait Dimension:
    Copy + Eq + std::hash::Hash + Send + Sync + 'static + crate::__private::DerivedDimension
{
    /// How an hour's quantity is made from what was recorded: [`kind::Sum`] (the default),
    /// [`kind::Max`], [`kind::Distinct`] or [`kind::Level`], from the derive's
    /// `#[metering(kind = "...")]`. It decides how the meter records this dimension.
    ///
    /// [`kind::Sum`]: crate::kind::Sum
    /// [`kind::Max`]: crate::kind::Max
    /// [`kind::Distinct`]: crate::kind::Distinct
    /// [`kind::Level`]: crate::kind::Level
    type Kind: crate::kind::DimensionKind;

    /// Every dimension, in declaration order (the meter sends zero-usage records for each).
    const ALL: &'static [Self];

    /// The dimension key the service knows this dimension by, as a string: what
    /// [`key`](Self::key) holds.
    fn as_str(self) -> &'static str;

    /// The dimension key the service knows this dimension by, as the validated type a
    /// [`UsageRecord`](crate::UsageRecord) holds (`record.dimension() == &dimension.key()`).
    ///
    /// # Panics
    /// Never for the derive's implementations, the only ones that compile: their keys were
    /// checked at compile time.
    #[must_use]
    fn key(self) -> DimensionKey {
        DimensionKey::new(self.as_str()).expect("the derive checked every key at compile time")
    }

    /// The dimension whose key is `key`, if there is one.
    #[must_use]
    fn from_key(key: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|dimension| dimension.as_str() == key)
    }

    /// The dimension whose key is `key`, or an error naming the value and, when one is
    /// close (a typo, or a difference in case only), the key it probably meant: for keys
    /// read from configuration. `str::parse` does the same through the derived `FromStr`.
    ///
    /// # Errors
    /// [`UnknownDimension`] when no variant has the key.
    fn parse_key(key: &str) -> Result<Self, UnknownDimension> {
        Self::from_key(key).ok_or_else(|| {
            let keys: Vec<&'static str> = Self::ALL.iter().map(|d| d.as_str()).collect();
            UnknownDimension {
                value: key.to_owned(),
                suggestion: metering_rules::closest(key, keys.iter().copied()),
                expected: keys,
            }
        })
    }

    /// Starts a record of this dimension: add a customer, a time and a quantity (or
    /// allocations), then `build()`. A part left out, or given twice, does not compile.
    fn record(self) -> RecordBuilder<Self> {
        RecordBuilder::new(self)
    }
}

/// A dimension key that no variant of the enum names (see [`Dimension::parse_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownDimension {
    /// The key as given.
    pub value: String,
    /// The enum's key closest to it, when one is close enough to be a likely typo.
    pub suggestion: Option<&'static str>,
    /// Every key of the enum.
    pub expected: Vec<&'static str>,
}

impl std::fmt::Display for UnknownDimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown dimension {:?}: ", self.value)?;
        if let Some(suggestion) = self.suggestion {
            let case = if suggestion.eq_ignore_ascii_case(&self.value) {
                " (keys are case-sensitive)"
            } else {
                ""
            };
            return write!(f, "did you mean {suggestion:?}?{case}");
        }
        f.write_str("expected one of ")?;
        for (index, key) in self.expected.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownDimension {}
