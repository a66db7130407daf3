//! Expansion snapshots: each derive's output on `quote!` input, formatted with
//! prettyplease. Update with `UPDATE_EXPECT=1 cargo test -p metering-derive`.

use expect_test::{Expect, expect};
use proc_macro2::TokenStream;
use quote::quote;

fn check(expand: fn(&syn::DeriveInput) -> TokenStream, input: TokenStream, expected: &Expect) {
    let input: syn::DeriveInput = syn::parse2(input).expect("the input parses");
    let output = expand(&input);
    let file: syn::File = syn::parse2(output).expect("the expansion parses");
    expected.assert_eq(&prettyplease::unparse(&file));
}

#[test]
fn dimension() {
    check(
        crate::expand::dimension,
        quote! {
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Dimension)]
            #[metering(rename_all = "snake_case")]
            enum Usage {
                ApiCalls,
                #[metering(rename = "storage_gb_hours")]
                Storage,
            }
        },
        &expect![[r#"
            const _: () = {
                const _: fn() = || {
                    #[allow(unused_imports)]
                    use ::marketplace_metering::__private::{HasDerives as _, LacksDerives as _};
                    ::marketplace_metering::__private::derives_complete(
                        (&::marketplace_metering::__private::Probe::<Usage>::NEW).derives(),
                    );
                };
                #[automatically_derived]
                impl ::marketplace_metering::Dimension for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Kind = ::marketplace_metering::kind::Sum;
                    const ALL: &'static [Self] = &[Self::ApiCalls, Self::Storage];
                    #[inline]
                    fn as_str(self) -> &'static str {
                        match self {
                            Self::ApiCalls => "api_calls",
                            Self::Storage => "storage_gb_hours",
                        }
                    }
                }
                #[automatically_derived]
                impl ::marketplace_metering::__private::DerivedDimension for Usage {}
                #[automatically_derived]
                impl ::marketplace_metering::__private::DimensionKeys for Usage {
                    const KEYS: ::core::option::Option<&'static [&'static str]> = ::core::option::Option::Some(
                        &["api_calls", "storage_gb_hours"],
                    );
                }
                #[automatically_derived]
                impl ::core::str::FromStr for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Err = ::marketplace_metering::UnknownDimension;
                    fn from_str(key: &str) -> ::core::result::Result<Self, Self::Err> {
                        <Self as ::marketplace_metering::Dimension>::parse_key(key)
                    }
                }
            };
        "#]],
    );
}

#[test]
fn dimension_with_crate_path() {
    check(
        crate::expand::dimension,
        quote! {
            #[metering(crate = "my::metering")]
            enum Usage { Seats }
        },
        &expect![[r#"
            const _: () = {
                const _: fn() = || {
                    #[allow(unused_imports)]
                    use my::metering::__private::{HasDerives as _, LacksDerives as _};
                    my::metering::__private::derives_complete(
                        (&my::metering::__private::Probe::<Usage>::NEW).derives(),
                    );
                };
                #[automatically_derived]
                impl my::metering::Dimension for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Kind = my::metering::kind::Sum;
                    const ALL: &'static [Self] = &[Self::Seats];
                    #[inline]
                    fn as_str(self) -> &'static str {
                        match self {
                            Self::Seats => "Seats",
                        }
                    }
                }
                #[automatically_derived]
                impl my::metering::__private::DerivedDimension for Usage {}
                #[automatically_derived]
                impl my::metering::__private::DimensionKeys for Usage {
                    const KEYS: ::core::option::Option<&'static [&'static str]> = ::core::option::Option::Some(
                        &["Seats"],
                    );
                }
                #[automatically_derived]
                impl ::core::str::FromStr for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Err = my::metering::UnknownDimension;
                    fn from_str(key: &str) -> ::core::result::Result<Self, Self::Err> {
                        <Self as my::metering::Dimension>::parse_key(key)
                    }
                }
            };
        "#]],
    );
}

