//! The field rules of AWS Marketplace Metering's `BatchMeterUsage`, as the service model
//! states them, with no dependencies.
//!
//! This crate exists so that one definition of each rule serves both the derive macros (at
//! compile time) and the runtime (when a value is built or deserialized). Lengths count
//! Unicode scalar values, as Smithy's `@length` does for strings.

#![no_std]

use core::fmt;

extern crate alloc;

pub mod catalog;
mod suggest;
pub use suggest::closest;

/// Limits of one `BatchMeterUsage` request and its records.
pub mod limits {
    /// Records in one request (`UsageRecordList` max).
    pub const MAX_RECORDS_PER_REQUEST: usize = 25;
    /// A request body must be strictly smaller than this many bytes ("less than 1 MB").
    pub const MAX_REQUEST_BYTES: usize = 1_000_000;
    /// Allocations in one record (`UsageAllocations` min).
    pub const MIN_ALLOCATIONS: usize = 1;
    /// Allocations in one record (`UsageAllocations` max).
    pub const MAX_ALLOCATIONS: usize = 2500;
    /// Tags on one allocation (`TagList` min).
    pub const MIN_TAGS: usize = 1;
    /// Tags on one allocation (`TagList` max).
    pub const MAX_TAGS: usize = 5;
    /// Largest integer quantity (`UsageQuantity` max, `i32::MAX`).
    pub const MAX_INTEGER_QUANTITY: u64 = 2_147_483_647;
    /// Digits before the decimal point in `QuantityAsDecimal`.
    pub const DECIMAL_INTEGER_DIGITS: u32 = 10;
    /// Digits after the decimal point in `QuantityAsDecimal`.
    pub const DECIMAL_FRACTION_DIGITS: u32 = 6;
}

/// A constrained string shape of the service model: its length bounds and pattern.
#[derive(Debug, Clone, Copy)]
pub struct StringRule {
    /// The shape's name in the service model, e.g. `TagKey`.
    pub shape: &'static str,
    /// Minimum length in characters.
    pub min: usize,
    /// Maximum length in characters, if the model states one.
    pub max: Option<usize>,
    /// The model's pattern, verbatim, for messages.
    pub pattern: &'static str,
    matcher: fn(&str) -> Result<(), usize>,
}

/// Why a string broke its [`StringRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum.
        min: usize,
        /// The value's length.
        actual: usize,
    },
    /// More characters than the maximum.
    TooLong {
        /// The maximum.
        max: usize,
        /// The value's length.
        actual: usize,
    },
    /// The value does not match the pattern.
    Pattern {
        /// The model's pattern.
        pattern: &'static str,
        /// The first character (by position, in characters) the pattern rejects, when one
        /// character is to blame; `None` when the shape as a whole is wrong.
        at: Option<(usize, char)>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { min, actual } => {
                let plural = if min == 1 { "" } else { "s" };
                write!(
                    f,
                    "must be at least {min} character{plural} long, is {actual}"
                )
            }
            Self::TooLong { max, actual } => {
                write!(f, "must be at most {max} characters long, is {actual}")
            }
            Self::Pattern {
                pattern,
                at: Some((index, ch)),
            } => write!(
                f,
                "must match {pattern}; character {ch:?} at position {index} is not allowed"
            ),
            Self::Pattern { pattern, at: None } => write!(f, "must match {pattern}"),
        }
    }
}

impl core::error::Error for Violation {}

impl StringRule {
    /// Checks `value` against the length bounds, then the pattern.
    ///
    /// # Errors
    /// The first rule `value` breaks.
    pub fn check(&self, value: &str) -> Result<(), Violation> {
        let actual = value.chars().count();
        if actual < self.min {
            return Err(Violation::TooShort {
                min: self.min,
                actual,
            });
        }
        if let Some(max) = self.max
            && actual > max
        {
            return Err(Violation::TooLong { max, actual });
        }
        (self.matcher)(value).map_err(|byte| Violation::Pattern {
            pattern: self.pattern,
            at: value[byte..]
                .chars()
                .next()
                .map(|ch| (value[..byte].chars().count(), ch)),
        })
    }

    /// Whether `value` satisfies the rule.
    #[must_use]
    pub fn accepts(&self, value: &str) -> bool {
        self.check(value).is_ok()
    }
}

