//! Borrowed views of a derive's input: the enum's variants or the struct's fields, each
//! with its attributes and the key it stands for.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{Container, Derive, Item};
use crate::ctxt::Ctxt;

/// The key a variant or field stands for, and where to point errors about it: the
/// `rename` literal when there is one, else the identifier.
pub(crate) struct Key {
    pub value: String,
    pub span: Span,
}

/// A fieldless enum: a `Dimension` or a `ToTagValue`.
pub(crate) struct Enum<'a> {
    pub input: &'a DeriveInput,
    pub attrs: Container,
    pub variants: Vec<Variant<'a>>,
}

pub(crate) struct Variant<'a> {
    pub ident: &'a Ident,
    pub key: Key,
}

/// A struct whose named fields are tags.
pub(crate) struct TagStruct<'a> {
    pub input: &'a DeriveInput,
    pub attrs: Container,
    pub fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub member: &'a Ident,
    /// The tag value's type: `T` of an `Option<T>` field, else the field's type.
    pub ty: &'a Type,
    /// An `Option<T>` field, whose `None` leaves the tag out.
    pub optional: bool,
    pub key: Key,
}

impl<'a> Enum<'a> {
    /// The view, or `None` (with the error recorded) when the input is no enum.
    /// Variants with fields are reported and left out, so checks go on for the others.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput, derive: Derive) -> Option<Self> {
        let attrs = Container::from_ast(cx, &input.attrs, derive);
        let what = match derive {
            Derive::Dimension => "a dimension",
            Derive::ToTagValue | Derive::UsageTags => "a tag value",
        };
        let Data::Enum(data) = &input.data else {
            cx.error_spanned_by(
                &input.ident,
                format!(
                    "`#[derive({})]` needs an enum whose unit variants each name {what}",
                    derive.name()
                ),
            );
            return None;
        };
        let generics = &input.generics;
        if !generics.params.is_empty() || generics.where_clause.is_some() {
            // `Generics` prints its parameters only: the `where` clause is named so that an
            // enum with no parameters but a clause sees the clause underlined.
            let where_clause = &generics.where_clause;
            cx.error_spanned_by(
                quote::quote!(#generics #where_clause),
                format!(
                    "a `#[derive({})]` enum cannot be generic: its variants are fixed keys",
                    derive.name()
                ),
            );
            return None;
        }
        let variants = data
            .variants
            .iter()
            .filter_map(|variant| {
                let item = Item::from_ast(cx, &variant.attrs, derive);
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_spanned_by(
                        &variant.fields,
                        format!(
                            "`{}` has fields, but each variant of a `#[derive({})]` enum only \
                             names {what}: make it a unit variant",
                            variant.ident,
                            derive.name()
                        ),
                    );
                    return None;
                }
                let key = key(&item, &variant.ident, |name| {
                    attrs.rename_all.apply_to_variant(name)
                });
                Some(Variant {
                    ident: &variant.ident,
                    key,
                })
            })
            .collect();
        Some(Self {
            input,
            attrs,
            variants,
        })
    }
}

impl<'a> TagStruct<'a> {
    /// The view, or `None` (with the error recorded) when the input is no struct with named
    /// fields.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = Container::from_ast(cx, &input.attrs, Derive::UsageTags);
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(named),
                Fields::Unnamed(_) | Fields::Unit => None,
            },
            Data::Enum(_) | Data::Union(_) => None,
        };
        let Some(named) = named else {
            cx.error_spanned_by(
                &input.ident,
                "`#[derive(UsageTags)]` needs a struct with named fields: each field is one \
                 tag, keyed by its name",
            );
            return None;
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let member = field.ident.as_ref()?;
                let item = Item::from_ast(cx, &field.attrs, Derive::UsageTags);
                let key = key(&item, member, |name| attrs.rename_all.apply_to_field(name));
                let (ty, optional) = match option_inner(&field.ty) {
                    Some(inner) => (inner, true),
                    None => (&field.ty, false),
                };
                Some(Field {
                    member,
                    ty,
                    optional,
                    key,
                })
            })
            .collect();
        Some(Self {
            input,
            attrs,
            fields,
        })
    }
}

fn key(item: &Item, ident: &Ident, rename_all: impl FnOnce(&str) -> String) -> Key {
    match &item.rename {
        Some(rename) => Key {
            value: rename.value.clone(),
            span: rename.span,
        },
        None => Key {
            value: rename_all(&ident.unraw().to_string()),
            span: ident.span(),
        },
    }
}

/// `T` when `ty` is written `Option<T>` (or `std::option::Option<T>`, ...): recognised by
/// its name, as serde recognises `Option` fields, since a derive cannot resolve types.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}
