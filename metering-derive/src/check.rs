//! The service's rules, applied at compile time with the definitions the runtime uses
//! (`metering-rules`). Every broken rule is recorded; nothing stops at the first.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use metering_rules::catalog::{Catalog, NotMetered, quoted_list};
use metering_rules::{DIMENSION, StringRule, TAG_KEY, TAG_VALUE, limits};
use syn::Ident;

use crate::ast::{Enum, Key, TagStruct};
use crate::catalog;
use crate::ctxt::Ctxt;

/// Checks a dimension enum; returns the catalog file it was compared with, if any, and
/// what it lists: the expansion makes the build depend on the file, and checks the enums of
/// `with(...)` against the list.
pub(crate) fn dimension(cx: &Ctxt, input: &Enum<'_>) -> Option<(PathBuf, Catalog)> {
    if let syn::Data::Enum(data) = &input.input.data
        && data.variants.is_empty()
    {
        cx.error_spanned_by(
            &input.input.ident,
            "a `#[derive(Dimension)]` enum needs at least one variant: a product has at least \
             one dimension",
        );
    }
    let items = input.variants.iter().map(|v| (&v.key, v.ident));
    keys(cx, items, &DIMENSION, "dimension key", "variant");
    let Some(catalog) = input.attrs.catalog.as_ref() else {
        if let Some(first) = input.attrs.with.first() {
            cx.error_spanned_by(
                first,
                "`with(...)` names the enums that share the product's catalog with this one: \
                 it needs `catalog = \"...\"` beside it",
            );
        }
        return None;
    };
    // Only the crate's own directory: a catalog found anywhere else (a parent directory,
    // beside the source file) could be another product's.
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    match catalog::read(&manifest_dir, &catalog.value) {
        Err(message) => {
            cx.syn_error(syn::Error::new(catalog.span, message));
            None
        }
        Ok((path, listed)) => {
            compare_with_catalog(cx, input, &catalog.value, catalog.span, &listed);
            Some((path, listed))
        }
    }
}

/// Each variant must name a metered dimension of the catalog, and each metered dimension
/// must have a variant (of this enum or, with `with(...)`, of one of the others: that
/// check is the expansion's, across the enums); contract dimensions (`Entitled`) are not
/// metered and need none.
fn compare_with_catalog(
    cx: &Ctxt,
    input: &Enum<'_>,
    file: &str,
    file_span: proc_macro2::Span,
    catalog: &Catalog,
) {
    // A key suggested for a misspelled variant is not reported again as unmatched.
    let mut suggested = Vec::new();
    for variant in &input.variants {
        let key = &variant.key.value;
        let Err(why) = catalog.check(key) else {
            continue;
        };
        let mut message = catalog.message(key, file, why);
        match why {
            NotMetered::Contract => message.push_str(", so remove the variant"),
            NotMetered::Unlisted { suggestion } => suggested.extend(suggestion),
        }
        cx.syn_error(syn::Error::new(variant.key.span, message));
    }
    if !input.attrs.with.is_empty() {
        return;
    }
    let unmatched: Vec<&str> = catalog
        .metered()
        .filter(|key| {
            !suggested.contains(key) && !input.variants.iter().any(|v| v.key.value == *key)
        })
        .collect();
    if !unmatched.is_empty() {
        cx.syn_error(syn::Error::new(
            file_span,
            format!(
                "the catalog `{file}` lists {} that no variant of `{}` names: {}; add a \
                 variant for each (the meter reports zero usage for every dimension), or, \
                 when the product's dimensions are split over several enums, name the others \
                 with `with(...)`",
                if unmatched.len() == 1 {
                    "a metered dimension"
                } else {
                    "metered dimensions"
                },
                input.input.ident,
                quoted_list(&unmatched)
            ),
        ));
    }
}

/// Checks a tag struct: 1..=5 fields, each key legal and unique.
pub(crate) fn usage_tags(cx: &Ctxt, input: &TagStruct<'_>) {
    let count = input.fields.len();
    if count < limits::MIN_TAGS {
        cx.error_spanned_by(
            &input.input.ident,
            format!(
                "a `#[derive(UsageTags)]` struct needs {}..={} tag fields, `{}` has none",
                limits::MIN_TAGS,
                limits::MAX_TAGS,
                input.input.ident
            ),
        );
    }
    if let Some(extra) = input.fields.get(limits::MAX_TAGS) {
        cx.error_spanned_by(
            extra.member,
            format!(
                "an allocation carries at most {} tags, and `{}` has {count} fields: this is \
                 field {}",
                limits::MAX_TAGS,
                input.input.ident,
                limits::MAX_TAGS + 1
            ),
        );
    }
    if count > 0 && input.fields.iter().all(|field| field.optional) {
        cx.error_spanned_by(
            &input.input.ident,
            format!(
                "every tag of `{}` is an `Option`, but an allocation needs at least one tag: \
                 make one field not optional (usage with no tags goes to \
                 `.allocate_untagged(...)`)",
                input.input.ident
            ),
        );
    }
    let items = input.fields.iter().map(|f| (&f.key, f.member));
    keys(cx, items, &TAG_KEY, "tag key", "field");
}

/// Checks a tag-value enum: each value legal and unique.
pub(crate) fn tag_value(cx: &Ctxt, input: &Enum<'_>) {
    let items = input.variants.iter().map(|v| (&v.key, v.ident));
    keys(cx, items, &TAG_VALUE, "tag value", "variant");
}

/// Checks each key against `rule`, and that no two are equal; a repeated key is reported
/// on its second use.
fn keys<'a>(
    cx: &Ctxt,
    items: impl Iterator<Item = (&'a Key, &'a Ident)>,
    rule: &StringRule,
    what: &str,
    item: &str,
) {
    let mut seen: HashMap<&str, &Ident> = HashMap::new();
    for (key, ident) in items {
        if let Err(violation) = rule.check(&key.value) {
            cx.syn_error(syn::Error::new(
                key.span,
                format!(
                    "{what} {} breaks the service's `{}` rule: it {violation}",
                    Shown(&key.value),
                    rule.shape
                ),
            ));
        }
        if let Some(first) = seen.get(key.value.as_str()) {
            cx.syn_error(syn::Error::new(
                key.span,
                format!(
                    "duplicate {what} {}: {item} `{first}` has it already",
                    Shown(&key.value)
                ),
            ));
        } else {
            seen.insert(&key.value, ident);
        }
    }
}

/// A key in a message: quoted, and cut short when long.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 40;
        match self.0.char_indices().nth(MAX) {
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}