/// Runs `allowed` over every character; on failure, the byte offset of the first rejected one.
fn all_chars(value: &str, allowed: fn(char) -> bool) -> Result<(), usize> {
    match value.char_indices().find(|&(_, ch)| !allowed(ch)) {
        Some((byte, _)) => Err(byte),
        None => Ok(()),
    }
}

/// `[a-zA-Z0-9+ -=._:\/@]`: note that ` -=` is a range, space (0x20) to `=` (0x3D), so
/// `!"#$%&'()*,;<` are allowed too; only ``>?[\]^`{|}~``, control and non-ASCII characters
/// are not.
#[must_use]
pub const fn is_tag_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, ' '..='=' | '_' | '@')
}

/// `[-a-zA-Z0-9/=:_.@]`, the characters of a product code.
#[must_use]
pub const fn is_product_code_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '-' | '/' | '=' | ':' | '_' | '.' | '@')
}

/// `UsageDimension`: 1..=255 characters, any characters.
pub const DIMENSION: StringRule = StringRule {
    shape: "UsageDimension",
    min: 1,
    max: Some(255),
    pattern: "[\\s\\S]+",
    matcher: |_| Ok(()),
};

/// `ProductCode`: 0..=255 characters of `[-a-zA-Z0-9/=:_.@]`.
pub const PRODUCT_CODE: StringRule = StringRule {
    shape: "ProductCode",
    min: 0,
    max: Some(255),
    pattern: "^[-a-zA-Z0-9/=:_.@]*$",
    matcher: |value| all_chars(value, is_product_code_char),
};

/// `CustomerIdentifier` (legacy): 1..=255 characters, any characters.
///
/// The model says 0..=255 because the field became optional; an empty identifier names no
/// customer (the Rust SDK sends `""` on every record), so here it counts as absent and a
/// present identifier has at least one character.
pub const CUSTOMER_IDENTIFIER: StringRule = StringRule {
    shape: "CustomerIdentifier",
    min: 1,
    max: Some(255),
    pattern: "[\\s\\S]*",
    matcher: |_| Ok(()),
};

/// `CustomerAWSAccountId`: 1..=255 ASCII digits.
pub const CUSTOMER_AWS_ACCOUNT_ID: StringRule = StringRule {
    shape: "CustomerAWSAccountId",
    min: 1,
    max: Some(255),
    pattern: "^[0-9]+$",
    matcher: |value| all_chars(value, |ch| ch.is_ascii_digit()),
};

/// `TagKey`: 1..=100 tag characters (see [`is_tag_char`]).
pub const TAG_KEY: StringRule = StringRule {
    shape: "TagKey",
    min: 1,
    max: Some(100),
    pattern: "^[a-zA-Z0-9+ -=._:\\/@]+$",
    matcher: |value| all_chars(value, is_tag_char),
};

/// `TagValue`: 1..=256 tag characters (see [`is_tag_char`]).
pub const TAG_VALUE: StringRule = StringRule {
    shape: "TagValue",
    min: 1,
    max: Some(256),
    pattern: "^[a-zA-Z0-9+ -=._:\\/@]+$",
    matcher: |value| all_chars(value, is_tag_char),
};

/// `LicenseArn`: the model states a pattern and no length bounds.
pub const LICENSE_ARN: StringRule = StringRule {
    shape: "LicenseArn",
    min: 0,
    max: None,
    pattern: "^arn:aws[a-zA-Z-]*:[A-Za-z0-9][A-Za-z0-9_/.-]{0,62}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}$",
    matcher: match_license_arn,
};

/// `UsageQuantityAsDecimalString` and `AllocatedUsageQuantityAsDecimalString`.
pub const QUANTITY_DECIMAL: StringRule = StringRule {
    shape: "UsageQuantityAsDecimalString",
    min: 1,
    max: Some(17),
    pattern: "^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,6})?$",
    matcher: |value| parse_decimal_micros(value).map(drop),
};

