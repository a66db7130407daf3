//! `#[metering(...)]` attributes: parsed with `parse_nested_meta`, each key at most once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

use crate::case::RenameRule;
use crate::ctxt::Ctxt;

/// Which derive reads the attributes: it decides the keys a container accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    Dimension,
    UsageTags,
    ToTagValue,
}

impl Derive {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Dimension => "Dimension",
            Self::UsageTags => "UsageTags",
            Self::ToTagValue => "ToTagValue",
        }
    }

    fn container_keys(self) -> &'static str {
        match self {
            Self::Dimension => "`rename_all`, `kind`, `catalog`, `with` or `crate`",
            Self::UsageTags | Self::ToTagValue => "`rename_all` or `crate`",
        }
    }

    /// What a variant or field of this derive is called in messages.
    pub(crate) fn item(self) -> &'static str {
        match self {
            Self::UsageTags => "field",
            Self::Dimension | Self::ToTagValue => "variant",
        }
    }
}

/// One attribute key: remembers where it was set, and reports a second setting.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: &'static str,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: &'static str) -> Self {
        Self {
            cx,
            name,
            value: None,
        }
    }

    fn set(&mut self, tokens: impl ToTokens, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                tokens,
                format!("duplicate metering attribute `{}`", self.name),
            );
        } else {
            self.value = Some(value);
        }
    }
}

/// A string given in an attribute, with the literal to point errors at.
#[derive(Clone)]
pub(crate) struct Spanned {
    pub value: String,
    pub span: Span,
}

impl Spanned {
    fn from_lit(lit: &LitStr) -> Self {
        Self {
            value: lit.value(),
            span: lit.span(),
        }
    }
}

/// The attributes of the enum or struct itself.
pub(crate) struct Container {
    pub rename_all: RenameRule,
    pub catalog: Option<Spanned>,
    /// The product's other dimension enums, which share the catalog with this one.
    pub with: Vec<syn::Path>,
    /// A dimension enum's kind: the name of its marker type in the runtime's `kind` module.
    pub kind: &'static str,
    /// The path generated code names the runtime by (`::marketplace_metering` unless `crate = "..."`).
    pub krate: TokenStream,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute], derive: Derive) -> Self {
        let mut rename_all = Attr::none(cx, "rename_all");
        let mut catalog = Attr::none(cx, "catalog");
        let mut kind = Attr::none(cx, "kind");
        let mut with = Attr::none(cx, "with");
        let mut krate = Attr::none(cx, "crate");
        for attr in metering_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    let lit = string_value(&meta)?;
                    match RenameRule::from_str(&lit.value()) {
                        Ok(rule) => rename_all.set(&meta.path, rule),
                        Err(unknown) => cx.error_spanned_by(&lit, unknown),
                    }
                } else if meta.path.is_ident("crate") {
                    let lit = string_value(&meta)?;
                    match lit.parse::<syn::Path>() {
                        Ok(path) => krate.set(&meta.path, path.into_token_stream()),
                        Err(_) => cx.error_spanned_by(
                            &lit,
                            format!("`crate = {:?}` is not a path", lit.value()),
                        ),
                    }
                } else if meta.path.is_ident("kind") && derive == Derive::Dimension {
                    let lit = string_value(&meta)?;
                    match kind_of(&lit.value()) {
                        Ok(marker) => kind.set(&meta.path, marker),
                        Err(unknown) => cx.error_spanned_by(&lit, unknown),
                    }
                } else if meta.path.is_ident("with") && derive == Derive::Dimension {
                    let mut paths = Vec::new();
                    meta.parse_nested_meta(|other| {
                        paths.push(other.path.clone());
                        Ok(())
                    })?;
                    with.set(&meta.path, paths);
                } else if meta.path.is_ident("catalog") && derive == Derive::Dimension {
                    let lit = string_value(&meta)?;
                    catalog.set(&meta.path, Spanned::from_lit(&lit));
                } else {
                    return Err(meta.error(format!(
                        "unknown metering attribute `{}` for `#[derive({})]`; expected {}",
                        path_name(&meta),
                        derive.name(),
                        derive.container_keys()
                    )));
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            rename_all: rename_all.value.unwrap_or(RenameRule::None),
            catalog: catalog.value,
            with: with.value.unwrap_or_default(),
            kind: kind.value.unwrap_or("Sum"),
            krate: krate
                .value
                .unwrap_or_else(|| quote::quote!(::marketplace_metering)),
        }
    }
}

/// The kinds `kind = "..."` takes, and their marker types in the runtime's `kind` module.
const KINDS: [(&str, &str); 4] = [
    ("sum", "Sum"),
    ("max", "Max"),
    ("distinct", "Distinct"),
    ("level", "Level"),
];

/// The marker type of the kind named `name`, or the message naming the kinds (and the one
/// probably meant).
fn kind_of(name: &str) -> Result<&'static str, String> {
    if let Some(&(_, marker)) = KINDS.iter().find(|(kind, _)| *kind == name) {
        return Ok(marker);
    }
    let names = KINDS.map(|(kind, _)| kind);
    let hint = metering_rules::closest(name, names)
        .map(|kind| format!("did you mean \"{kind}\"? "))
        .unwrap_or_default();
    Err(format!(
        "unknown kind `kind = {name:?}`: {hint}expected one of \"sum\" (the default), \"max\", \
         \"distinct\", \"level\""
    ))
}

/// The attributes of one variant or field: only `rename`.
pub(crate) struct Item {
    pub rename: Option<Spanned>,
}

impl Item {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute], derive: Derive) -> Self {
        let mut rename = Attr::none(cx, "rename");
        for attr in metering_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit = string_value(&meta)?;
                    rename.set(&meta.path, Spanned::from_lit(&lit));
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown metering attribute `{}` on a {}; expected `rename`",
                        path_name(&meta),
                        derive.item()
                    )))
                }
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            rename: rename.value,
        }
    }
}

fn metering_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("metering"))
}

fn string_value(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let name = path_name(meta);
    let value = meta.value()?;
    value.parse::<LitStr>().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{name}` takes a string literal: `{name} = \"...\"`"),
        )
    })
}

fn path_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.to_token_stream().to_string().replace(' ', "")
}
