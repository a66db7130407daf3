//! An exact usage quantity: integers today, the model's decimals when the SDK sends them.

use std::fmt;
use std::str::FromStr;

use metering_rules::limits::{DECIMAL_FRACTION_DIGITS, MAX_INTEGER_QUANTITY};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Rule, ValidationError};

const SCALE: u64 = 10u64.pow(DECIMAL_FRACTION_DIGITS);

/// An exact, non-negative quantity of usage, held in millionths (no floats anywhere).
///
/// One rule, however a quantity is made ([`new`](Self::new), `TryFrom`, parsing, serde):
/// 0..=9999999999.999999, the range of the model's `QuantityAsDecimal` (10 integer and 6
/// fraction digits). The integer `Quantity` field (int32, deprecated since 2026-10-20) is
/// only a way to send one: a quantity that fits it is sent as an integer, any other as a
/// decimal. Only a reader of that integer field applies its narrower range
/// ([`from_integer_field`](Self::from_integer_field)). Equality is by value, as the service
/// compares duplicates: 17 = 17.0.
///
/// ```
/// use metering_core::Quantity;
///
/// let calls = Quantity::new(3)?;
/// let storage: Quantity = "0.25".parse()?; // exact: no float on the way
/// assert_eq!(calls, "3.0".parse()?);
/// assert_eq!(calls.as_integer(), Some(3)); // sent in the integer field
/// assert_eq!(storage.as_integer(), None); // sent as `QuantityAsDecimal`
/// assert_eq!(calls.checked_add(storage), Some("3.25".parse()?));
/// assert!(Quantity::new(10_000_000_000).is_err()); // above the service's largest
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    micros: u64,
}

impl Quantity {
    /// No usage.
    pub const ZERO: Self = Self { micros: 0 };
    /// The largest quantity the service accepts (`9999999999.999999`).
    pub const MAX: Self = Self {
        micros: 10_000_000_000 * SCALE - 1,
    };

    /// A whole number of units, 0..=9999999999; above 2147483647 it is sent as
    /// `QuantityAsDecimal`.
    ///
    /// # Errors
    /// When `units` is above 9999999999, the largest whole quantity.
    pub fn new(units: u64) -> Result<Self, ValidationError> {
        if units > Self::MAX.micros / SCALE {
            return Err(ValidationError::new("Quantity", Rule::Quantity, units));
        }
        Ok(Self {
            micros: units * SCALE,
        })
    }

    /// The value of the integer `Quantity` or `AllocatedUsageQuantity` wire field, whose
    /// model range is int32's 0..=2147483647 (larger quantities travel as decimals).
    ///
    /// ```
    /// use metering_core::Quantity;
    ///
    /// assert_eq!(Quantity::from_integer_field(7)?, Quantity::new(7)?);
    /// assert!(Quantity::from_integer_field(-1).is_err());
    /// assert!(Quantity::from_integer_field(2_147_483_648).is_err()); // sent as a decimal instead
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When `units` is outside 0..=2147483647.
    pub fn from_integer_field(units: i64) -> Result<Self, ValidationError> {
        match u64::try_from(units) {
            Ok(whole) if whole <= MAX_INTEGER_QUANTITY => Self::new(whole),
            _ => Err(ValidationError::new(
                "Quantity",
                Rule::IntegerQuantity,
                units,
            )),
        }
    }

    /// A quantity from millionths of a unit (`1_500_000` is 1.5).
    ///
    /// ```
    /// use metering_core::Quantity;
    ///
    /// let storage = Quantity::from_micros(1_500_000)?;
    /// assert_eq!(storage, "1.5".parse()?);
    /// assert_eq!(storage.micros(), 1_500_000);
    /// assert!(Quantity::from_micros(Quantity::MAX.micros() + 1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When the value is above [`Quantity::MAX`].
    pub fn from_micros(micros: u64) -> Result<Self, ValidationError> {
        if micros > Self::MAX.micros {
            let shown = Self { micros }.to_string();
            return Err(ValidationError::new(
                "QuantityAsDecimal",
                Rule::Quantity,
                shown,
            ));
        }
        Ok(Self { micros })
    }

