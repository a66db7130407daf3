//! Conformance with the service model: every constrained field, at each of its boundaries
//! and one past it, is accepted or rejected exactly as `aws-model/` says. The bounds and
//! patterns are read from the model, not copied.

use std::sync::LazyLock;

use metering_core::{
    Customer, CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode,
    Quantity, StringRule, Tag, TagKey, TagValue, Tags, Timestamp, UsageAllocation, UsageRecord,
    limits,
};
use regex::Regex;
use serde_json::Value;

static MODEL: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!(
        "aws-model/meteringmarketplace-2016-01-14.service-2.json"
    ))
    .expect("the committed model is JSON")
});

fn shape(name: &str) -> &'static Value {
    &MODEL["shapes"][name]
}

fn bound(name: &str, key: &str) -> Option<usize> {
    shape(name)[key]
        .as_u64()
        .map(|v| usize::try_from(v).expect("a bound fits usize"))
}

/// The model's own verdict: length bounds (in characters) and the pattern, searched as
/// ECMA-262 does (the model's patterns are anchored where they mean to be).
fn model_accepts(name: &str, value: &str) -> bool {
    let len = value.chars().count();
    let pattern = shape(name)["pattern"].as_str().unwrap_or("");
    bound(name, "min").is_none_or(|min| len >= min)
        && bound(name, "max").is_none_or(|max| len <= max)
        && Regex::new(pattern).expect("model pattern").is_match(value)
}

/// A model string shape and how our code judges a value of it.
struct Field {
    shape: &'static str,
    ours: fn(&str) -> bool,
    rule: Option<StringRule>,
}

fn fields() -> Vec<Field> {
    vec![
        Field {
            shape: "UsageDimension",
            ours: |v| DimensionKey::new(v.to_owned()).is_ok(),
            rule: Some(DimensionKey::RULE),
        },
        Field {
            shape: "ProductCode",
            ours: |v| ProductCode::new(v.to_owned()).is_ok(),
            rule: Some(ProductCode::RULE),
        },
        Field {
            shape: "CustomerAWSAccountId",
            ours: |v| CustomerAwsAccountId::new(v.to_owned()).is_ok(),
            rule: Some(CustomerAwsAccountId::RULE),
        },
        Field {
            shape: "LicenseArn",
            ours: |v| LicenseArn::new(v.to_owned()).is_ok(),
            rule: Some(LicenseArn::RULE),
        },
        Field {
            shape: "TagKey",
            ours: |v| TagKey::new(v.to_owned()).is_ok(),
            rule: Some(TagKey::RULE),
        },
        Field {
            shape: "TagValue",
            ours: |v| TagValue::new(v.to_owned()).is_ok(),
            rule: Some(TagValue::RULE),
        },
        Field {
            shape: "UsageQuantityAsDecimalString",
            ours: |v| v.parse::<Quantity>().is_ok(),
            rule: Some(metering_core::QUANTITY_DECIMAL),
        },
        Field {
            shape: "AllocatedUsageQuantityAsDecimalString",
            ours: |v| v.parse::<Quantity>().is_ok(),
            rule: None,
        },
    ]
}

/// The one place we are stricter than the model, and why: see `CustomerIdentifier`.
fn customer_identifier_ours(value: &str) -> bool {
    CustomerIdentifier::new(value.to_owned()).is_ok()
}

#[test]
fn our_rules_state_the_models_bounds_and_patterns() {
    for field in fields() {
        let Some(rule) = field.rule else { continue };
        assert_eq!(rule.shape, field.shape);
        assert_eq!(
            Some(rule.min),
            bound(field.shape, "min").or(Some(0)),
            "{}",
            field.shape
        );
        assert_eq!(rule.max, bound(field.shape, "max"), "{}", field.shape);
        assert_eq!(
            rule.pattern,
            shape(field.shape)["pattern"].as_str().unwrap(),
            "{}",
            field.shape
        );
    }
    assert_eq!(
        CustomerIdentifier::RULE.max,
        bound("CustomerIdentifier", "max")
    );
    assert_eq!(
        bound("CustomerIdentifier", "min"),
        Some(0),
        "model still allows empty"
    );
    assert_eq!(
        CustomerIdentifier::RULE.min,
        1,
        "empty counts as absent, see the rule's docs"
    );
}

