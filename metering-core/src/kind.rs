//! Kinds of usage: how an hour's quantity of a dimension is made from what was recorded.
//!
//! - [`Sum`] (the default): the sum of what was added (API calls, bytes sent).
//! - [`Max`]: the highest level observed in the hour (hosts running, seats assigned).
//! - [`Distinct`]: how many distinct [`Identifier`]s were seen in the hour (active users).
//! - [`Level`]: a level holds until it changes; the hour's quantity is its integral over the
//!   hour, in unit-hours (gigabytes stored, billed as gigabyte-hours).
//!
//! A dimension enum has one kind, declared with `#[metering(kind = "max")]` on its
//! `#[derive(Dimension)]` (sum when not given): the kind is the enum's
//! [`Dimension::Kind`](crate::Dimension::Kind), and the meter offers each kind its own call
//! (`.add(quantity)`, `.observe(level)`, `.mark(id)`, `.set(level)`), so that recording a
//! dimension the wrong way does not compile. A product with dimensions of several kinds
//! splits them over several enums.

use std::fmt;
use std::str::FromStr;

/// The kind of a dimension, at run time: stored with each usage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The hour's quantity is the sum of what was added.
    Sum,
    /// The hour's quantity is the highest level observed in it.
    Max,
    /// The hour's quantity is the number of distinct identifiers seen in it.
    Distinct,
    /// The hour's quantity is the integral of the level over the hour.
    Level,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 4] = [Self::Sum, Self::Max, Self::Distinct, Self::Level];

    /// The kind's name, as [`Display`](fmt::Display) writes it and the derive's
    /// `kind = "..."` takes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Max => "max",
            Self::Distinct => "distinct",
            Self::Level => "level",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownKind {
                value: name.to_owned(),
                suggestion: metering_rules::closest(name, Self::ALL.map(Self::as_str)),
            })
    }
}

/// A kind's name that names no [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownKind {
    /// The name as given.
    pub value: String,
    /// The kind it probably meant, when one is close.
    pub suggestion: Option<&'static str>,
}

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown kind {:?}: ", self.value)?;
        if let Some(suggestion) = self.suggestion {
            write!(f, "did you mean {suggestion:?}? ")?;
        }
        f.write_str("expected one of \"sum\", \"max\", \"distinct\", \"level\"")
    }
}

impl std::error::Error for UnknownKind {}

mod sealed {
    pub trait Sealed {}
}

/// The kind of a dimension type, at compile time: [`Sum`], [`Max`], [`Distinct`] or
/// [`Level`]. Sealed: the meter has a hot path for each of these kinds and no other.
pub trait DimensionKind: sealed::Sealed + Send + Sync + 'static {
    /// The kind at run time.
    const KIND: Kind;
    /// The call that records the kind (a type in [`call`]), which the compiler names when
    /// a dimension is recorded the wrong way.
    type Call: sealed::Sealed;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident => $call:ident,)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {}
        impl sealed::Sealed for $name {}
        impl DimensionKind for $name {
            const KIND: Kind = Kind::$name;
            type Call = call::$call;
        }
        impl sealed::Sealed for call::$call {}
    )*};
}

/// The calls that record each kind, as types: a kind's [`DimensionKind::Call`]. Their names
/// are what the compiler's message says to call instead, so they are written as the calls.
/// (Not hidden from the docs: the compiler writes a hidden item's whole path.)
#[allow(
    non_camel_case_types,
    reason = "named as the call they stand for, in messages"
)]
pub mod call {
    /// `.add(quantity)`
    #[derive(Debug)]
    pub enum add {}
    /// `.observe(level)`
    #[derive(Debug)]
    pub enum observe {}
    /// `.mark(id)`
    #[derive(Debug)]
    pub enum mark {}
    /// `.set(level)`
    #[derive(Debug)]
    pub enum set {}
}

// The bounds of the meter's recording calls: `K::Call: Adds` holds only for [`Sum`], and so
// on. A call on a dimension of another kind does not compile, and the message names the
// call its kind is recorded with (`{Self}` is that call's type, named as the call).

/// The kind is recorded with `.add(quantity)`: [`Sum`].
#[diagnostic::on_unimplemented(
    message = "this dimension is not a sum: record it with `.{Self}(...)`, not `.add(quantity)`",
    label = "`.add(quantity)` records a sum",
    note = "a dimension's kind is declared on its enum: `#[metering(kind = \"...\")]` (sum when not given)"
)]
pub trait Adds: sealed::Sealed {}
impl Adds for call::add {}

/// The kind is recorded with `.observe(level)`: [`Max`].
#[diagnostic::on_unimplemented(
    message = "this dimension is not a maximum: record it with `.{Self}(...)`, not `.observe(level)`",
    label = "`.observe(level)` records a maximum",
    note = "a dimension's kind is declared on its enum: `#[metering(kind = \"...\")]` (sum when not given)"
)]
pub trait Observes: sealed::Sealed {}
impl Observes for call::observe {}

/// The kind is recorded with `.mark(id)`: [`Distinct`].
#[diagnostic::on_unimplemented(
    message = "this dimension is not a distinct count: record it with `.{Self}(...)`, not `.mark(id)`",
    label = "`.mark(id)` records a distinct count",
    note = "a dimension's kind is declared on its enum: `#[metering(kind = \"...\")]` (sum when not given)"
)]
pub trait Marks: sealed::Sealed {}
impl Marks for call::mark {}

/// The kind is recorded with `.set(level)`: [`Level`].
#[diagnostic::on_unimplemented(
    message = "this dimension is not a level: record it with `.{Self}(...)`, not `.set(level)`",
    label = "`.set(level)` records a level",
    note = "a dimension's kind is declared on its enum: `#[metering(kind = \"...\")]` (sum when not given)"
)]
pub trait Sets: sealed::Sealed {}
impl Sets for call::set {}