    /// The quantity in millionths of a unit.
    #[must_use]
    pub const fn micros(self) -> u64 {
        self.micros
    }

    /// The quantity as the integer `Quantity` field carries it, when it is a whole number
    /// no larger than 2147483647.
    #[must_use]
    pub fn as_integer(self) -> Option<i32> {
        if self.micros.is_multiple_of(SCALE) {
            i32::try_from(self.micros / SCALE).ok()
        } else {
            None
        }
    }

    /// The sum, or `None` when it would exceed [`Quantity::MAX`].
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.micros
            .checked_add(other.micros)
            .filter(|&micros| micros <= Self::MAX.micros)
            .map(|micros| Self { micros })
    }

    /// The sum of `quantities`, or `None` when it would exceed [`Quantity::MAX`].
    ///
    /// ```
    /// use metering_core::Quantity;
    ///
    /// let parts = [Quantity::new(2)?, "0.5".parse()?];
    /// assert_eq!(Quantity::checked_sum(parts), Some("2.5".parse()?));
    /// assert_eq!(Quantity::checked_sum([Quantity::MAX, Quantity::new(1)?]), None);
    /// assert!(Quantity::checked_sum([]).is_some_and(Quantity::is_zero));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_sum(quantities: impl IntoIterator<Item = Self>) -> Option<Self> {
        quantities
            .into_iter()
            .try_fold(Self::ZERO, Self::checked_add)
    }

    /// Whether this is zero.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.micros == 0
    }
}

macro_rules! from_integer {
    ($($int:ty),*) => {$(
        impl TryFrom<$int> for Quantity {
            type Error = ValidationError;
            fn try_from(units: $int) -> Result<Self, Self::Error> {
                u64::try_from(units)
                    .map_err(|_| ValidationError::new("Quantity", Rule::Quantity, units))
                    .and_then(Self::new)
            }
        }
    )*};
}
from_integer!(u32, u64, usize, i32, i64);

impl From<u16> for Quantity {
    fn from(units: u16) -> Self {
        Self {
            micros: u64::from(units) * SCALE,
        }
    }
}

impl FromStr for Quantity {
    type Err = ValidationError;

    /// Parses the model's decimal form, `^(0|[1-9][0-9]{0,9})(\.[0-9]{1,6})?$`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        metering_rules::QUANTITY_DECIMAL
            .check(value)
            .map_err(|violation| {
                ValidationError::new("QuantityAsDecimal", violation.into(), value)
            })?;
        // The rule accepted it, so parsing succeeds and stays within MAX.
        let micros = metering_rules::parse_decimal_micros(value).unwrap_or_default();
        Ok(Self { micros })
    }
}

