#![doc = include_str!("../README.md")]
//!
//! ## Features
//!
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use metering_core::*;

/// The derive macros: `Dimension`, `UsageTags` and `ToTagValue`, each named after the trait
/// it implements, as serde's are.
#[cfg(feature = "derive")]
pub use metering_derive::{Dimension, ToTagValue, UsageTags};