kinds! {
    /// A dimension whose hour's quantity is the sum of what was added: recorded with
    /// `.add(quantity)`.
    Sum => add,
    /// A dimension whose hour's quantity is the highest level observed in it: recorded
    /// with `.observe(level)`.
    Max => observe,
    /// A dimension whose hour's quantity is the number of distinct identifiers seen in it:
    /// recorded with `.mark(id)`.
    Distinct => mark,
    /// A dimension whose hour's quantity is the integral of a level over the hour (a level
    /// holds until it changes): recorded with `.set(level)`.
    Level => set,
}

/// An identifier counted by a [`Distinct`] dimension: 128 bits.
///
/// Integers (`u64`, `u128`, `i64`) and UUIDs ([`Identifier::from_uuid_bytes`]) are kept
/// exactly: two identifiers are equal when the values are. Strings and bytes are kept as a
/// 128-bit hash of their bytes (SipHash-1-3 with a fixed key, the same in every process
/// and version of this library): two different strings count once only if their hashes
/// collide, which among a million distinct strings in one hour has a probability of about
/// 1.5 × 10⁻²⁷ (n² / 2¹²⁹). An integer and a string may in principle share a value: use
/// one sort of identifier per dimension.
///
/// ```
/// use metering_core::kind::Identifier;
/// assert_eq!(Identifier::from(7_u64), Identifier::from(7_u128));
/// assert_eq!(Identifier::from(7_u32), Identifier::from(7_u64));
/// assert_eq!(Identifier::from("user-1"), Identifier::from("user-1".to_owned()));
/// assert_eq!(Identifier::from("user-1"), Identifier::from(&"user-1".to_owned()));
/// assert_ne!(Identifier::from("user-1"), Identifier::from("user-2"));
/// let id = Identifier::from(-1_i64);
/// assert_eq!(Identifier::from_u128_bits(id.as_u128()), id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier(u128);

impl Identifier {
    /// The identifier whose bits are `bits`, as [`Identifier::as_u128`] gave them: for
    /// stores.
    #[must_use]
    pub const fn from_u128_bits(bits: u128) -> Self {
        Self(bits)
    }

    /// The identifier's 128 bits.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A UUID's 16 bytes, in the order the UUID is written (`Uuid::as_bytes`), kept
    /// exactly.
    #[must_use]
    pub const fn from_uuid_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }

    /// Bytes, kept as their stable 128-bit hash (see the type's docs).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        use siphasher::sip128::{Hasher128, SipHasher13};
        use std::hash::Hasher;
        let mut hasher = SipHasher13::new_with_keys(0, 0);
        hasher.write(bytes);
        Self(hasher.finish128().as_u128())
    }
}

impl From<u64> for Identifier {
    fn from(id: u64) -> Self {
        Self(u128::from(id))
    }
}

impl From<u128> for Identifier {
    fn from(id: u128) -> Self {
        Self(id)
    }
}

impl From<i64> for Identifier {
    /// Two's complement in 128 bits: a non-negative `i64` is the `u64` of the same value.
    fn from(id: i64) -> Self {
        Self(i128::from(id).cast_unsigned())
    }
}

impl From<&str> for Identifier {
    fn from(id: &str) -> Self {
        Self::from_bytes(id.as_bytes())
    }
}

impl From<&String> for Identifier {
    fn from(id: &String) -> Self {
        Self::from_bytes(id.as_bytes())
    }
}

impl From<String> for Identifier {
    fn from(id: String) -> Self {
        Self::from_bytes(id.as_bytes())
    }
}

impl From<u32> for Identifier {
    fn from(id: u32) -> Self {
        Self(u128::from(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_and_read_strictly() {
        for kind in Kind::ALL {
            assert_eq!(kind.to_string().parse::<Kind>(), Ok(kind));
        }
        let error = "maximum".parse::<Kind>().unwrap_err();
        assert_eq!(error.suggestion, None);
        let error = "distnct".parse::<Kind>().unwrap_err();
        assert_eq!(error.suggestion, Some("distinct"));
        assert_eq!(
            error.to_string(),
            "unknown kind \"distnct\": did you mean \"distinct\"? expected one of \"sum\", \
             \"max\", \"distinct\", \"level\""
        );
        assert_eq!("Max".parse::<Kind>().unwrap_err().suggestion, Some("max"));
        assert_eq!(
            [Sum::KIND, Max::KIND, Distinct::KIND, Level::KIND],
            Kind::ALL
        );
    }

    /// The string hash is fixed: these values must never change, or identifiers stored by
    /// an older version would count again.
    #[test]
    fn a_string_hashes_the_same_in_every_version() {
        assert_eq!(
            Identifier::from("").as_u128(),
            0xb91c_5ed0_31fb_3303_2134_935d_61d9_b40d
        );
        assert_eq!(
            Identifier::from("user-1").as_u128(),
            Identifier::from_bytes(b"user-1").as_u128()
        );
    }

    #[test]
    fn integers_and_uuids_are_exact() {
        assert_eq!(Identifier::from(u64::MAX).as_u128(), u128::from(u64::MAX));
        assert_eq!(Identifier::from(-1_i64).as_u128(), u128::MAX);
        assert_ne!(Identifier::from(-1_i64), Identifier::from(u64::MAX));
        let bytes = [0x12; 16];
        assert_eq!(
            Identifier::from_uuid_bytes(bytes).as_u128(),
            u128::from_be_bytes(bytes)
        );
        assert!(Identifier::from(1_u64) < Identifier::from(2_u64));
    }
}
