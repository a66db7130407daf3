//! Code generation: the impls, or, when a check failed, the errors beside stub impls so the
//! rest of the crate still type-checks and the user sees only the real mistakes.
//!
//! Generated code names everything by absolute path through the runtime's path (`::marketplace_metering`
//! or `#[metering(crate = "...")]`), so local `Result` or `Option` aliases cannot change it.

use std::path::PathBuf;

use metering_rules::catalog::Catalog;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

use crate::ast::{Enum, TagStruct};
use crate::attr::Derive;
use crate::check;
use crate::ctxt::Ctxt;

/// `#[derive(Dimension)]`.
pub(crate) fn dimension(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = Enum::from_ast(&cx, input, Derive::Dimension);
    let catalog = parsed
        .as_ref()
        .and_then(|parsed| check::dimension(&cx, parsed));
    finish(
        cx,
        parsed.as_ref(),
        |parsed| dimension_impl(parsed, catalog.as_ref()),
        |parsed| {
            let krate = &parsed.attrs.krate;
            let ident = &input.ident;
            let kind = quote::format_ident!("{}", parsed.attrs.kind);
            let (bound, check) = derives(krate, ident);
            quote! {
                #check
                impl #krate::Dimension for #ident #bound {
                    type Kind = #krate::kind::#kind;
                    const ALL: &'static [Self] = &[];
                    fn as_str(self) -> &'static str {
                        ::core::unreachable!()
                    }
                }
                impl #krate::__private::DerivedDimension for #ident {}
                impl #krate::__private::DimensionKeys for #ident {
                    const KEYS: ::core::option::Option<&'static [&'static str]> =
                        ::core::option::Option::None;
                }
            }
        },
    )
}

fn dimension_impl(input: &Enum<'_>, catalog: Option<&(PathBuf, Catalog)>) -> TokenStream {
    let krate = &input.attrs.krate;
    let ident = &input.input.ident;
    let variants: Vec<_> = input.variants.iter().map(|v| v.ident).collect();
    let keys: Vec<_> = input.variants.iter().map(|v| &v.key.value).collect();
    let catalog = catalog.map(|(path, listed)| {
        // `include_bytes!` makes the build depend on the catalog file: editing it rebuilds.
        let path = path.to_string_lossy();
        let across = catalog_across_enums(input, listed);
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
            #across
        )
    });
    let allow_deprecated = allow_deprecated(input.input);
    let (bound, check) = derives(krate, ident);
    let kind = quote::format_ident!("{}", input.attrs.kind);
    quote! {
        const _: () = {
            #check
            #[automatically_derived]
            #allow_deprecated
            impl #krate::Dimension for #ident #bound {
                type Kind = #krate::kind::#kind;
                const ALL: &'static [Self] = &[#(Self::#variants),*];
                #[inline]
                fn as_str(self) -> &'static str {
                    match self {
                        #(Self::#variants => #keys,)*
                    }
                }
            }
            #[automatically_derived]
            impl #krate::__private::DerivedDimension for #ident {}
            #[automatically_derived]
            impl #krate::__private::DimensionKeys for #ident {
                const KEYS: ::core::option::Option<&'static [&'static str]> =
                    ::core::option::Option::Some(&[#(#keys),*]);
            }
            #[automatically_derived]
            impl ::core::str::FromStr for #ident #bound {
                type Err = #krate::UnknownDimension;
                fn from_str(key: &str) -> ::core::result::Result<Self, Self::Err> {
                    <Self as #krate::Dimension>::parse_key(key)
                }
            }
            #catalog
        };
    }
}

