//! Adding usage to a key's hour: the hot path (one compare-and-swap into the key's ring),
//! and the slow path under the `Aside` lock.

use std::sync::atomic::Ordering;

use super::MeterError;
use super::error::{overflow, two_ways};
use super::hour::Hour;
use super::shared::{CLOSED, Shared};
use super::slot::AddError;
use super::table::Entry;
use crate::Quantity;

impl Shared {
    /// Adds `quantity` to `entry`'s `hour`.
    #[inline]
    pub(super) fn add(
        &self,
        entry: &Entry,
        hour: Hour,
        quantity: Quantity,
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
                return self.add_slowly(entry, hour, quantity);
            }
        }
        match entry.counters.add(hour, quantity.micros()) {
            Ok(()) => Ok(()),
            Err(AddError::Moved) => self.add_slowly(entry, hour, quantity),
            Err(AddError::Overflow { total }) => Err(overflow(&entry.key, hour, total, quantity)),
        }
    }

    /// The slow path, under the `Aside` lock: the first add of an account's hour (marking
    /// it), an hour outside the key's window (late by more than an hour, or ahead of the
    /// window: kept aside), or a meter that is closing.
    #[cold]
    fn add_slowly(&self, entry: &Entry, hour: Hour, quantity: Quantity) -> Result<(), MeterError> {
        let mut aside = self.aside();
        if let Some((hours, way)) = &entry.account {
            aside
                .marks
                .mark(hours, hour, *way)
                .map_err(|conflict| two_ways(entry, hour, conflict))?;
        }
        match entry.counters.add(hour, quantity.micros()) {
            Ok(()) => return Ok(()),
            Err(AddError::Overflow { total }) => {
                return Err(overflow(&entry.key, hour, total, quantity));
            }
            Err(AddError::Moved) => {}
        }
        // An add that passed the check in `add` before the close, and comes after the final
        // checkpoint took what is aside.
        if self.refusing.load(Ordering::SeqCst) & CLOSED != 0 {
            return Err(MeterError::Closed);
        }
        let key = &entry.key;
        let total = aside.usage.entry((key.clone(), hour)).or_default();
        let sum = *total + quantity.micros();
        if sum > Quantity::MAX.micros() {
            return Err(overflow(key, hour, *total, quantity));
        }
        *total = sum;
        Ok(())
    }
}
