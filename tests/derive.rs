//! The derives at work: keys, rename rules, tags, the record builder, and use from crates
//! that shadow the prelude or re-export `marketplace_metering` under another name.

use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, LicenseArn, ProductCode, Quantity, RecordBuilder,
    Tags, Timestamp, ToTagValue, UsageTags,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    #[metering(rename = "storage_gb_hours")]
    Storage,
    Seats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ToTagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    Staging,
    #[metering(rename = "dev/local")]
    Dev,
}

#[derive(UsageTags)]
struct CostTags {
    team: String,
    #[metering(rename = "env")]
    environment: Env,
}

#[derive(UsageTags)]
#[metering(rename_all = "camelCase")]
struct ManyTags<'a> {
    cost_center: &'a str,
    r#type: Env,
    region_name: marketplace_metering::TagValue,
    a: Env,
    b: String,
}

fn customer() -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-example123").unwrap(),
        account: CustomerAwsAccountId::new("123456789012").unwrap(),
    }
}

fn hour() -> Timestamp {
    Timestamp::from_unix_seconds(1_764_115_200).unwrap()
}

/// A storage record with its customer and time set, waiting for its allocations.
fn storage_record() -> RecordBuilder<Usage, Customer, Timestamp> {
    Usage::Storage.record().customer(customer()).at(hour())
}

fn q(units: u64) -> Quantity {
    Quantity::new(units).unwrap()
}

#[test]
fn dimension_keys_follow_rename_rules() {
    assert_eq!(Usage::ApiCalls.as_str(), "api_calls");
    assert_eq!(Usage::Storage.as_str(), "storage_gb_hours");
    assert_eq!(Usage::Seats.as_str(), "seats");
    assert_eq!(Usage::ALL, &[Usage::ApiCalls, Usage::Storage, Usage::Seats]);
    assert_eq!(Usage::from_key("storage_gb_hours"), Some(Usage::Storage));
    assert_eq!(Usage::from_key("Storage"), None);
    assert_eq!(Usage::Seats.key().as_str(), "seats");
}

#[test]
fn every_rename_rule() {
    macro_rules! rule {
        ($rule:literal, $variant:literal, $field:literal) => {{
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
            #[metering(rename_all = $rule)]
            enum D {
                HttpRequestCount,
            }
            #[derive(UsageTags)]
            #[metering(rename_all = $rule)]
            struct T {
                http_request_count: String,
            }
            assert_eq!(
                D::HttpRequestCount.as_str(),
                $variant,
                "{} on a variant",
                $rule
            );
            let tags = T {
                http_request_count: "x".into(),
            }
            .tags()
            .unwrap();
            assert_eq!(
                tags.as_slice()[0].key.as_str(),
                $field,
                "{} on a field",
                $rule
            );
        }};
    }
    rule!("lowercase", "httprequestcount", "http_request_count");
    rule!("UPPERCASE", "HTTPREQUESTCOUNT", "HTTP_REQUEST_COUNT");
    rule!("PascalCase", "HttpRequestCount", "HttpRequestCount");
    rule!("camelCase", "httpRequestCount", "httpRequestCount");
    rule!("snake_case", "http_request_count", "http_request_count");
    rule!(
        "SCREAMING_SNAKE_CASE",
        "HTTP_REQUEST_COUNT",
        "HTTP_REQUEST_COUNT"
    );
    rule!("kebab-case", "http-request-count", "http-request-count");
    rule!(
        "SCREAMING-KEBAB-CASE",
        "HTTP-REQUEST-COUNT",
        "HTTP-REQUEST-COUNT"
    );
}

#[test]
fn without_rename_all_the_variant_name_is_the_key() {
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
    enum Plain {
        ApiCalls,
    }
    assert_eq!(Plain::ApiCalls.as_str(), "ApiCalls");
}

#[test]
fn tag_values_of_enums_and_strings() {
    assert_eq!(Env::Prod.to_tag_value().unwrap().as_str(), "prod");
    assert_eq!(Env::Dev.to_tag_value().unwrap().as_str(), "dev/local");
    let tags = CostTags {
        team: "search".into(),
        environment: Env::Staging,
    }
    .tags()
    .unwrap();
    let pairs: Vec<(&str, &str)> = tags
        .as_slice()
        .iter()
        .map(|tag| (tag.key.as_str(), tag.value.as_str()))
        .collect();
    assert_eq!(pairs, [("team", "search"), ("env", "staging")]);
}