/// A character the shape's pattern accepts, to fill strings of a given length.
fn filler(name: &str) -> char {
    ['a', '1', '0']
        .into_iter()
        .find(|&c| {
            Regex::new(shape(name)["pattern"].as_str().unwrap())
                .unwrap()
                .is_match(&c.to_string())
        })
        .expect("a filler character")
}

#[test]
fn string_length_boundaries() {
    let mut checked = 0;
    for field in fields().iter().filter(|f| !f.shape.contains("Decimal")) {
        let (Some(min), Some(max)) = (bound(field.shape, "min"), bound(field.shape, "max")) else {
            continue;
        };
        let fill = filler(field.shape);
        for len in [
            min.checked_sub(1),
            Some(min),
            Some(min + 1),
            Some(max - 1),
            Some(max),
            Some(max + 1),
        ]
        .into_iter()
        .flatten()
        {
            let value: String = std::iter::repeat_n(fill, len).collect();
            let expected = model_accepts(field.shape, &value);
            assert_eq!(
                (field.ours)(&value),
                expected,
                "{} of length {len}",
                field.shape
            );
            checked += 1;
        }
    }
    // CustomerIdentifier: the same boundaries, except that empty means absent.
    for len in [0, 1, 255, 256] {
        let value = "c".repeat(len);
        let expected = len > 0 && model_accepts("CustomerIdentifier", &value);
        assert_eq!(
            customer_identifier_ours(&value),
            expected,
            "CustomerIdentifier of length {len}"
        );
    }
    assert!(checked >= 24, "every bounded shape was checked ({checked})");
}

#[test]
fn every_ascii_character_and_some_beyond() {
    let extra = ['é', 'ß', '€', '日', '\u{a0}', '\u{1F600}'];
    for field in fields() {
        let min = bound(field.shape, "min").unwrap_or(0).max(1);
        for ch in (0u8..128).map(char::from).chain(extra) {
            let value: String = std::iter::repeat_n(ch, min).collect();
            assert_eq!(
                (field.ours)(&value),
                model_accepts(field.shape, &value),
                "{} with {ch:?}",
                field.shape
            );
        }
    }
}

#[test]
fn tag_pattern_range_quirk() {
    // ` -=` is a range from space to `=`: these are legal tag characters...
    for ch in "!\"#$%&'()*,;<".chars() {
        assert!(
            model_accepts("TagKey", &ch.to_string()),
            "model allows {ch:?}"
        );
        assert!(TagKey::new(ch.to_string()).is_ok(), "{ch:?}");
        assert!(TagValue::new(ch.to_string()).is_ok(), "{ch:?}");
    }
    // ...and these are not.
    for ch in ">?[\\]^`{|}~".chars() {
        assert!(
            !model_accepts("TagKey", &ch.to_string()),
            "model rejects {ch:?}"
        );
        let err = TagKey::new(format!("ab{ch}")).unwrap_err();
        assert_eq!(err.field, "Key");
        assert!(
            err.to_string().contains(&format!("{ch:?} at position 2")),
            "{err}"
        );
    }
}

#[test]
fn license_arn_segment_boundaries() {
    let arn = |service: usize, region: usize, account: usize, resource: usize| {
        format!(
            "arn:aws:{}:{}:{}:{}",
            "s".repeat(service),
            "r".repeat(region),
            "1".repeat(account),
            "l".repeat(resource)
        )
    };
    for (service, region, account, resource) in [
        (1, 0, 0, 1),
        (63, 63, 63, 1024),
        (64, 0, 0, 1),
        (1, 64, 0, 1),
        (1, 0, 64, 1),
        (1, 0, 0, 1025),
        (0, 0, 0, 1),
        (1, 0, 0, 0),
    ] {
        let value = arn(service, region, account, resource);
        assert_eq!(
            LicenseArn::new(value.clone()).is_ok(),
            model_accepts("LicenseArn", &value),
            "segments {service}/{region}/{account}/{resource}"
        );
    }
    for value in [
        "arn:aws-us-gov:license-manager::1:license:l-1",
        "arn:aws:s:r:a:x:y:z",
        "arn:awsX:s:::x",
    ] {
        assert_eq!(
            LicenseArn::new(value).is_ok(),
            model_accepts("LicenseArn", value),
            "{value}"
        );
    }
}