#[test]
fn dimension_errors_come_with_a_stub() {
    check(
        crate::expand::dimension,
        quote! {
            #[metering(rename_all = "lowercase")]
            enum Usage {
                ApiCalls,
                Apicalls,
                #[metering(rename = "")]
                Seats,
            }
        },
        &expect![[r#"
            ::core::compile_error! {
                "duplicate dimension key \"apicalls\": variant `ApiCalls` has it already"
            }
            ::core::compile_error! {
                "dimension key \"\" breaks the service's `UsageDimension` rule: it must be at least 1 character long, is 0"
            }
            const _: () = {
                #[automatically_derived]
                const _: fn() = || {
                    #[allow(unused_imports)]
                    use ::marketplace_metering::__private::{HasDerives as _, LacksDerives as _};
                    ::marketplace_metering::__private::derives_complete(
                        (&::marketplace_metering::__private::Probe::<Usage>::NEW).derives(),
                    );
                };
                impl ::marketplace_metering::Dimension for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Kind = ::marketplace_metering::kind::Sum;
                    const ALL: &'static [Self] = &[];
                    fn as_str(self) -> &'static str {
                        ::core::unreachable!()
                    }
                }
                impl ::marketplace_metering::__private::DerivedDimension for Usage {}
                impl ::marketplace_metering::__private::DimensionKeys for Usage {
                    const KEYS: ::core::option::Option<&'static [&'static str]> = ::core::option::Option::None;
                }
            };
        "#]],
    );
}