#[test]
fn five_tags_with_borrowed_and_raw_fields() {
    let tags = ManyTags {
        cost_center: "cc-42",
        r#type: Env::Prod,
        region_name: marketplace_metering::TagValue::new("eu-west-1").unwrap(),
        a: Env::Dev,
        b: "b".into(),
    }
    .tags()
    .unwrap();
    let keys: Vec<&str> = tags.as_slice().iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["costCenter", "type", "regionName", "a", "b"]);
}

#[test]
fn string_tag_values_are_checked_at_run_time() {
    let error = CostTags {
        team: "a>b".into(),
        environment: Env::Prod,
    }
    .tags()
    .unwrap_err();
    assert_eq!(error.field, "Tags[team].Value");
    assert_eq!(error.value, "a>b");
    assert!(error.to_string().contains("'>' at position 1"), "{error}");
}

#[test]
fn builder_makes_a_plain_record() {
    let record = Usage::ApiCalls
        .record()
        .customer(customer())
        .at(hour())
        .quantity(q(1_250))
        .build();
    assert_eq!(record.dimension().as_str(), "api_calls");
    assert_eq!(record.quantity(), q(1_250));
    assert_eq!(record.timestamp(), hour());
    assert_eq!(record.customer(), &customer());
    assert!(record.allocations().is_none());
}

#[test]
fn parts_may_come_in_any_order() {
    let record = Usage::Seats
        .record()
        .quantity(q(3))
        .at(hour())
        .customer(customer())
        .build();
    assert_eq!(record.dimension().as_str(), "seats");
    assert_eq!(record.quantity(), q(3));
}

#[test]
fn allocations_sum_to_the_quantity() {
    let search = CostTags {
        team: "search".into(),
        environment: Env::Prod,
    };
    let ads = CostTags {
        team: "ads".into(),
        environment: Env::Staging,
    };
    let record = storage_record()
        .allocate(q(30), &search)
        .allocate(q(12), &ads)
        .build()
        .unwrap();
    assert_eq!(record.quantity(), q(42));
    let allocations = record.allocations().unwrap();
    assert_eq!(allocations.len(), 2);
    assert_eq!(allocations[1].quantity, q(12));
    assert_eq!(allocations[1].tags, Some(ads.tags().unwrap()));
}

#[test]
fn the_untagged_bucket_has_no_tags() {
    let team = CostTags {
        team: "search".into(),
        environment: Env::Prod,
    };
    let record = storage_record()
        .allocate(q(30), &team)
        .allocate_untagged(q(5))
        .build()
        .unwrap();
    assert_eq!(record.quantity(), q(35));
    assert_eq!(record.allocations().unwrap()[1].tags, None);
}

#[test]
fn prebuilt_tags_can_be_allocated() {
    let tags: Tags = CostTags {
        team: "t".into(),
        environment: Env::Prod,
    }
    .tags()
    .unwrap();
    let record = storage_record().allocate(q(5), &tags).build().unwrap();
    assert_eq!(record.allocations().unwrap()[0].tags, Some(tags));
}

#[test]
fn a_bad_string_tag_is_reported_by_build_with_its_allocation() {
    let good = CostTags {
        team: "ok".into(),
        environment: Env::Prod,
    };
    let bad = CostTags {
        team: "déjà".into(),
        environment: Env::Prod,
    };
    let error = storage_record()
        .allocate(q(1), &good)
        .allocate(q(1), &bad)
        .allocate(q(1), &good)
        .build()
        .unwrap_err();
    assert_eq!(error.field, "UsageAllocations[1].Tags[team].Value");
    assert_eq!(error.value, "déjà");
}

#[test]
fn allocation_sum_above_the_maximum_is_refused() {
    let tags = CostTags {
        team: "t".into(),
        environment: Env::Prod,
    };
    let error = storage_record()
        .allocate(Quantity::MAX, &tags)
        .allocate(Quantity::from_micros(1).unwrap(), &tags)
        .build()
        .unwrap_err();
    assert_eq!(error.field, "UsageAllocations");
}

#[test]
fn more_than_2500_allocations_are_refused() {
    let tags = CostTags {
        team: "t".into(),
        environment: Env::Prod,
    };
    let mut builder = storage_record().allocate(q(1), &tags);
    for _ in 1..2500 {
        builder = builder.allocate(q(1), &tags);
    }
    assert_eq!(builder.clone().build().unwrap().quantity(), q(2500));
    let error = builder.allocate(q(1), &tags).build().unwrap_err();
    assert_eq!(error.field, "UsageAllocations");
    assert!(error.to_string().contains("has 2501"), "{error}");
}

