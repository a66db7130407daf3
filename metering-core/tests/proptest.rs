//! Property tests: our validators agree with the service model's patterns and bounds, both
//! ways: on arbitrary strings, and on strings generated from the model's own patterns.

use metering_core::{
    CustomerAwsAccountId, DimensionKey, LicenseArn, ProductCode, Quantity, TagKey, TagValue,
};
use proptest::prelude::*;
use proptest::string::string_regex;
use regex::Regex;
use serde_json::Value;

fn model_shape(name: &str) -> (Option<usize>, Option<usize>, Regex) {
    let model: Value = serde_json::from_str(include_str!(
        "aws-model/meteringmarketplace-2016-01-14.service-2.json"
    ))
    .unwrap();
    let shape = &model["shapes"][name];
    let bound = |key: &str| shape[key].as_u64().map(|v| usize::try_from(v).unwrap());
    (
        bound("min"),
        bound("max"),
        Regex::new(shape["pattern"].as_str().unwrap()).unwrap(),
    )
}

fn model_accepts(name: &str, value: &str) -> bool {
    let (min, max, pattern) = model_shape(name);
    let len = value.chars().count();
    min.is_none_or(|m| len >= m) && max.is_none_or(|m| len <= m) && pattern.is_match(value)
}

fn ours(name: &str, value: &str) -> bool {
    let v = value.to_owned();
    match name {
        "UsageDimension" => DimensionKey::new(v).is_ok(),
        "ProductCode" => ProductCode::new(v).is_ok(),
        "CustomerAWSAccountId" => CustomerAwsAccountId::new(v).is_ok(),
        "LicenseArn" => LicenseArn::new(v).is_ok(),
        "TagKey" => TagKey::new(v).is_ok(),
        "TagValue" => TagValue::new(v).is_ok(),
        "UsageQuantityAsDecimalString" => value.parse::<Quantity>().is_ok(),
        other => unreachable!("{other}"),
    }
}

const SHAPES: [&str; 7] = [
    "UsageDimension",
    "ProductCode",
    "CustomerAWSAccountId",
    "LicenseArn",
    "TagKey",
    "TagValue",
    "UsageQuantityAsDecimalString",
];

/// Strings near the interesting alphabet: digits, letters, the tag range's edges, the ARN's
/// punctuation, and a few characters every shape rejects.
fn near_miss() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "09azAZ .:-/=_@+,!<>?[]^`{|}~\u{7f}é日\narnws"
        .chars()
        .collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..300).prop_map(String::from_iter)
}

/// Strings generated from each shape's model pattern, with `+` and `*` bounded to reach just
/// past the length limits.
fn from_model_patterns() -> impl Strategy<Value = (&'static str, String)> {
    (0..SHAPES.len()).prop_flat_map(|index| {
        let name = SHAPES[index];
        let source = model_shape(name)
            .2
            .as_str()
            .trim_start_matches('^')
            .trim_end_matches('$')
            .replace("[\\s\\S]", "[ -~é]")
            .replace("]+", "]{1,300}")
            .replace("]*", "]{0,300}");
        (Just(name), string_regex(&source).expect("model pattern"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_strings_agree(value in near_miss(), index in 0..SHAPES.len()) {
        let name = SHAPES[index];
        prop_assert_eq!(ours(name, &value), model_accepts(name, &value), "{} {:?}", name, value);
    }

    #[test]
    fn strings_from_the_models_patterns_agree((name, value) in from_model_patterns()) {
        prop_assert!(model_shape(name).2.is_match(&value));
        prop_assert_eq!(ours(name, &value), model_accepts(name, &value), "{} {:?}", name, value);
    }

    #[test]
    fn tag_values_with_a_mutation_agree(value in "[a-zA-Z0-9+ -=._:/@]{1,256}", at in 0usize..256, ch in any::<char>()) {
        let mut chars: Vec<char> = value.chars().collect();
        let at = at % chars.len();
        chars[at] = ch;
        let mutated: String = chars.into_iter().collect();
        prop_assert_eq!(ours("TagValue", &mutated), model_accepts("TagValue", &mutated));
        prop_assert_eq!(ours("TagKey", &mutated), model_accepts("TagKey", &mutated));
    }
}
