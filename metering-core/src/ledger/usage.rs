//! What a [`Delta`](super::Delta) carries: the usage of one key in one hour, by kind.

use std::fmt;

use crate::kind::{Identifier, Kind};
use crate::quantity::Quantity;
use crate::timestamp::Timestamp;

/// The usage of one key in one hour that one checkpoint adds, by the key's kind (see the
/// [module docs](super) for how each kind merges).
///
/// ```
/// use metering_core::kind::{Identifier, Kind};
/// use metering_core::ledger::{LevelChange, Usage};
/// use metering_core::{Quantity, Timestamp};
///
/// assert_eq!(Usage::Sum(Quantity::from(3)).kind(), Kind::Sum);
/// let seen = Usage::Distinct(vec![Identifier::from(1_u64), Identifier::from("user-2")]);
/// assert_eq!(seen.kind(), Kind::Distinct);
/// let at = Timestamp::parse_rfc3339("2026-11-26T10:20:00Z")?;
/// let set = Usage::Level(vec![LevelChange { at, level: Quantity::from(5) }]);
/// assert_eq!(set.kind(), Kind::Level);
/// assert_eq!(set.to_string(), "level 5");
/// assert_eq!(seen.to_string(), "2 distinct");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// Added to the hour's sum.
    Sum(Quantity),
    /// The highest level this checkpoint observed in the hour.
    Max(Quantity),
    /// The identifiers this checkpoint saw in the hour (sorted, each once).
    Distinct(Vec<Identifier>),
    /// The level changes this checkpoint observed in the hour, in time order.
    Level(Vec<LevelChange>),
}

impl Usage {
    /// The kind of usage it is.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Self::Sum(_) => Kind::Sum,
            Self::Max(_) => Kind::Max,
            Self::Distinct(_) => Kind::Distinct,
            Self::Level(_) => Kind::Level,
        }
    }

    /// Whether it is a sum of zero (the zero of a registered pair): nothing to lose.
    #[must_use]
    pub fn is_zero_sum(&self) -> bool {
        matches!(self, Self::Sum(quantity) if quantity.is_zero())
    }
}

/// As a person reads it in a log: `3`, `max 3`, `2 distinct`, `level 5 (2 changes)`.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sum(quantity) => write!(f, "{quantity}"),
            Self::Max(quantity) => write!(f, "max {quantity}"),
            Self::Distinct(ids) => write!(f, "{} distinct", ids.len()),
            Self::Level(changes) => match (changes.last(), changes.len()) {
                (None, _) => f.write_str("no level change"),
                (Some(last), 1) => write!(f, "level {}", last.level),
                (Some(last), n) => write!(f, "level {} ({n} changes)", last.level),
            },
        }
    }
}

/// A level set at an instant: it holds until the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LevelChange {
    /// When the level was set.
    pub at: Timestamp,
    /// The level from then on.
    pub level: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_shows_in_a_log_as_a_person_reads_it() {
        let at = Timestamp::parse_rfc3339("2026-11-26T10:20:00Z").unwrap();
        let set = |level: u16| LevelChange {
            at,
            level: Quantity::from(level),
        };
        let ids = vec![Identifier::from(1_u64), Identifier::from(2_u64)];
        let shown = [
            Usage::Sum(Quantity::from(3)),
            Usage::Max(Quantity::from(3)),
            Usage::Distinct(ids),
            Usage::Level(Vec::new()),
            Usage::Level(vec![set(5)]),
            Usage::Level(vec![set(4), set(5)]),
        ]
        .map(|usage| usage.to_string());
        assert_eq!(
            shown,
            [
                "3",
                "max 3",
                "2 distinct",
                "no level change",
                "level 5",
                "level 5 (2 changes)"
            ]
        );
    }

    #[test]
    fn only_a_sum_of_zero_is_a_zero_sum() {
        assert!(Usage::Sum(Quantity::ZERO).is_zero_sum());
        assert!(!Usage::Sum(Quantity::from(1)).is_zero_sum());
        assert!(!Usage::Max(Quantity::ZERO).is_zero_sum());
        assert!(!Usage::Distinct(Vec::new()).is_zero_sum());
    }
}