#[test]
fn licensed_customers_build_too() {
    let customer = Customer::Licensed {
        account: CustomerAwsAccountId::new("123456789012").unwrap(),
        license: LicenseArn::new("arn:aws:license-manager::123456789012:license:l-0123456789ab")
            .unwrap(),
    };
    let record = Usage::Seats
        .record()
        .customer(customer.clone())
        .at(hour())
        .quantity(q(1))
        .build();
    assert_eq!(record.customer(), &customer);
    assert!(record.customer().product().is_none());
}

#[test]
fn many_variants() {
    macro_rules! many {
        ($($v:ident)*) => {
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
            #[metering(rename_all = "SCREAMING_SNAKE_CASE")]
            enum Big { $($v),* }
            let expected = [$(stringify!($v)),*];
            assert_eq!(Big::ALL.len(), expected.len());
            for (dimension, name) in Big::ALL.iter().zip(expected) {
                assert_eq!(dimension.as_str(), name.to_ascii_uppercase());
                assert_eq!(Big::from_key(dimension.as_str()), Some(*dimension));
            }
        };
    }
    many!(
        A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 B0 B1 B2 B3 B4 B5 B6 B7 B8 B9 C0 C1 C2 C3 C4 C5 C6 C7 C8 C9
        D0 D1 D2 D3 D4 D5 D6 D7 D8 D9 E0 E1 E2 E3 E4 E5 E6 E7 E8 E9 F0 F1 F2 F3 F4 F5 F6 F7 F8 F9
        G0 G1 G2 G3 G4 G5 G6 G7 G8 G9 H0 H1 H2 H3 H4 H5 H6 H7 H8 H9 I0 I1 I2 I3 I4 I5 I6 I7 I8 I9
    );
}

#[test]
fn catalog_checked_enum() {
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
    #[metering(
        rename_all = "snake_case",
        catalog = "metering-derive/tests/ui/catalog/dimensions.json"
    )]
    enum Catalogued {
        ApiCalls,
        StorageGbHours,
        Seats,
    }
    assert_eq!(Catalogued::ALL.len(), 3);
    assert_eq!(Catalogued::StorageGbHours.as_str(), "storage_gb_hours");
}

#[test]
fn catalog_as_the_catalog_api_describes_the_product() {
    // `DescribeEntity`'s answer as saved from the Catalog API; its `enterprise_seats` is a
    // contract dimension (`Entitled`), not metered, so no variant names it.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
    #[metering(
        rename_all = "snake_case",
        catalog = "examples/catalog/describe-entity.json"
    )]
    enum Product {
        ApiCalls,
        StorageGbHours,
    }
    assert_eq!(Product::ALL, &[Product::ApiCalls, Product::StorageGbHours]);
}

/// A crate that shadows the prelude's `Result`, `Option`, `Some`, `Ok` and `Vec`.
mod shadowed_prelude {
    #![allow(dead_code)]
    type Result<T> = ::core::result::Result<T, ()>;
    type Option = ();
    struct Vec;
    struct Some;
    struct Ok;
    mod core {}
    mod std {}

    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
    pub(crate) enum Usage {
        Calls,
    }

    #[derive(marketplace_metering::ToTagValue)]
    pub(crate) enum Env {
        Prod,
    }

    #[derive(marketplace_metering::UsageTags)]
    pub(crate) struct Tags {
        pub env: Env,
    }
}

#[test]
fn derives_work_beside_shadowed_prelude_names() {
    assert_eq!(shadowed_prelude::Usage::Calls.as_str(), "Calls");
    let tags = shadowed_prelude::Tags {
        env: shadowed_prelude::Env::Prod,
    };
    assert_eq!(tags.tags().unwrap().as_slice()[0].value.as_str(), "Prod");
}

/// A crate that re-exports `metering` under another name and points the derives at it.
mod reexporter {
    pub(crate) mod my_metering {
        pub(crate) use marketplace_metering::*;
    }
}

mod through_a_reexport {
    use super::reexporter::my_metering;

    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, my_metering::Dimension)]
    #[metering(crate = "super::reexporter::my_metering")]
    pub(crate) enum Usage {
        Calls,
    }

    #[derive(my_metering::ToTagValue)]
    #[metering(crate = "super::reexporter::my_metering")]
    pub(crate) enum Env {
        Prod,
    }

    #[derive(my_metering::UsageTags)]
    #[metering(crate = "super::reexporter::my_metering")]
    pub(crate) struct Tags {
        pub env: Env,
    }
}

