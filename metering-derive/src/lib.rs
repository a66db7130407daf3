//! Derive macros for `marketplace-metering`: typed dimensions and allocation tags, checked at compile
//! time. Use them through the `marketplace-metering` crate, which re-exports them.
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

/// Implements `marketplace_metering::Dimension` for a fieldless enum: one dimension key per variant,
/// each checked at compile time against the service's `UsageDimension` rule (1..=255
/// characters), and unique. It also implements `FromStr`, for dimension names read from
/// configuration, with a did-you-mean in its error.
///
/// ```ignore
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
/// #[metering(rename_all = "snake_case", catalog = "dimensions.json")]
/// enum Usage {
///     ApiCalls,                         // "api_calls"
///     #[metering(rename = "storage_gb_hours")]
///     Storage,
/// }
/// ```
///
/// On the enum:
/// - `rename_all = "..."`: how a variant's name becomes its key (the rules below); without
///   it, the key is the variant's name as written.
/// - `kind = "..."`: how an hour's quantity is made from what is recorded (the enum's
///   `Dimension::Kind`, which decides the meter's call): `"sum"` (the default, `.add`),
///   `"max"` (the hour's highest level, `.observe`), `"distinct"` (distinct identifiers,
///   `.mark`) or `"level"` (a level's integral over the hour, `.set`). One enum has one
///   kind: a product with dimensions of several kinds splits them over several enums.
/// - `catalog = "path.json"`: compare the keys with the product's dimension list. The path is
///   relative to the crate's directory (where its `Cargo.toml` is), and nowhere else. The
///   file is the Catalog API's `DescribeEntity` answer for a SaaS product (its
///   `DetailsDocument`, or `Details` as a JSON string, holding `Dimensions`), an object with
///   a `Dimensions` list, that list alone (`[{"Key": ..., "Types": [...]}]`), or a list of
///   keys. Each metered dimension (`Types` holding `ExternallyMetered`, or no `Types`) needs
///   a variant and each variant a metered dimension; contract dimensions (`Entitled`) are not
///   metered and need none. Editing the file rebuilds the crate.
/// - `with(OtherEnum, ...)`, beside `catalog`: the product's dimensions are split over
///   several enums (one enum has one kind, so a product of several kinds has several). This
///   enum and the ones named must together name each metered dimension of the catalog
///   once: a metered dimension none of them names, a key two of them name, and a key of
///   one of them the catalog does not meter are compile errors. Only this enum names the
///   catalog; the others need no attribute. How: a derive sees one enum, so the check is a
///   constant it writes, which the compiler evaluates with the other enums' keys (their
///   derives write them, hidden); a problem fails the evaluation ("evaluation panicked")
///   with a message naming the keys and enums. This enum's own keys are checked as
///   without `with`, each error at its variant.
///
/// ```ignore
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
/// #[metering(rename_all = "snake_case", catalog = "dimensions.json", with(Users, Hosts))]
/// enum Requests { ApiCalls }                // "api_calls", a sum
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
/// #[metering(rename_all = "snake_case", kind = "distinct")]
/// enum Users { ActiveUsers }                // "active_users"
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
/// #[metering(rename_all = "snake_case", kind = "max")]
/// enum Hosts { Hosts }                      // "hosts"
/// ```
/// - `crate = "path"`: where the runtime is, for crates that re-export `marketplace_metering`.
///
/// On a variant: `rename = "key"`, the key as written.
///
/// `rename_all` takes the rules serde takes: `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`,
/// `"camelCase"`, `"snake_case"`, `"SCREAMING_SNAKE_CASE"`, `"kebab-case"` and
/// `"SCREAMING-KEBAB-CASE"`.
///
/// `Dimension` is implemented by this derive only: a hand-written implementation, whose
/// keys nothing would check, does not compile.
#[proc_macro_derive(Dimension, attributes(metering))]
pub fn derive_dimension(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::dimension(&input).into()
}

/// Implements `marketplace_metering::UsageTags` for a struct whose named fields are the tags of an
/// allocation, keyed by field name: 1..=5 tags, each key checked at compile time against
/// the service's `TagKey` rule, and unique.
///
/// ```ignore
/// #[derive(marketplace_metering::UsageTags)]
/// #[metering(rename_all = "camelCase")]
/// struct CostTags {
///     cost_center: String,              // "costCenter", checked when the tags are built
///     #[metering(rename = "env")]
///     environment: Env,                 // a `#[derive(ToTagValue)]` enum, checked now
///     team: Option<String>,             // `None` leaves the tag out
/// }
/// ```
///
/// A field's type is anything implementing `marketplace_metering::ToTagValue` (strings,
/// `marketplace_metering::TagValue`, `#[derive(ToTagValue)]` enums), or an `Option` of one: `None`
/// leaves that tag out. An allocation needs at least one tag, so at least one field must
/// not be an `Option`.
///
/// On the struct: `rename_all = "..."` (the rules below, applied to `snake_case` field
/// names) and `crate = "path"`. On a field: `rename = "key"`.
///
/// `rename_all` takes the rules serde takes: `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`,
/// `"camelCase"`, `"snake_case"`, `"SCREAMING_SNAKE_CASE"`, `"kebab-case"` and
/// `"SCREAMING-KEBAB-CASE"`.
#[proc_macro_derive(UsageTags, attributes(metering))]
pub fn derive_usage_tags(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::usage_tags(&input).into()
}

/// Implements `marketplace_metering::ToTagValue` for a fieldless enum: one tag value per variant, each
/// checked at compile time against the service's `TagValue` rule, and unique. Named after
/// the trait it implements, as serde's derives are (`marketplace_metering::TagValue` is the validated
/// value type).
///
/// ```ignore
/// #[derive(marketplace_metering::ToTagValue)]
/// #[metering(rename_all = "lowercase")]
/// enum Env {
///     Prod,                             // "prod"
///     #[metering(rename = "dev/local")]
///     Dev,
/// }
/// ```
///
/// On the enum: `rename_all = "..."` (the rules below, applied to `PascalCase` variant
/// names) and `crate = "path"`. On a variant: `rename = "value"`.
///
/// `rename_all` takes the rules serde takes: `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`,
/// `"camelCase"`, `"snake_case"`, `"SCREAMING_SNAKE_CASE"`, `"kebab-case"` and
/// `"SCREAMING-KEBAB-CASE"`.
#[proc_macro_derive(ToTagValue, attributes(metering))]
pub fn derive_to_tag_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::tag_value(&input).into()
}
