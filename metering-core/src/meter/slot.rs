//! One key's in-memory usage: a ring of four hourly totals, each one atomic word.
//!
//! A word packs an hour tag (the hour number modulo 1024, top 10 bits) and that hour's
//! running total in micro-units (low 54 bits: [`Quantity::MAX`] is below 2^54). Adding is
//! one compare-and-swap that checks both the tag and the service's upper bound, so a total
//! never wraps and never exceeds what the service accepts.
//!
//! Slot `i` holds the hour `h` with `h mod 4 = i` among the four hours of the window
//! `center - 1 ..= center + 2`: the previous hour (for slightly late events), the current
//! one and two ahead, so the hour's turn needs no relabelling on the hot path. An hour
//! outside the window (later, earlier, or a whole cycle of tags away) is refused
//! ([`AddError::Moved`]) and recorded elsewhere by the caller. Only the
//! checkpointer moves the window ([`Counters::take`]): it swaps a slot whose hour left the
//! window to the entering hour with a zero total, and the swap returns the leaving hour's
//! final total. An add racing with that swap either landed before it (and is in the final
//! total) or fails its compare-and-swap and sees the new tag ([`AddError::Moved`]), so the
//! caller records it elsewhere: never lost, never counted twice. The `loom` test below
//! checks every interleaving.
//!
//! Totals are never reset while their hour is in the window, which is what lets an add see
//! the hour's whole total and refuse to exceed the bound. The checkpointer remembers how
//! much of each total it has taken ("taken"), so a checkpoint carries only the difference.

#[cfg(loom)]
use loom::sync::atomic::AtomicU64 as Word;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64 as Word;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::hour::Hour;
use crate::Quantity;

/// Slots per key: the window's length.
const SLOTS: usize = 4;
const WINDOW: i64 = 4;
const VALUE_BITS: u32 = 54;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
/// Hour tags: the hour number modulo this.
const TAGS: i64 = 1 << (64 - VALUE_BITS);

const _: () = assert!(Quantity::MAX.micros() <= VALUE_MASK);

/// Why an add did not land in the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    /// The hour is not in the key's window (any more, or yet): record it elsewhere.
    Moved,
    /// The hour's total would exceed [`Quantity::MAX`]; `total` is the total so far.
    Overflow {
        /// The hour's total before the refused add, in micro-units.
        total: u64,
    },
    /// The meter closed (said by a key kept under its own lock, not by a ring).
    Closed,
}

/// The slot of `hour`.
fn slot(hour: i64) -> usize {
    // rem_euclid(4) is in 0..4.
    usize::try_from(hour.rem_euclid(WINDOW)).unwrap_or_default()
}

/// The word of `hour` with a total of 0: its tag, in the bits above the total's.
fn tag(hour: i64) -> u64 {
    // rem_euclid is in 0..TAGS, so the tag fits.
    u64::try_from(hour.rem_euclid(TAGS)).unwrap_or_default() << VALUE_BITS
}

/// The hour slot `index` holds when the window is centred on `center`.
fn label(index: usize, center: i64) -> i64 {
    let first = center - 1;
    let offset = (i64::try_from(index).unwrap_or_default() - first).rem_euclid(WINDOW);
    first + offset
}

/// The hourly totals of one key.
#[derive(Debug)]
pub(crate) struct Counters {
    words: [Word; SLOTS],
    /// The checkpointer's own state (one checkpointer at a time, so relaxed): the window's
    /// centre and how much of each slot's total it has taken.
    center: AtomicI64,
    taken: [AtomicU64; SLOTS],
}