#[test]
fn crate_attribute_for_reexporters() {
    use reexporter::my_metering::{Dimension as _, UsageTags as _};
    assert_eq!(through_a_reexport::Usage::Calls.as_str(), "Calls");
    let tags = through_a_reexport::Tags {
        env: through_a_reexport::Env::Prod,
    };
    assert_eq!(tags.tags().unwrap().as_slice()[0].key.as_str(), "env");
}

/// Deprecated fields and variants: the derives' impls name them, yet the user's crate is not
/// warned (under `deny(warnings)` a warning would not compile).
#[deny(warnings)]
mod deprecated_items {
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, marketplace_metering::Dimension)]
    pub(super) enum Usage {
        Calls,
        #[deprecated = "billed as Calls since 2026"]
        LegacyCalls,
    }

    #[derive(marketplace_metering::ToTagValue)]
    pub(super) enum Env {
        Prod,
        #[deprecated]
        Qa,
    }

    #[derive(marketplace_metering::UsageTags)]
    pub(super) struct Tags {
        pub(super) env: Env,
        #[deprecated = "use env"]
        pub(super) stage: String,
    }

    #[deprecated]
    #[derive(marketplace_metering::UsageTags)]
    pub(super) struct OldTags {
        pub(super) team: String,
    }
}

#[test]
#[allow(deprecated)]
fn deprecated_fields_and_variants_are_still_used() {
    use deprecated_items::{Env, OldTags, Tags, Usage};
    assert_eq!(Usage::ALL, &[Usage::Calls, Usage::LegacyCalls]);
    assert_eq!(Env::Qa.to_tag_value().unwrap().as_str(), "Qa");
    let tags = Tags {
        env: Env::Prod,
        stage: "blue".into(),
    };
    let tags = tags.tags().unwrap();
    let keys: Vec<&str> = tags.as_slice().iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["env", "stage"]);
    let old = OldTags { team: "t".into() };
    assert_eq!(old.tags().unwrap().as_slice()[0].key.as_str(), "team");
}

#[test]
fn dimensions_from_configuration_are_checked_with_a_suggestion() {
    assert_eq!("storage_gb_hours".parse::<Usage>(), Ok(Usage::Storage));
    assert_eq!(Usage::parse_key("seats"), Ok(Usage::Seats));

    let typo = "api_cals".parse::<Usage>().unwrap_err();
    assert_eq!(typo.value, "api_cals");
    assert_eq!(typo.suggestion, Some("api_calls"));
    assert_eq!(
        typo.to_string(),
        r#"unknown dimension "api_cals": did you mean "api_calls"?"#
    );

    let case = "SEATS".parse::<Usage>().unwrap_err();
    assert_eq!(
        case.to_string(),
        r#"unknown dimension "SEATS": did you mean "seats"? (keys are case-sensitive)"#
    );

    let far = "bandwidth".parse::<Usage>().unwrap_err();
    assert_eq!(far.suggestion, None);
    assert_eq!(
        far.to_string(),
        r#"unknown dimension "bandwidth": expected one of "api_calls", "storage_gb_hours", "seats""#
    );
}

#[derive(UsageTags)]
struct OptionalTags<'a> {
    team: &'a str,
    env: Option<Env>,
    project: ::core::option::Option<String>,
}

#[test]
fn a_none_tag_is_left_out() {
    let keys = |tags: &OptionalTags<'_>| -> Vec<String> {
        let tags = tags.tags().unwrap();
        tags.as_slice()
            .iter()
            .map(|t| format!("{}={}", t.key.as_str(), t.value.as_str()))
            .collect()
    };
    let all = OptionalTags {
        team: "search",
        env: Some(Env::Prod),
        project: Some("p1".into()),
    };
    assert_eq!(keys(&all), ["team=search", "env=prod", "project=p1"]);
    let some = OptionalTags {
        team: "search",
        env: None,
        project: Some("p1".into()),
    };
    assert_eq!(keys(&some), ["team=search", "project=p1"]);
    let bare = OptionalTags {
        team: "ads",
        env: None,
        project: None,
    };
    assert_eq!(keys(&bare), ["team=ads"]);
    // A present value is still checked.
    let bad = OptionalTags {
        team: "ads",
        env: None,
        project: Some("a>b".into()),
    };
    assert_eq!(bad.tags().unwrap_err().field, "Tags[project].Value");
}
