//! One level key's changes since the previous checkpoint, behind the key's own lock.
//!
//! A level is not summed in memory: each `.set(level)` is a change at an instant, which the
//! ledger stores and integrates hour by hour when it seals, carrying the level across hours
//! (and across processes) until the next change. So the meter only passes changes on, each
//! once: a checkpoint takes those set since the previous one, grouped by the hour they fall
//! in. Nothing is deduplicated against the level last set here: another instance may have
//! set the key's level since, and a change to the same level changes no integral.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::distinct::Closed;
use super::hour::Hour;
use crate::ledger::LevelChange;
use crate::ledger::protocol::whole_micros;

/// A level key's changes not yet taken.
#[derive(Debug, Default)]
pub(crate) struct Levels(Mutex<Vec<LevelChange>>);

impl Levels {
    fn lock(&self) -> MutexGuard<'_, Vec<LevelChange>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `change` for the next checkpoint, unless `closed()` says the meter closed
    /// (asked under the lock, so that a final checkpoint either takes it or refuses it).
    pub(crate) fn set(
        &self,
        change: LevelChange,
        closed: impl FnOnce() -> bool,
    ) -> Result<(), Closed> {
        let mut changes = self.lock();
        if closed() {
            return Err(Closed);
        }
        changes.push(change);
        Ok(())
    }

    /// The changes set since the previous take, per hour, in time order (to the
    /// microsecond, as the ledger keeps them; of two at one instant the larger, as the
    /// ledger keeps them).
    pub(crate) fn take(&self, mut each_hour: impl FnMut(Hour, Vec<LevelChange>)) {
        let mut changes = std::mem::take(&mut *self.lock());
        for change in &mut changes {
            change.at = whole_micros(change.at);
        }
        // By instant, then level: the last of each instant is the larger.
        changes.sort_unstable();
        changes.dedup_by(|later, earlier| {
            let same = later.at == earlier.at;
            if same {
                earlier.level = later.level;
            }
            same
        });
        for hour in changes.chunk_by(|one, other| Hour::of(one.at) == Hour::of(other.at)) {
            each_hour(Hour::of(hour[0].at), hour.to_vec());
        }
    }

    /// Whether no change waits: the key can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Quantity, Timestamp};

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn change(text: &str, level: u64) -> LevelChange {
        LevelChange {
            at: at(text),
            level: Quantity::new(level).unwrap(),
        }
    }

    #[test]
    fn changes_are_taken_once_by_hour_in_time_order() {
        let levels = Levels::default();
        for change in [
            change("2026-11-26T12:40:00Z", 2),
            change("2026-11-26T10:20:00Z", 5),
            change("2026-11-26T10:50:00.0000009Z", 7),
            change("2026-11-26T10:50:00Z", 6),
        ] {
            levels.set(change, || false).unwrap();
        }
        let mut taken = Vec::new();
        levels.take(|hour, changes| taken.push((hour.start(), changes)));
        assert_eq!(
            taken,
            [
                (
                    at("2026-11-26T10:00:00Z"),
                    // One instant to the microsecond: the larger level holds.
                    vec![
                        change("2026-11-26T10:20:00Z", 5),
                        change("2026-11-26T10:50:00Z", 7)
                    ]
                ),
                (
                    at("2026-11-26T12:00:00Z"),
                    vec![change("2026-11-26T12:40:00Z", 2)]
                ),
            ]
        );
        assert!(levels.is_empty());
        levels.take(|_, _| panic!("taken twice"));
        assert_eq!(
            levels.set(change("2026-11-26T13:00:00Z", 1), || true),
            Err(Closed)
        );
        assert!(levels.is_empty());
    }
}