impl fmt::Display for Quantity {
    /// The decimal form the service accepts: `17`, `17.5`, `0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, fraction) = (self.micros / SCALE, self.micros % SCALE);
        if fraction == 0 {
            return f.pad_integral(true, "", &units.to_string());
        }
        let digits = format!("{fraction:06}");
        f.pad(&format!("{units}.{}", digits.trim_end_matches('0')))
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl Serialize for Quantity {
    /// An integer when [`Quantity::as_integer`] allows, otherwise the decimal string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_integer() {
            Some(units) => serializer.serialize_i32(units),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// A whole number 0..=9999999999 or the model's decimal string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Integer(i64),
            Decimal(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Integer(units) => Self::try_from(units),
            Raw::Decimal(text) => text.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bounds() {
        assert_eq!(
            Quantity::new(2_147_483_647).unwrap().as_integer(),
            Some(i32::MAX)
        );
        assert_eq!(Quantity::new(2_147_483_648).unwrap().as_integer(), None);
        let err = Quantity::new(10_000_000_000).unwrap_err();
        assert_eq!(err.field, "Quantity");
        assert_eq!(err.value, "10000000000");
        assert!(Quantity::try_from(-1i64).is_err());
    }

    /// Made from an integer or parsed from text, a quantity obeys one rule: the same
    /// values are accepted, equal, and sent the same way.
    #[test]
    fn one_rule_whichever_way_a_quantity_is_made() {
        for units in [
            0,
            1,
            2_147_483_647,
            2_147_483_648,
            3_000_000_000,
            9_999_999_999,
        ] {
            let made = Quantity::new(units).unwrap();
            assert_eq!(units.to_string().parse::<Quantity>().unwrap(), made);
            assert_eq!(Quantity::try_from(units).unwrap(), made);
            let json = serde_json::to_string(&made).unwrap();
            assert_eq!(serde_json::from_str::<Quantity>(&json).unwrap(), made);
            assert_eq!(
                serde_json::from_str::<Quantity>(&units.to_string()).unwrap(),
                made
            );
        }
        assert!(Quantity::new(10_000_000_000).is_err());
        assert!("10000000000".parse::<Quantity>().is_err());
        assert!(serde_json::from_str::<Quantity>("10000000000").is_err());
        // Only the integer wire field is int32.
        assert!(Quantity::from_integer_field(2_147_483_647).is_ok());
        let err = Quantity::from_integer_field(2_147_483_648).unwrap_err();
        assert_eq!(err.rule, Rule::IntegerQuantity);
        assert!(Quantity::from_integer_field(-1).is_err());
    }

    #[test]
    fn small_integers_convert_exactly() {
        assert_eq!(Quantity::from(0u16), Quantity::ZERO);
        assert_eq!(Quantity::from(1u16).micros(), 1_000_000);
        assert_eq!(Quantity::from(17u16), Quantity::new(17).unwrap());
        assert_eq!(Quantity::from(u16::MAX).as_integer(), Some(65_535));
    }

    #[test]
    fn micros_are_accepted_up_to_the_maximum_only() {
        let max = Quantity::MAX.micros();
        assert_eq!(max, 9_999_999_999_999_999);
        assert_eq!(Quantity::from_micros(max).unwrap(), Quantity::MAX);
        assert_eq!(Quantity::from_micros(0).unwrap(), Quantity::ZERO);
        assert_eq!(Quantity::from_micros(1_500_000).unwrap().to_string(), "1.5");
        let err = Quantity::from_micros(max + 1).unwrap_err();
        assert_eq!(err.field, "QuantityAsDecimal");
        assert_eq!(err.value, "10000000000");
        assert!(Quantity::from_micros(u64::MAX).is_err());
    }

    #[test]
    fn zero_is_only_zero() {
        assert!(Quantity::ZERO.is_zero());
        assert!("0.000".parse::<Quantity>().unwrap().is_zero());
        assert!(!Quantity::from_micros(1).unwrap().is_zero());
        assert!(!Quantity::MAX.is_zero());
    }

    #[test]
    fn json_reads_both_forms_and_shows_the_value() {
        let read = |json: &str| serde_json::from_str::<Quantity>(json);
        assert_eq!(read("17").unwrap(), Quantity::new(17).unwrap());
        assert_eq!(read(r#""17.5""#).unwrap().micros(), 17_500_000);
        assert!(read("-1").is_err());
        assert!(read("10000000000").is_err());
        assert!(read(r#""1.2345678""#).is_err());
        let half = read(r#""0.5""#).unwrap();
        assert_eq!(serde_json::to_string(&half).unwrap(), r#""0.5""#);
        assert_eq!(format!("{half:?}"), "Quantity(0.5)");
    }

    #[test]
    fn decimals_compare_by_value() {
        let a: Quantity = "17".parse().unwrap();
        let b: Quantity = "17.0".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!("0.5".parse::<Quantity>().unwrap().to_string(), "0.5");
        assert_eq!("0.000001".parse::<Quantity>().unwrap().micros(), 1);
        assert_eq!(Quantity::MAX.to_string(), "9999999999.999999");
        assert!("9999999999.999999".parse::<Quantity>().is_ok());
        assert!("17.1234567".parse::<Quantity>().is_err());
        assert!(
            Quantity::MAX
                .checked_add(Quantity::from_micros(1).unwrap())
                .is_none()
        );
    }
}