/// With `with(...)`, the check that the enum and the others name each metered dimension of
/// the catalog once: a constant the compiler evaluates, since only it knows the others'
/// keys (`DimensionKeys`). A problem fails the evaluation, with a message naming it, at the
/// catalog's path.
fn catalog_across_enums(input: &Enum<'_>, listed: &Catalog) -> Option<TokenStream> {
    if input.attrs.with.is_empty() {
        return None;
    }
    let krate = &input.attrs.krate;
    let Some(file) = &input.attrs.catalog else {
        unreachable!("a catalog was read, so one was named")
    };
    let path = &file.value;
    let name = input.input.ident.to_string();
    let keys = input.variants.iter().map(|v| &v.key.value);
    let others = input.attrs.with.iter().map(|other| {
        let name = other.to_token_stream().to_string().replace(' ', "");
        let keys = quote_spanned! {other.span()=>
            <#other as #krate::__private::DimensionKeys>::KEYS
        };
        quote!((#name, #keys))
    });
    let metered = listed.metered();
    let contract = listed
        .listed()
        .iter()
        .filter(|dimension| !dimension.metered)
        .map(|dimension| &dimension.key);
    let fail = quote_spanned! {file.span=> ::core::panic!("{}", message)};
    Some(quote! {
        const _: () = {
            let report = #krate::__private::check_catalog(
                #path,
                &[#(#metered),*],
                &[#(#contract),*],
                &[(#name, ::core::option::Option::Some(&[#(#keys),*])), #(#others),*],
            );
            if let ::core::option::Option::Some(message) = report.message() {
                #fail
            }
        };
    })
}

/// `#[derive(UsageTags)]`.
pub(crate) fn usage_tags(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = TagStruct::from_ast(&cx, input);
    if let Some(parsed) = &parsed {
        check::usage_tags(&cx, parsed);
    }
    finish(cx, parsed.as_ref(), usage_tags_impl, |parsed| {
        let krate = &parsed.attrs.krate;
        let ident = &input.ident;
        let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
        quote! {
            impl #impl_generics #krate::UsageTags for #ident #ty_generics #where_clause {
                fn tags(&self) -> ::core::result::Result<#krate::Tags, #krate::ValidationError> {
                    ::core::unreachable!()
                }
            }
        }
    })
}

fn usage_tags_impl(input: &TagStruct<'_>) -> TokenStream {
    let krate = &input.attrs.krate;
    let ident = &input.input.ident;
    let (impl_generics, ty_generics, where_clause) = input.input.generics.split_for_impl();
    let tags = input.fields.iter().map(|field| {
        let member = field.member;
        let key = &field.key.value;
        // Spanned at the value's type: a type that is no tag value is reported there.
        let value = if field.optional {
            quote_spanned! {field.ty.span()=>
                ::core::option::Option::map(
                    ::core::option::Option::as_ref(&self.#member),
                    |value| value as &dyn #krate::ToTagValue,
                )
            }
        } else {
            quote_spanned! {field.ty.span()=>
                ::core::option::Option::Some(&self.#member as &dyn #krate::ToTagValue)
            }
        };
        quote!((#key, #value))
    });
    let allow_deprecated = allow_deprecated(input.input);
    quote! {
        const _: () = {
            #[automatically_derived]
            #allow_deprecated
            impl #impl_generics #krate::UsageTags for #ident #ty_generics #where_clause {
                fn tags(&self) -> ::core::result::Result<#krate::Tags, #krate::ValidationError> {
                    #krate::__private::tags(&[#(#tags),*])
                }
            }
        };
    }
}

/// `#[derive(ToTagValue)]`.
pub(crate) fn tag_value(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = Enum::from_ast(&cx, input, Derive::ToTagValue);
    if let Some(parsed) = &parsed {
        check::tag_value(&cx, parsed);
    }
    finish(cx, parsed.as_ref(), tag_value_impl, |parsed| {
        let krate = &parsed.attrs.krate;
        let ident = &input.ident;
        quote! {
            impl #krate::ToTagValue for #ident {
                fn to_tag_value(&self) -> ::core::result::Result<#krate::TagValue, #krate::ValidationError> {
                    ::core::unreachable!()
                }
            }
        }
    })
}

fn tag_value_impl(input: &Enum<'_>) -> TokenStream {
    let krate = &input.attrs.krate;
    let ident = &input.input.ident;
    let variants = input.variants.iter().map(|v| v.ident);
    let values = input.variants.iter().map(|v| &v.key.value);
    let allow_deprecated = allow_deprecated(input.input);
    quote! {
        const _: () = {
            #[automatically_derived]
            #allow_deprecated
            impl #krate::ToTagValue for #ident {
                fn to_tag_value(&self) -> ::core::result::Result<#krate::TagValue, #krate::ValidationError> {
                    #krate::__private::tag_value(match *self {
                        #(Self::#variants => #values,)*
                    })
                }
            }
        };
    }
}

/// `#[allow(deprecated)]` when the type, a variant or a field is `#[deprecated]`: the impl
/// names them, and the user's crate must not be warned about its own derive (a hard error
/// under `#![deny(warnings)]`), as `serde_derive` does.
/// The where clause of the `Dimension` impls, and one check that the enum derives what the
/// trait's supertraits need. Without them, rustc reports each missing supertrait at each
/// impl (six errors for a bare enum); the impls are instead made to hold only where the
/// derives are there (a bound under `for<'a>` is no trivially false bound to rustc), and the
/// check, which picks its answer by method resolution, fails once, naming all five.
fn derives(krate: &TokenStream, ident: &syn::Ident) -> (TokenStream, TokenStream) {
    let bound = quote! {
        where
            for<'__derives> #ident: ::core::marker::Copy + ::core::cmp::Eq + ::core::hash::Hash
    };
    let call = quote_spanned! {ident.span()=>
        #krate::__private::derives_complete(
            (&#krate::__private::Probe::<#ident>::NEW).derives(),
        )
    };
    let check = quote! {
        // A function's body is type-checked though it never runs.
        const _: fn() = || {
            #[allow(unused_imports)]
            use #krate::__private::{HasDerives as _, LacksDerives as _};
            #call;
        };
    };
    (bound, check)
}

fn allow_deprecated(input: &DeriveInput) -> Option<TokenStream> {
    let deprecated =
        |attrs: &[syn::Attribute]| attrs.iter().any(|attr| attr.path().is_ident("deprecated"));
    let inner = match &input.data {
        Data::Enum(data) => data.variants.iter().any(|v| deprecated(&v.attrs)),
        Data::Struct(data) => data.fields.iter().any(|f| deprecated(&f.attrs)),
        Data::Union(_) => false,
    };
    (inner || deprecated(&input.attrs)).then(|| quote!(#[allow(deprecated)]))
}

/// The impl when every check passed; otherwise the errors, and beside them a stub impl so
/// that code using the type does not pile up follow-on errors ("`Usage` does not implement
/// `Dimension`"). There is no stub when the input is the wrong kind of item (it could not
/// be used as one anyway), nor for a generic enum (the stub's bounds could fail on their
/// own).
fn finish<T>(
    cx: Ctxt,
    parsed: Option<&T>,
    expand: impl FnOnce(&T) -> TokenStream,
    stub: impl FnOnce(&T) -> TokenStream,
) -> TokenStream {
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(parsed),
        (Ok(()), None) => unreachable!("a missing view always records an error"),
        (Err(error), parsed) => {
            let errors = error.into_compile_error();
            let stub = parsed.map(stub).map(|stub| {
                quote! {
                    const _: () = {
                        #[automatically_derived]
                        #stub
                    };
                }
            });
            quote!(#errors #stub)
        }
    }
}
