#![doc = include_str!("../README.md")]

pub use metering_core::*;

/// The derive macros: `Dimension`, `UsageTags` and `TagValue` (which implements
/// [`ToTagValue`]), each sharing its name with what it implements, as serde's do.
#[cfg(feature = "derive")]
pub use metering_derive::{Dimension, TagValue, UsageTags};
