//! Step 1: the JSON types of a request, read loosely (every member optional, `null` as
//! absent, unknown members ignored, strings borrowed from the body where they have no escapes).

use std::borrow::Cow;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A string member, borrowed from the body unless it has escapes.
pub(super) struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A number member as sent. Its text is kept: `serde_json` reads an integer beyond 64 bits
/// as a float, which would lose the digits an error must quote.
#[derive(Clone, Copy)]
pub(super) struct NumberText<'a>(pub(super) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for NumberText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <&'a RawValue>::deserialize(deserializer)?.get();
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Self(text))
        } else {
            Err(D::Error::custom(format_args!(
                "invalid type: {text:.40}, expected a number"
            )))
        }
    }
}

impl NumberText<'_> {
    /// Whether it is written as an integer (no fraction, no exponent).
    pub(super) fn is_integer(self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }
}

/// A JSON object read into `T`. Serde's derived structs also accept a JSON array of their
/// members in order, which AWS JSON does not: without this, `["prod-1", []]` would pass as a
/// request, and an array record would be echoed back where an SDK expects an object.
pub(super) struct Object<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(Object)
    }
}

impl<T> std::ops::Deref for Object<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The request's members.
#[derive(Deserialize)]
pub(super) struct RequestIn<'a> {
    #[serde(rename = "ProductCode", borrow, default)]
    pub(super) product_code: Option<Text<'a>>,
    #[serde(rename = "UsageRecords", borrow, default)]
    pub(super) usage_records: Option<Vec<&'a RawValue>>,
}

/// A `UsageRecords` entry's members.
#[derive(Deserialize)]
pub(super) struct RecordIn<'a> {
    #[serde(rename = "Timestamp", borrow, default)]
    pub(super) timestamp: Option<NumberText<'a>>,
    #[serde(rename = "CustomerIdentifier", borrow, default)]
    pub(super) customer_identifier: Option<Text<'a>>,
    #[serde(rename = "CustomerAWSAccountId", borrow, default)]
    pub(super) customer_aws_account_id: Option<Text<'a>>,
    #[serde(rename = "LicenseArn", borrow, default)]
    pub(super) license_arn: Option<Text<'a>>,
    #[serde(rename = "Dimension", borrow, default)]
    pub(super) dimension: Option<Text<'a>>,
    #[serde(rename = "Quantity", borrow, default)]
    pub(super) quantity: Option<NumberText<'a>>,
    #[serde(rename = "QuantityAsDecimal", borrow, default)]
    pub(super) quantity_as_decimal: Option<Text<'a>>,
    #[serde(rename = "UsageAllocations", borrow, default)]
    pub(super) usage_allocations: Option<Vec<Object<AllocationIn<'a>>>>,
}

/// A `UsageAllocations` entry's members.
#[derive(Deserialize)]
pub(super) struct AllocationIn<'a> {
    #[serde(rename = "AllocatedUsageQuantity", borrow, default)]
    pub(super) quantity: Option<NumberText<'a>>,
    #[serde(rename = "AllocatedUsageQuantityAsDecimal", borrow, default)]
    pub(super) quantity_as_decimal: Option<Text<'a>>,
    #[serde(rename = "Tags", borrow, default)]
    pub(super) tags: Option<Vec<Object<TagIn<'a>>>>,
}

/// A `Tags` entry's members.
#[derive(Deserialize)]
pub(super) struct TagIn<'a> {
    #[serde(rename = "Key", borrow, default)]
    pub(super) key: Option<Text<'a>>,
    #[serde(rename = "Value", borrow, default)]
    pub(super) value: Option<Text<'a>>,
}
