//! The service's constrained strings, each a type that cannot hold a value the model rejects.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::str::FromStr;

use metering_rules::StringRule;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

macro_rules! string_types {
    ($($(#[$doc:meta])* $name:ident: $rule:path, $field:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Cow<'static, str>);

        impl $name {
            /// The wire field this type fills.
            pub const FIELD: &'static str = $field;
            /// The service-model rule every value satisfies.
            pub const RULE: StringRule = $rule;

            /// Validates `value`.
            ///
            /// # Errors
            /// A [`ValidationError`] naming the field, the rule and the value.
            pub fn new(value: impl Into<Cow<'static, str>>) -> Result<Self, ValidationError> {
                let value = value.into();
                match Self::RULE.check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(violation) => Err(ValidationError::new($field, violation.into(), value)),
                }
            }

            /// The value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::new(value.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&'static str> for $name {
            type Error = ValidationError;
            fn try_from(value: &'static str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into_owned()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

string_types! {
    /// A usage dimension's key, as the product lists it (`Dimension`, 1..=255 characters).
    ///
    /// Sellers normally get these from an enum deriving `Dimension` rather than by hand.
    DimensionKey: metering_rules::DIMENSION, "Dimension";
    /// The product code the seller was given when publishing (`ProductCode`).
    ProductCode: metering_rules::PRODUCT_CODE, "ProductCode";
    /// The customer's AWS account ID (`CustomerAWSAccountId`, 1..=255 digits).
    CustomerAwsAccountId: metering_rules::CUSTOMER_AWS_ACCOUNT_ID, "CustomerAWSAccountId";
    /// The ARN of the customer's licence, for Concurrent Agreements (`LicenseArn`).
    LicenseArn: metering_rules::LICENSE_ARN, "LicenseArn";
    /// The legacy customer identifier returned by `ResolveCustomer` (`CustomerIdentifier`).
    CustomerIdentifier: metering_rules::CUSTOMER_IDENTIFIER, "CustomerIdentifier";
    /// The key of an allocation tag (`Key`, 1..=100 tag characters).
    TagKey: metering_rules::TAG_KEY, "Key";
    /// The value of an allocation tag (`Value`, 1..=256 tag characters).
    TagValue: metering_rules::TAG_VALUE, "Value";
}
