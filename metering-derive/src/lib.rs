//! Derive macros for `metering`: typed dimensions and allocation tags, checked at compile
//! time. Use them through the `metering` crate, which re-exports them.
//!
//! Each derive runs the same pipeline: `ast` takes a borrowed view of the input and its
//! `#[metering(...)]` attributes (`attr`), `check` applies the service's rules (from
//! `metering-rules`, the definitions the runtime uses too) and collects every error in a
//! context (`ctxt`), and `expand` writes the impl, or stub impls beside the errors so that
//! one mistake gives one message.

mod ast;
mod attr;
mod case;
mod catalog;
mod check;
mod ctxt;
mod expand;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `metering::Dimension` for a fieldless enum: one dimension key per variant,
/// checked at compile time.
///
/// Attributes: on the enum `#[metering(rename_all = "...", catalog = "path.json",
/// crate = "...")]`, on a variant `#[metering(rename = "...")]`.
#[proc_macro_derive(Dimension, attributes(metering))]
pub fn derive_dimension(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::dimension(&input).into()
}

/// Implements `metering::UsageTags` for a struct whose 1..=5 named fields are the tags of
/// an allocation, keyed by field name.
///
/// Attributes: on the struct `#[metering(rename_all = "...", crate = "...")]`, on a field
/// `#[metering(rename = "...")]`.
#[proc_macro_derive(UsageTags, attributes(metering))]
pub fn derive_usage_tags(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::usage_tags(&input).into()
}

/// Implements `metering::ToTagValue` for a fieldless enum: one tag value per variant,
/// checked at compile time.
///
/// Attributes: on the enum `#[metering(rename_all = "...", crate = "...")]`, on a variant
/// `#[metering(rename = "...")]`.
#[proc_macro_derive(ToTagValue, attributes(metering))]
pub fn derive_to_tag_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::tag_value(&input).into()
}
