//! Taking a checkpoint: every key's usage since the previous one, and what is aside.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::hour::Hour;
use super::shared::{CLOSED, Shared};
use super::table::KeyUsage;
use crate::Quantity;
use crate::kind::Kind;
use crate::ledger::{Delta, Usage, UsageKey};

impl Shared {
    /// Takes every key's usage since the previous checkpoint, moving the windows to the
    /// current hour (or, closing, past every real hour, so that later adds are refused: an
    /// add racing with the close lands before it, or misses the ring and meets the closed
    /// `Aside`; a key under its own lock sees the close under it).
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
            let mut push = |hour, usage| {
                deltas.push(Delta {
                    key: entry.key.clone(),
                    hour,
                    usage,
                });
            };
            match &entry.usage {
                KeyUsage::Sum(counters) => counters.take(center, |hour, total, prior| {
                    push(hour, Usage::Sum(quantity(total - prior)));
                }),
                // The ledger keeps the highest maximum: the total, not a difference.
                KeyUsage::Max(counters) => counters.take(center, |hour, total, _| {
                    push(hour, Usage::Max(quantity(total)));
                }),
                KeyUsage::Distinct(ids) => {
                    ids.take(center, |hour, ids| push(hour, Usage::Distinct(ids)));
                }
                KeyUsage::Level(levels) => {
                    levels.take(|hour, changes| push(hour, Usage::Level(changes)));
                }
            }
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
                .filter_map(|((key, hour, kind), micros)| aside_delta(key, hour, kind, micros)),
        );
        if turned {
            self.table.forget_idle();
        } else {
            self.table.publish();
        }
        (number, deltas)
    }
}

/// Totals and maxima never exceed the maximum, so neither do their differences.
fn quantity(micros: u64) -> Quantity {
    Quantity::from_micros(micros).unwrap_or(Quantity::MAX)
}

/// The delta of usage kept aside: a sum's total or a maximum, or a registered pair's zero
/// (an empty set, for a distinct key; none for a level key, billed by its level).
fn aside_delta(key: Arc<UsageKey>, hour: Hour, kind: Kind, micros: u64) -> Option<Delta> {
    let usage = match kind {
        Kind::Sum => Usage::Sum(quantity(micros)),
        Kind::Max => Usage::Max(quantity(micros)),
        Kind::Distinct => Usage::Distinct(Vec::new()),
        Kind::Level => return None,
    };
    Some(Delta { key, hour, usage })
}