/// Matches the `LicenseArn` pattern by hand. No segment before the resource may hold `:`,
/// so splitting on the first four colons is the only way the pattern can match.
fn match_license_arn(value: &str) -> Result<(), usize> {
    fn segment(
        seg: &str,
        start: usize,
        first: Option<fn(char) -> bool>,
        rest: fn(char) -> bool,
        max_rest: usize,
    ) -> Result<(), usize> {
        let mut chars = seg.char_indices();
        if let Some(first) = first {
            match chars.next() {
                Some((_, ch)) if first(ch) => {}
                _ => return Err(start),
            }
        }
        for (count, (byte, ch)) in chars.enumerate() {
            if count >= max_rest || !rest(ch) {
                return Err(start + byte);
            }
        }
        Ok(())
    }
    let path = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '/' | '.' | '-');
    let resource = |ch: char| {
        ch.is_ascii_alphanumeric()
            || matches!(ch, ':' | '_' | '/' | '+' | '=' | ',' | '@' | '.' | '-')
    };

    let Some(after_arn) = value.strip_prefix("arn:aws") else {
        let common = value
            .bytes()
            .zip("arn:aws".bytes())
            .take_while(|(a, b)| a == b)
            .count();
        return Err(common.min(value.len()));
    };
    let mut offset = "arn:aws".len();
    let mut parts = after_arn.splitn(5, ':');
    let partition = parts.next().unwrap_or_default();
    segment(
        partition,
        offset,
        None,
        |ch| ch.is_ascii_alphabetic() || ch == '-',
        usize::MAX,
    )?;
    offset += partition.len() + 1;
    let alnum: fn(char) -> bool = |ch| ch.is_ascii_alphanumeric();
    for (first, max_rest) in [(Some(alnum), 62), (None, 63), (None, 63)] {
        let Some(part) = parts.next() else {
            return Err(value.len());
        };
        segment(part, offset, first, path, max_rest)?;
        offset += part.len() + 1;
    }
    let Some(last) = parts.next() else {
        return Err(value.len());
    };
    segment(last, offset, Some(alnum), resource, 1023)
}

/// Parses a `QuantityAsDecimal` string into millionths.
///
/// # Errors
/// The byte offset where the string stops matching
/// `^(0|[1-9][0-9]{0,9})(\.[0-9]{1,6})?$`.
pub fn parse_decimal_micros(value: &str) -> Result<u64, usize> {
    let bytes = value.as_bytes();
    let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 || (bytes[0] == b'0' && int_len > 1) {
        return Err(usize::from(int_len != 0));
    }
    if int_len > limits::DECIMAL_INTEGER_DIGITS as usize {
        return Err(limits::DECIMAL_INTEGER_DIGITS as usize);
    }
    let mut micros = digits(&bytes[..int_len]) * 1_000_000;
    match &bytes[int_len..] {
        [] => Ok(micros),
        [b'.', fraction @ ..] => {
            let frac_len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            let max = limits::DECIMAL_FRACTION_DIGITS as usize;
            if frac_len == 0 || frac_len > max || frac_len < fraction.len() {
                return Err(int_len + 1 + frac_len.min(max));
            }
            micros += digits(fraction) * 10u64.pow(u32::try_from(max - frac_len).unwrap_or(0));
            Ok(micros)
        }
        _ => Err(int_len),
    }
}

fn digits(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_range_quirk() {
        for ch in "!\"#$%&'()*,;<= +-./:@_azAZ09".chars() {
            assert!(is_tag_char(ch), "{ch:?} should be allowed");
        }
        for ch in ">?[\\]^`{|}~\té\u{7f}".chars() {
            assert!(!is_tag_char(ch), "{ch:?} should be rejected");
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal_micros("0"), Ok(0));
        assert_eq!(parse_decimal_micros("17.5"), Ok(17_500_000));
        assert_eq!(
            parse_decimal_micros("9999999999.999999"),
            Ok(9_999_999_999_999_999)
        );
        for bad in [
            "",
            "01",
            "1.",
            ".5",
            "1.1234567",
            "12345678901",
            "1e3",
            "-1",
            "1.5x",
        ] {
            assert!(parse_decimal_micros(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn license_arn() {
        let good = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef";
        assert_eq!(LICENSE_ARN.check(good), Ok(()));
        assert!(LICENSE_ARN.accepts("arn:aws-cn:s:r:a:x"));
        let bad = LICENSE_ARN
            .check("arn:aws:license-manager::12345:lic#ense")
            .unwrap_err();
        assert_eq!(
            bad,
            Violation::Pattern {
                pattern: LICENSE_ARN.pattern,
                at: Some((34, '#'))
            }
        );
        assert!(!LICENSE_ARN.accepts("arn:aws:s:r:a"));
        assert!(!LICENSE_ARN.accepts("arn:aws:s:r:a:"));
        assert!(!LICENSE_ARN.accepts("arx:aws:s:r:a:x"));
    }
}