impl Counters {
    /// Empty totals for the window centred on `center`.
    pub(crate) fn new(center: Hour) -> Self {
        let center = center.number();
        Self {
            words: std::array::from_fn(|index| Word::new(tag(label(index, center)))),
            center: AtomicI64::new(center),
            taken: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Adds `micros` to `hour`'s total (a sum).
    #[inline]
    pub(crate) fn add(&self, hour: Hour, micros: u64) -> Result<(), AddError> {
        self.update(hour, |total| {
            let sum = total + micros; // both below 2^54: no wrap
            if sum > Quantity::MAX.micros() {
                return Err(AddError::Overflow { total });
            }
            Ok(Some(sum))
        })
    }

    /// Raises `hour`'s total to `micros` if it is below (a maximum): a level already
    /// reached costs one load.
    #[inline]
    pub(crate) fn observe(&self, hour: Hour, micros: u64) -> Result<(), AddError> {
        self.update(hour, |total| Ok((micros > total).then_some(micros)))
    }

    /// Replaces `hour`'s total by what `next` makes of it (`None`: leaves it), in one
    /// compare-and-swap unless another thread raced.
    #[inline]
    fn update(
        &self,
        hour: Hour,
        next: impl Fn(u64) -> Result<Option<u64>, AddError>,
    ) -> Result<(), AddError> {
        let hour = hour.number();
        // An hour 1024 hours from one in the window shares its slot's tag: the window tells
        // them apart. (Read while the checkpointer moves the window, a stale centre is safe:
        // the tags still tell the hours leaving and entering apart.)
        let first = self.center.load(Ordering::Relaxed) - 1;
        if !(first..first + WINDOW).contains(&hour) {
            return Err(AddError::Moved);
        }
        let cell = &self.words[slot(hour)];
        let hour_tag = tag(hour);
        // SeqCst, as the swap below: a durable caller reads the checkpoint epoch next, and
        // the checkpointer must see the total it saw (or made) in the checkpoint after that
        // epoch (see `Meter`).
        let mut current = cell.load(Ordering::SeqCst);
        loop {
            if current & !VALUE_MASK != hour_tag {
                return Err(AddError::Moved);
            }
            let Some(total) = next(current & VALUE_MASK)? else {
                return Ok(());
            };
            match cell.compare_exchange_weak(
                current,
                hour_tag + total,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// The totals that grew since the previous take, as `(hour, total, total at the previous
    /// take)`, after moving the window to `center` (never back): hours leaving it give their
    /// final totals. Only one checkpointer may call this at a time.
    pub(crate) fn take(&self, center: Hour, mut grown: impl FnMut(Hour, u64, u64)) {
        let old = self.center.load(Ordering::Relaxed);
        let center = center.number().max(old);
        for (index, (cell, taken)) in self.words.iter().zip(&self.taken).enumerate() {
            let (hour, entering) = (label(index, old), label(index, center));
            let prior = taken.load(Ordering::Relaxed);
            let total = if hour == entering {
                let total = cell.load(Ordering::SeqCst) & VALUE_MASK;
                taken.store(total, Ordering::Relaxed);
                total
            } else {
                taken.store(0, Ordering::Relaxed);
                cell.swap(tag(entering), Ordering::SeqCst) & VALUE_MASK
            };
            if total > prior {
                grown(Hour::from_number(hour), total, prior);
            }
        }
        self.center.store(center, Ordering::Relaxed);
    }

    /// The sum of the hours' totals in the window (taken or not).
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.words
            .iter()
            .map(|cell| cell.load(Ordering::SeqCst) & VALUE_MASK)
            .sum()
    }

    /// Whether nothing is held: every total is zero, so the key can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.words
            .iter()
            .all(|cell| cell.load(Ordering::SeqCst) & VALUE_MASK == 0)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn h(number: i64) -> Hour {
        Hour::from_number(number)
    }

    fn taken(counters: &Counters, center: i64) -> Vec<(i64, u64)> {
        let mut deltas = Vec::new();
        counters.take(h(center), |hour, total, prior| {
            deltas.push((hour.number(), total - prior));
        });
        deltas.sort_unstable();
        deltas
    }

    #[test]
    fn the_window_covers_the_previous_hour_and_two_ahead() {
        for center in [-5, 0, 1, 2, 3, 1000, 1023, 1024, 500_000] {
            let mut labels: Vec<i64> = (0..SLOTS).map(|index| label(index, center)).collect();
            assert!(labels.iter().enumerate().all(|(i, &h)| slot(h) == i));
            labels.sort_unstable();
            assert_eq!(labels, [center - 1, center, center + 1, center + 2]);
        }
    }

    #[test]
    fn adds_within_the_window_and_takes_differences() {
        let counters = Counters::new(h(100));
        counters.add(h(100), 5).unwrap();
        counters.add(h(99), 1).unwrap();
        counters.add(h(102), 2).unwrap();
        assert_eq!(counters.add(h(103), 1), Err(AddError::Moved));
        assert_eq!(counters.add(h(98), 1), Err(AddError::Moved));
        assert_eq!(taken(&counters, 100), [(99, 1), (100, 5), (102, 2)]);
        counters.add(h(100), 3).unwrap();
        assert_eq!(taken(&counters, 100), [(100, 3)]);
        assert!(taken(&counters, 100).is_empty());
    }

    #[test]
    fn moving_the_window_gives_final_totals_and_opens_new_hours() {
        let counters = Counters::new(h(100));
        counters.add(h(99), 4).unwrap();
        counters.add(h(100), 6).unwrap();
        assert_eq!(taken(&counters, 100), [(99, 4), (100, 6)]);
        counters.add(h(99), 1).unwrap();
        counters.add(h(100), 1).unwrap();
        // The window moves to 101: hour 99 leaves with its last micro-unit.
        assert_eq!(taken(&counters, 101), [(99, 1), (100, 1)]);
        assert_eq!(counters.add(h(99), 1), Err(AddError::Moved));
        counters.add(h(103), 7).unwrap();
        // A jump past the whole window retires every hour at once; the window never moves back.
        assert_eq!(taken(&counters, 200), [(103, 7)]);
        assert_eq!(counters.add(h(103), 1), Err(AddError::Moved));
        assert!(taken(&counters, 150).is_empty());
        counters.add(h(201), 1).unwrap();
        assert!(!counters.is_empty());
        assert_eq!(taken(&counters, 210), [(201, 1)]);
        assert!(counters.is_empty());
    }

    /// Hours 1024 apart share a slot and a tag: only the one in the window is the ring's,
    /// whichever way the window lies from it.
    #[test]
    fn an_hour_a_tags_cycle_away_is_not_the_windows() {
        let center = 500_000;
        let counters = Counters::new(h(center));
        for hour in center - 1..=center + 2 {
            for other in [hour - TAGS, hour + TAGS] {
                assert_eq!((slot(other), tag(other)), (slot(hour), tag(hour)));
                assert_eq!(counters.add(h(other), 1), Err(AddError::Moved), "{other}");
            }
            counters.add(h(hour), 1).unwrap();
        }
        assert_eq!(
            taken(&counters, center),
            (center - 1..=center + 2)
                .map(|hour| (hour, 1))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_total_never_exceeds_the_service_maximum() {
        let counters = Counters::new(h(0));
        let max = Quantity::MAX.micros();
        counters.add(h(0), max - 1).unwrap();
        assert_eq!(
            counters.add(h(0), 2),
            Err(AddError::Overflow { total: max - 1 })
        );
        counters.add(h(0), 1).unwrap();
        assert_eq!(
            counters.add(h(0), 1),
            Err(AddError::Overflow { total: max })
        );
        // Taking does not reset the hour's total: the bound is the hour's, not the delta's.
        assert_eq!(taken(&counters, 0), [(0, max)]);
        assert_eq!(
            counters.add(h(0), 1),
            Err(AddError::Overflow { total: max })
        );
        // Negative hours (before 1970) keep distinct tags too.
        let old = Counters::new(h(-3));
        old.add(h(-4), 1).unwrap();
        assert_eq!(taken(&old, -3), [(-4, 1)]);
    }
}

/// Every interleaving of adds racing with checkpoints, including the hour's turn: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p metering-core --features meter --lib loom`
/// (`scripts/test` does).
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::BTreeMap;

    use loom::sync::{Arc, Mutex};
    use loom::thread;

    use super::*;

    /// Adds each `(hour, micros)`; what the ring refuses as moved goes to `aside`, as the
    /// meter's slow path does. Returns what was added per hour.
    fn adder(
        counters: &Counters,
        aside: &Mutex<BTreeMap<i64, u64>>,
        adds: &[(i64, u64)],
    ) -> BTreeMap<i64, u64> {
        let mut added = BTreeMap::new();
        for &(hour, micros) in adds {
            match counters.add(Hour::from_number(hour), micros) {
                Ok(()) => {}
                Err(AddError::Moved) => *aside.lock().unwrap().entry(hour).or_default() += micros,
                Err(AddError::Overflow { .. } | AddError::Closed) => continue,
            }
            *added.entry(hour).or_default() += micros;
        }
        added
    }

    fn check(adds: [&'static [(i64, u64)]; 2], centers: &'static [i64]) {
        loom::model(move || {
            let counters = Arc::new(Counters::new(Hour::from_number(10)));
            let aside = Arc::new(Mutex::new(BTreeMap::new()));
            let threads: Vec<_> = adds
                .iter()
                .map(|&adds| {
                    let (counters, aside) = (counters.clone(), aside.clone());
                    thread::spawn(move || adder(&counters, &aside, adds))
                })
                .collect();
            let mut checkpointed: BTreeMap<i64, u64> = BTreeMap::new();
            let mut collect = |hour: Hour, total, prior| {
                *checkpointed.entry(hour.number()).or_default() += total - prior;
            };
            for &center in centers {
                counters.take(Hour::from_number(center), &mut collect);
            }
            let mut added: BTreeMap<i64, u64> = BTreeMap::new();
            for thread in threads {
                for (hour, micros) in thread.join().unwrap() {
                    *added.entry(hour).or_default() += micros;
                }
            }
            // The final checkpoint, once every add returned.
            counters.take(Hour::from_number(centers[centers.len() - 1]), &mut collect);
            for (hour, micros) in aside.lock().unwrap().iter() {
                *checkpointed.entry(*hour).or_default() += micros;
            }
            assert_eq!(checkpointed, added);
        });
    }

    #[test]
    fn loom_adds_racing_with_a_checkpoint() {
        check([&[(10, 1), (10, 2)], &[(10, 4)]], &[10]);
    }

    #[test]
    fn loom_adds_racing_with_the_hours_turn() {
        // The window moves from 10 to 12: hours 9 and 10 leave, 13 enters hour 9's slot.
        check([&[(9, 1), (10, 2)], &[(13, 4)]], &[12]);
    }

    /// Observes each `(hour, micros)` as a maximum; what the ring refuses as moved goes to
    /// `aside`, as the meter's slow path does.
    fn observer(counters: &Counters, aside: &Mutex<BTreeMap<i64, u64>>, levels: &[(i64, u64)]) {
        for &(hour, micros) in levels {
            if counters.observe(Hour::from_number(hour), micros) == Err(AddError::Moved) {
                let mut aside = aside.lock().unwrap();
                let held = aside.entry(hour).or_default();
                *held = (*held).max(micros);
            }
        }
    }

    /// Observations racing with checkpoints that move the window: each hour's highest
    /// taken (or kept aside) is the highest observed in it.
    #[test]
    fn loom_maxima_racing_with_the_hours_turn() {
        const LEVELS: [&[(i64, u64)]; 2] = [&[(10, 5), (9, 1)], &[(10, 3), (13, 4)]];
        loom::model(|| {
            let counters = Arc::new(Counters::new(Hour::from_number(10)));
            let aside = Arc::new(Mutex::new(BTreeMap::new()));
            let threads: Vec<_> = LEVELS
                .iter()
                .map(|&levels| {
                    let (counters, aside) = (counters.clone(), aside.clone());
                    thread::spawn(move || observer(&counters, &aside, levels))
                })
                .collect();
            let mut taken: BTreeMap<i64, u64> = BTreeMap::new();
            let mut collect = |hour: Hour, total, _| {
                let held = taken.entry(hour.number()).or_default();
                *held = (*held).max(total);
            };
            counters.take(Hour::from_number(12), &mut collect);
            for thread in threads {
                thread.join().unwrap();
            }
            counters.take(Hour::from_number(12), &mut collect);
            for (&hour, &micros) in aside.lock().unwrap().iter() {
                let held = taken.entry(hour).or_default();
                *held = (*held).max(micros);
            }
            let expected = BTreeMap::from([(9, 1), (10, 5), (13, 4)]);
            assert_eq!(taken, expected);
        });
    }

    #[test]
    fn loom_adds_near_the_bound() {
        const NEAR: u64 = Quantity::MAX.micros() - 2;
        check([&[(10, NEAR), (10, 1)], &[(10, 2)]], &[10, 11]);
    }
}