#[test]
fn wrong_item_gets_no_stub() {
    check(
        crate::expand::dimension,
        quote! {
            struct Usage;
        },
        &expect![[r#"
            ::core::compile_error! {
                "`#[derive(Dimension)]` needs an enum whose unit variants each name a dimension"
            }
        "#]],
    );
}

#[test]
fn usage_tags() {
    check(
        crate::expand::usage_tags,
        quote! {
            #[metering(rename_all = "kebab-case")]
            struct CostTags<'a> {
                cost_center: &'a str,
                #[metering(rename = "env")]
                environment: Env,
            }
        },
        &expect![[r#"
            const _: () = {
                #[automatically_derived]
                impl<'a> ::marketplace_metering::UsageTags for CostTags<'a> {
                    fn tags(
                        &self,
                    ) -> ::core::result::Result<
                        ::marketplace_metering::Tags,
                        ::marketplace_metering::ValidationError,
                    > {
                        ::marketplace_metering::__private::tags(
                            &[
                                (
                                    "cost-center",
                                    ::core::option::Option::Some(
                                        &self.cost_center as &dyn ::marketplace_metering::ToTagValue,
                                    ),
                                ),
                                (
                                    "env",
                                    ::core::option::Option::Some(
                                        &self.environment as &dyn ::marketplace_metering::ToTagValue,
                                    ),
                                ),
                            ],
                        )
                    }
                }
            };
        "#]],
    );
}

#[test]
fn usage_tags_errors_come_with_a_stub() {
    check(
        crate::expand::usage_tags,
        quote! {
            struct CostTags {
                #[metering(rename = "a?")]
                a: String,
            }
        },
        &expect![[r#"
            ::core::compile_error! {
                "tag key \"a?\" breaks the service's `TagKey` rule: it must match ^[a-zA-Z0-9+ -=._:\\/@]+$; character '?' at position 1 is not allowed"
            }
            const _: () = {
                #[automatically_derived]
                impl ::marketplace_metering::UsageTags for CostTags {
                    fn tags(
                        &self,
                    ) -> ::core::result::Result<
                        ::marketplace_metering::Tags,
                        ::marketplace_metering::ValidationError,
                    > {
                        ::core::unreachable!()
                    }
                }
            };
        "#]],
    );
}

#[test]
fn tag_value() {
    check(
        crate::expand::tag_value,
        quote! {
            #[metering(rename_all = "SCREAMING-KEBAB-CASE")]
            enum Env {
                EuWest,
                #[metering(rename = "dev/local")]
                Dev,
            }
        },
        &expect![[r#"
            const _: () = {
                #[automatically_derived]
                impl ::marketplace_metering::ToTagValue for Env {
                    fn to_tag_value(
                        &self,
                    ) -> ::core::result::Result<
                        ::marketplace_metering::TagValue,
                        ::marketplace_metering::ValidationError,
                    > {
                        ::marketplace_metering::__private::tag_value(
                            match *self {
                                Self::EuWest => "EU-WEST",
                                Self::Dev => "dev/local",
                            },
                        )
                    }
                }
            };
        "#]],
    );
}

#[test]
fn tag_value_errors_come_with_a_stub() {
    check(
        crate::expand::tag_value,
        quote! {
            enum Env {
                Prod(String),
                #[metering(rename = "x", rename = "y")]
                Dev,
            }
        },
        &expect![[r#"
            ::core::compile_error! {
                "`Prod` has fields, but each variant of a `#[derive(ToTagValue)]` enum only names a tag value: make it a unit variant"
            }
            ::core::compile_error! {
                "duplicate metering attribute `rename`"
            }
            const _: () = {
                #[automatically_derived]
                impl ::marketplace_metering::ToTagValue for Env {
                    fn to_tag_value(
                        &self,
                    ) -> ::core::result::Result<
                        ::marketplace_metering::TagValue,
                        ::marketplace_metering::ValidationError,
                    > {
                        ::core::unreachable!()
                    }
                }
            };
        "#]],
    );
}

#[test]
fn catalog_makes_the_build_depend_on_the_file() {
    let dir = std::env::temp_dir().join(format!("metering-derive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dimensions.json");
    std::fs::write(&file, r#"[{"Key": "api_calls"}, {"Key": "seats"}]"#).unwrap();
    let path = file.to_str().unwrap();
    let input: syn::DeriveInput = syn::parse_quote! {
        #[metering(rename_all = "snake_case", catalog = #path)]
        enum Usage { ApiCalls, Seats }
    };
    let output = crate::expand::dimension(&input).to_string();
    assert!(output.contains("include_bytes"), "{output}");
    assert!(output.contains(path), "{output}");
    assert!(!output.contains("compile_error"), "{output}");

    let input: syn::DeriveInput = syn::parse_quote! {
        #[metering(rename_all = "snake_case", catalog = #path)]
        enum Usage { ApiCall }
    };
    let output = crate::expand::dimension(&input).to_string();
    assert!(
        output.contains(r#"did you mean \"api_calls\"?"#),
        "{output}"
    );
    assert!(output.contains(r#"names: \"seats\""#), "{output}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rename_rules_match_serde() {
    use crate::case::RenameRule;
    let rule = |name| RenameRule::from_str(name).ok().unwrap();
    assert_eq!(
        rule("snake_case").apply_to_variant("HTTPServer"),
        "h_t_t_p_server"
    );
    assert_eq!(rule("camelCase").apply_to_field("a_b_c"), "aBC");
    assert_eq!(rule("SCREAMING-KEBAB-CASE").apply_to_field("a_b"), "A-B");
    let unknown = RenameRule::from_str("snake").err().unwrap().to_string();
    assert!(
        unknown.starts_with("unknown rename rule `rename_all = \"snake\"`"),
        "{unknown}"
    );
}

/// The limits on the accepting side (the UI tests cover one past each): a 255-character
/// dimension key, a 100-character tag key and a 256-character tag value compile, using
/// every character the tag pattern's ` -=` range lets in.
#[test]
fn keys_at_their_limits_are_accepted() {
    let no_error = |output: TokenStream| {
        let output = output.to_string();
        assert!(!output.contains("compile_error"), "{output}");
    };
    let dimension = "d".repeat(255);
    no_error(crate::expand::dimension(&syn::parse_quote! {
        enum Usage { #[metering(rename = #dimension)] Calls }
    }));
    let key = format!("{}{}", " !\"#$%&'()*+,-./:;<=_@", "k".repeat(78));
    assert_eq!(key.chars().count(), 100);
    no_error(crate::expand::usage_tags(&syn::parse_quote! {
        struct Tags { #[metering(rename = #key)] team: String }
    }));
    let value = "v".repeat(256);
    no_error(crate::expand::tag_value(&syn::parse_quote! {
        enum Env { #[metering(rename = #value)] Prod }
    }));
}

#[test]
fn each_derive_documents_every_rename_rule() {
    let docs = include_str!("lib.rs");
    for derive in [
        "derive_dimension",
        "derive_usage_tags",
        "derive_to_tag_value",
    ] {
        let end = docs
            .find(&format!("pub fn {derive}"))
            .expect("the derive exists");
        let start = docs[..end].rfind("#[proc_macro_derive").map_or(0, |at| at);
        let doc_start = docs[..start].rfind("\n}\n").map_or(0, |at| at);
        let doc = &docs[doc_start..end];
        for rule in crate::case::RenameRule::names() {
            assert!(
                doc.contains(&format!("`\"{rule}\"`")),
                "{derive} omits {rule:?}"
            );
        }
    }
}

#[test]
fn a_catalog_of_contract_dimensions_only_meters_nothing() {
    check(
        crate::expand::dimension,
        quote! {
            #[metering(catalog = "tests/catalog/contract-only.json")]
            enum Usage { ApiCalls }
        },
        &expect![[r#"
            ::core::compile_error! {
                "dimension key \"ApiCalls\" is not in the catalog `tests/catalog/contract-only.json`; it lists no metered dimension"
            }
            const _: () = {
                #[automatically_derived]
                const _: fn() = || {
                    #[allow(unused_imports)]
                    use ::marketplace_metering::__private::{HasDerives as _, LacksDerives as _};
                    ::marketplace_metering::__private::derives_complete(
                        (&::marketplace_metering::__private::Probe::<Usage>::NEW).derives(),
                    );
                };
                impl ::marketplace_metering::Dimension for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Kind = ::marketplace_metering::kind::Sum;
                    const ALL: &'static [Self] = &[];
                    fn as_str(self) -> &'static str {
                        ::core::unreachable!()
                    }
                }
                impl ::marketplace_metering::__private::DerivedDimension for Usage {}
                impl ::marketplace_metering::__private::DimensionKeys for Usage {
                    const KEYS: ::core::option::Option<&'static [&'static str]> = ::core::option::Option::None;
                }
            };
        "#]],
    );
}

/// `kind = "..."` writes the enum's `Dimension::Kind`: the marker of that name.
#[test]
fn dimension_kinds() {
    for (name, marker) in [
        ("sum", "Sum"),
        ("max", "Max"),
        ("distinct", "Distinct"),
        ("level", "Level"),
    ] {
        let output = crate::expand::dimension(&syn::parse_quote! {
            #[metering(kind = #name)]
            enum Usage { Hosts }
        })
        .to_string();
        let expected = format!("type Kind = :: marketplace_metering :: kind :: {marker} ;");
        assert!(output.contains(&expected), "{output}");
        assert!(!output.contains("compile_error"), "{output}");
    }
}

#[test]
fn a_misspelt_kind_is_an_error_with_a_suggestion() {
    check(
        crate::expand::dimension,
        quote! {
            #[metering(kind = "distnct")]
            enum Usage { Users }
        },
        &expect![[r#"
            ::core::compile_error! {
                "unknown kind `kind = \"distnct\"`: did you mean \"distinct\"? expected one of \"sum\" (the default), \"max\", \"distinct\", \"level\""
            }
            const _: () = {
                #[automatically_derived]
                const _: fn() = || {
                    #[allow(unused_imports)]
                    use ::marketplace_metering::__private::{HasDerives as _, LacksDerives as _};
                    ::marketplace_metering::__private::derives_complete(
                        (&::marketplace_metering::__private::Probe::<Usage>::NEW).derives(),
                    );
                };
                impl ::marketplace_metering::Dimension for Usage
                where
                    for<'__derives> Usage: ::core::marker::Copy + ::core::cmp::Eq
                        + ::core::hash::Hash,
                {
                    type Kind = ::marketplace_metering::kind::Sum;
                    const ALL: &'static [Self] = &[];
                    fn as_str(self) -> &'static str {
                        ::core::unreachable!()
                    }
                }
                impl ::marketplace_metering::__private::DerivedDimension for Usage {}
                impl ::marketplace_metering::__private::DimensionKeys for Usage {
                    const KEYS: ::core::option::Option<&'static [&'static str]> = ::core::option::Option::None;
                }
            };
        "#]],
    );
}