#[test]
fn decimal_quantity_boundaries() {
    for value in [
        "0",
        "00",
        "1",
        "01",
        "9999999999",
        "99999999999",
        "0.5",
        "0.",
        ".5",
        "1.123456",
        "1.1234567",
        "9999999999.999999",
        "10000000000.0",
        "-1",
        "+1",
        "1e3",
        " 1",
        "1.0",
    ] {
        for name in [
            "UsageQuantityAsDecimalString",
            "AllocatedUsageQuantityAsDecimalString",
        ] {
            assert_eq!(
                value.parse::<Quantity>().is_ok(),
                model_accepts(name, value),
                "{name} {value:?}"
            );
        }
    }
}

#[test]
fn integer_quantity_boundaries() {
    for name in ["UsageQuantity", "AllocatedUsageQuantity"] {
        let (min, max) = (
            bound(name, "min").unwrap(),
            bound(name, "max").unwrap() as u64,
        );
        assert_eq!(min, 0);
        let field = |units: u64| Quantity::from_integer_field(i64::try_from(units).unwrap());
        assert!(field(max).is_ok(), "{name} max");
        assert!(field(max + 1).is_err(), "{name} max + 1");
        assert!(Quantity::from_integer_field(-1).is_err(), "{name} min - 1");
        assert_eq!(field(max).unwrap().as_integer(), Some(i32::MAX));
        // Beyond the integer field, the same value is still a quantity: sent as a decimal.
        assert_eq!(Quantity::new(max + 1).unwrap().as_integer(), None);
    }
}

fn tags(n: usize) -> Vec<Tag> {
    (0..n)
        .map(|i| {
            Tag::new(
                TagKey::new(format!("k{i}")).unwrap(),
                TagValue::new("v").unwrap(),
            )
        })
        .collect()
}

fn customer() -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-1").unwrap(),
        account: CustomerAwsAccountId::new("123456789012").unwrap(),
    }
}

#[test]
fn list_boundaries() {
    let (min, max) = (
        bound("TagList", "min").unwrap(),
        bound("TagList", "max").unwrap(),
    );
    assert!(Tags::new(tags(min - 1)).is_err());
    assert!(Tags::new(tags(min)).is_ok());
    assert!(Tags::new(tags(max)).is_ok());
    let err = Tags::new(tags(max + 1)).unwrap_err();
    assert_eq!(
        (
            err.field.as_str(),
            err.to_string().contains("must have 1..=5 entries, has 6")
        ),
        ("Tags", true),
        "{err}"
    );

    let (min, max) = (
        bound("UsageAllocations", "min").unwrap(),
        bound("UsageAllocations", "max").unwrap(),
    );
    let allocations =
        |n: usize| vec![UsageAllocation::new(Quantity::from(1), Tags::new(tags(1)).unwrap()); n];
    let record = |n| {
        UsageRecord::with_allocations(
            customer(),
            DimensionKey::new("d").unwrap(),
            Timestamp::now(),
            allocations(n),
        )
    };
    assert!(record(min - 1).is_err());
    assert_eq!(record(min).unwrap().quantity(), Quantity::from(1));
    assert_eq!(record(max).unwrap().quantity(), Quantity::from(2500));
    assert_eq!(record(max + 1).unwrap_err().field, "UsageAllocations");

    assert_eq!(
        bound("UsageRecordList", "max"),
        Some(limits::MAX_RECORDS_PER_REQUEST)
    );
    assert_eq!(bound("UsageRecordList", "min"), Some(0));
}

#[test]
fn required_members_are_required() {
    let required: Vec<&str> = shape("UsageRecord")["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["Timestamp", "Dimension"]);
    let base = serde_json::json!({
        "Timestamp": 1_764_151_200, "Dimension": "d", "CustomerAWSAccountId": "1",
        "ProductCode": "p", "Quantity": 1
    });
    for field in required {
        let mut entry = base.clone();
        entry.as_object_mut().unwrap().remove(field);
        let err = serde_json::from_value::<UsageRecord>(entry)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{field}: is required")), "{err}");
    }
    assert!(serde_json::from_value::<UsageRecord>(base).is_ok());
}
