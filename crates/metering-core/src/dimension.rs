//! The trait a seller's enum of dimensions implements, usually by `#[derive(Dimension)]`.

/// A product's usage dimensions as a Rust type: each value names one dimension key.
///
/// Derive it rather than writing it: the derive checks every key against the service's
/// rules at compile time.
pub trait Dimension: Copy + Eq + std::hash::Hash + Send + Sync + 'static {
    /// Every dimension, in declaration order (the meter sends zero-usage records for each).
    const ALL: &'static [Self];

    /// The dimension key the service knows this dimension by.
    fn key(self) -> &'static str;
}
