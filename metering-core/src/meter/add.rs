//! Recording usage in a key's hour: the hot path (one compare-and-swap into the key's ring
//! for a sum or a maximum; the key's own lock for an identifier or a level), and the slow
//! path under the `Aside` lock.

use std::sync::atomic::Ordering;

use super::MeterError;
use super::error::{overflow, two_ways};
use super::hour::Hour;
use super::shared::{CLOSED, Shared};
use super::slot::AddError;
use super::table::{Entry, KeyUsage};
use crate::Quantity;
use crate::kind::{Identifier, Kind};
use crate::ledger::LevelChange;

/// What is recorded, by kind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Observation {
    /// Added to the hour's sum.
    Add(Quantity),
    /// The hour's maximum is at least this.
    Observe(Quantity),
    /// Seen in the hour.
    Mark(Identifier),
    /// The level from an instant on.
    Set(LevelChange),
}

impl Observation {
    fn kind(self) -> Kind {
        match self {
            Self::Add(_) => Kind::Sum,
            Self::Observe(_) => Kind::Max,
            Self::Mark(_) => Kind::Distinct,
            Self::Set(_) => Kind::Level,
        }
    }
}

impl Shared {
    /// Records `observation` in `entry`'s `hour` (the entry is of its kind).
    #[inline]
    pub(super) fn record(
        &self,
        entry: &Entry,
        hour: Hour,
        observation: Observation,
    ) -> Result<(), MeterError> {
        let refusing = self.refusing.load(Ordering::Relaxed);
        if refusing != 0 {
            return Err(if refusing & CLOSED == 0 {
                self.backlog_error()
            } else {
                MeterError::Closed
            });
        }
        if let Some((hours, way)) = &entry.account {
            let held = hours
                .check(hour, *way)
                .map_err(|conflict| two_ways(entry, hour, conflict))?;
            if !held {
                return self.record_slowly(entry, hour, observation);
            }
        }
        match self.record_in_key(entry, hour, observation) {
            Err(AddError::Moved) => self.record_slowly(entry, hour, observation),
            other => refused(entry, hour, observation, other),
        }
    }

    /// Records `observation` in the key's own memory: its ring (which refuses an hour
    /// outside its window) or its lock.
    #[inline]
    fn record_in_key(
        &self,
        entry: &Entry,
        hour: Hour,
        observation: Observation,
    ) -> Result<(), AddError> {
        let closed = || self.refusing.load(Ordering::SeqCst) & CLOSED != 0;
        match (&entry.usage, observation) {
            (KeyUsage::Sum(counters), Observation::Add(quantity)) => {
                counters.add(hour, quantity.micros())
            }
            (KeyUsage::Max(counters), Observation::Observe(level)) => {
                counters.observe(hour, level.micros())
            }
            (KeyUsage::Distinct(ids), Observation::Mark(id)) => {
                ids.mark(hour, id, closed).map_err(|_| AddError::Closed)
            }
            (KeyUsage::Level(levels), Observation::Set(change)) => {
                levels.set(change, closed).map_err(|_| AddError::Closed)
            }
            _ => unreachable!("a key's kind is part of the key"),
        }
    }

    /// The slow path, under the `Aside` lock: the first record of an account's hour
    /// (marking it), an hour outside the key's window (late by more than an hour, or ahead
    /// of the window: kept aside), or a meter that is closing.
    #[cold]
    fn record_slowly(
        &self,
        entry: &Entry,
        hour: Hour,
        observation: Observation,
    ) -> Result<(), MeterError> {
        let mut aside = self.aside();
        if let Some((hours, way)) = &entry.account {
            aside
                .marks
                .mark(hours, hour, *way)
                .map_err(|conflict| two_ways(entry, hour, conflict))?;
        }
        match self.record_in_key(entry, hour, observation) {
            Err(AddError::Moved) => {}
            other => return refused(entry, hour, observation, other),
        }
        // A record that passed the check in `record` before the close, and comes after the
        // final checkpoint took what is aside.
        if self.refusing.load(Ordering::SeqCst) & CLOSED != 0 {
            return Err(MeterError::Closed);
        }
        let key = &entry.key;
        let kept = aside.usage.entry((key.clone(), hour, observation.kind()));
        match observation {
            Observation::Add(quantity) => {
                let held = kept.or_default();
                let sum = *held + quantity.micros();
                if sum > Quantity::MAX.micros() {
                    return Err(overflow(key, hour, *held, quantity));
                }
                *held = sum;
            }
            Observation::Observe(level) => {
                let held = kept.or_default();
                *held = (*held).max(level.micros());
            }
            // Never outside their key: its lock holds every hour.
            Observation::Mark(_) | Observation::Set(_) => {}
        }
        Ok(())
    }
}

/// The error of a refused record.
#[inline]
fn refused(
    entry: &Entry,
    hour: Hour,
    observation: Observation,
    result: Result<(), AddError>,
) -> Result<(), MeterError> {
    match result {
        Ok(()) => Ok(()),
        Err(AddError::Overflow { total }) => Err(overflow(
            &entry.key,
            hour,
            total,
            match observation {
                Observation::Add(quantity) | Observation::Observe(quantity) => quantity,
                Observation::Mark(_) | Observation::Set(_) => Quantity::ZERO,
            },
        )),
        Err(AddError::Closed | AddError::Moved) => Err(MeterError::Closed),
    }
}
