//! Taking a checkpoint: every key's usage since the previous one, and what is aside.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::hour::Hour;
use super::shared::{CLOSED, Shared};
use crate::Quantity;
use crate::ledger::{Delta, Usage, UsageKey};

impl Shared {
    /// Takes every key's usage since the previous checkpoint, moving the windows to the
    /// current hour (or, closing, past every real hour, so that later adds are refused: an
    /// add racing with the close lands before it, or misses the ring and meets the closed
    /// `Aside`).
    pub(super) fn take(&self, closing: bool) -> (u64, Vec<Delta>) {
        let center = if closing {
            self.refusing.fetch_or(CLOSED, Ordering::SeqCst);
            Hour::BEYOND
        } else {
            self.hour_now.load(Ordering::Relaxed)
        };
        // Before the scan: keys opened during it open with this window.
        let turned = self.center.fetch_max(center, Ordering::SeqCst) < center;
        let number = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let mut deltas = Vec::new();
        self.table.for_each(|entry| {
            entry.counters.take(center, |hour, micros| {
                deltas.push(delta(&entry.key, hour, micros));
            });
        });
        let usage = {
            let mut aside = self.aside();
            let hour = self.hour_now.load(Ordering::Relaxed);
            aside.zero_registered(hour);
            if turned {
                let sealed = Hour::of(self.config.seal_until(self.now()));
                aside.marks.forget_sealed(sealed);
            }
            std::mem::take(&mut aside.usage)
        };
        deltas.extend(
            usage
                .into_iter()
                .map(|((key, hour), micros)| delta(&key, hour, micros)),
        );
        if turned {
            self.table.forget_idle();
        } else {
            self.table.publish();
        }
        (number, deltas)
    }
}

fn delta(key: &Arc<UsageKey>, hour: Hour, micros: u64) -> Delta {
    Delta {
        key: key.clone(),
        hour,
        // Totals never exceed the maximum, so neither do their differences.
        usage: Usage::Sum(Quantity::from_micros(micros).unwrap_or(Quantity::MAX)),
    }
}
