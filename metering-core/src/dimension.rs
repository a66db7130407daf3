//! The trait a seller's enum of dimensions implements, usually by `#[derive(Dimension)]`.

use crate::builder::RecordBuilder;
use crate::strings::DimensionKey;

/// A product's usage dimensions as a Rust type: each value names one dimension key.
///
/// Derive it rather than writing it: the derive checks every key against the service's
/// rules at compile time (and, with `#[metering(catalog = "...")]`, against the product's
/// dimension list).
pub trait Dimension: Copy + Eq + std::hash::Hash + Send + Sync + 'static {
    /// Every dimension, in declaration order (the meter sends zero-usage records for each).
    const ALL: &'static [Self];

    /// The dimension key the service knows this dimension by.
    fn key(self) -> &'static str;

    /// The dimension whose key is `key`, if there is one.
    #[must_use]
    fn from_key(key: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|dimension| dimension.key() == key)
    }

    /// The key as the validated type a [`UsageRecord`](crate::UsageRecord) holds.
    ///
    /// # Panics
    /// When [`key`](Dimension::key) returns a key the service rejects (empty, or longer
    /// than 255 characters). A derived implementation cannot: its keys were checked at
    /// compile time.
    #[must_use]
    fn dimension_key(self) -> DimensionKey {
        match DimensionKey::new(self.key()) {
            Ok(key) => key,
            Err(error) => panic!("`Dimension::key` returned a key the service rejects: {error}"),
        }
    }

    /// Starts a record of this dimension: add a customer, a time and a quantity (or
    /// allocations), then `build()`. A part left out, or given twice, does not compile.
    fn record(self) -> RecordBuilder<Self> {
        RecordBuilder::new(self)
    }
}
