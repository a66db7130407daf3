//! One distinct key's identifiers, hour by hour: exact sets, behind the key's own lock.
//!
//! An hour's identifiers are kept in the order first seen (16 bytes each), with a hash table
//! of their positions (4 bytes and a control byte per bucket, at most 7/8 full) that finds
//! one seen before: about 27 bytes per distinct identifier at a million in an hour (the
//! vector grows by doubling, the table by doubling past 7/8). Marking one seen before is a
//! lock, a hash and a probe, and writes nothing.
//!
//! A checkpoint takes the identifiers first seen since the previous one (the tail of the
//! order): the ledger unions them with what it holds. An hour's set is kept while the hour
//! is in the key's window (the previous hour through two ahead, as a sum's), so that an
//! identifier seen again is not sent again; once the hour leaves it, its set is dropped.
//! An identifier of an hour already dropped (late) starts a new set for that hour and is
//! sent again: the ledger's union takes it once, or sets it aside when the hour is sealed.

use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::hour::Hour;
use crate::kind::Identifier;

/// The meter closed: nothing more is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// A distinct key's identifiers per hour.
#[derive(Debug, Default)]
pub(crate) struct Identifiers(Mutex<Vec<HourIds>>);

/// One hour's identifiers.
#[derive(Debug)]
struct HourIds {
    hour: Hour,
    /// In the order first seen.
    ids: Vec<u128>,
    /// Positions in `ids`, by the identifier's hash.
    positions: HashTable<u32>,
    /// How many of `ids` checkpoints took.
    taken: usize,
}

fn hash(id: u128) -> u64 {
    use std::hash::BuildHasher;
    FxBuildHasher.hash_one(id)
}

impl HourIds {
    fn new(hour: Hour) -> Self {
        Self {
            hour,
            ids: Vec::new(),
            positions: HashTable::new(),
            taken: 0,
        }
    }

    /// Adds `id` unless it was seen: a lookup first, which is all a repeat costs.
    #[inline]
    fn insert(&mut self, id: u128) {
        let Self { ids, positions, .. } = self;
        let id_hash = hash(id);
        if positions
            .find(id_hash, |&at| ids[at as usize] == id)
            .is_some()
        {
            return;
        }
        let position = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        positions.insert_unique(id_hash, position, |&at| hash(ids[at as usize]));
        ids.push(id);
    }
}

impl Identifiers {
    fn lock(&self) -> MutexGuard<'_, Vec<HourIds>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `id` to `hour`'s set, unless `closed()` says the meter closed (asked under the
    /// lock, so that a final checkpoint either takes the identifier or refuses it).
    #[inline]
    pub(crate) fn mark(
        &self,
        hour: Hour,
        id: Identifier,
        closed: impl FnOnce() -> bool,
    ) -> Result<(), Closed> {
        let mut hours = self.lock();
        if closed() {
            return Err(Closed);
        }
        // The current hour is nearly always the last one opened.
        let index = hours.iter().rposition(|ids| ids.hour == hour);
        let ids = if let Some(index) = index {
            &mut hours[index]
        } else {
            hours.push(HourIds::new(hour));
            hours
                .last_mut()
                .unwrap_or_else(|| unreachable!("just pushed"))
        };
        ids.insert(id.as_u128());
        Ok(())
    }

    /// The identifiers first seen since the previous take, per hour (sorted), after which
    /// the hours before `center`'s previous one are dropped.
    pub(crate) fn take(&self, center: Hour, mut seen: impl FnMut(Hour, Vec<Identifier>)) {
        let first = center.previous();
        self.lock().retain_mut(|hour| {
            if hour.ids.len() > hour.taken {
                let mut ids: Vec<Identifier> = hour.ids[hour.taken..]
                    .iter()
                    .map(|&id| Identifier::from_u128_bits(id))
                    .collect();
                ids.sort_unstable();
                hour.taken = hour.ids.len();
                seen(hour.hour, ids);
            }
            hour.hour >= first
        });
    }

    /// Whether no hour is held: the key can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn taken(ids: &Identifiers, center: i64) -> Vec<(i64, Vec<u128>)> {
        let mut seen = Vec::new();
        ids.take(Hour::from_number(center), |hour, ids| {
            seen.push((hour.number(), ids.iter().map(|id| id.as_u128()).collect()));
        });
        seen
    }

    #[test]
    fn each_identifier_is_taken_once_per_hour_while_the_hour_is_held() {
        let ids = Identifiers::default();
        let mark = |hour, id: u64| ids.mark(Hour::from_number(hour), id.into(), || false);
        for id in [3, 1, 3, 2, 1] {
            mark(10, id).unwrap();
        }
        mark(9, 1).unwrap();
        assert_eq!(taken(&ids, 10), [(10, vec![1, 2, 3]), (9, vec![1])]);
        mark(10, 2).unwrap();
        mark(10, 4).unwrap();
        assert_eq!(taken(&ids, 10), [(10, vec![4])]);
        // The window moves on: hour 9 is dropped, and an identifier of it is sent again.
        assert!(taken(&ids, 11).is_empty());
        mark(9, 1).unwrap();
        mark(10, 1).unwrap();
        assert_eq!(taken(&ids, 11), [(9, vec![1])]);
        assert!(!ids.is_empty());
        assert!(taken(&ids, 12).is_empty());
        assert!(ids.is_empty());
        assert_eq!(
            ids.mark(Hour::from_number(12), 1_u64.into(), || true),
            Err(Closed)
        );
        assert!(ids.is_empty());
    }

    #[test]
    fn many_identifiers_stay_exact() {
        let ids = Identifiers::default();
        for id in (0..100_000_u64).chain(0..100_000) {
            ids.mark(Hour::from_number(0), Identifier::from(id * 7919), || false)
                .unwrap();
        }
        let seen = taken(&ids, 0);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1.len(), 100_000);
        assert!(seen[0].1.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
