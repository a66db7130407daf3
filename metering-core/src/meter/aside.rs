//! What the writer takes besides the keys' rings, under one lock: usage kept aside (an
//! hour outside its key's window), the pairs registered for a record every hour, and the
//! accounts' marks.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::accounts::Marks;
use super::hour::Hour;
use crate::Customer;
use crate::kind::Kind;
use crate::ledger::UsageKey;

/// Usage kept aside, by key, hour and kind: a sum's total or a maximum, in micro-units (a
/// distinct key's and a level key's usage is never outside its key).
pub(super) type AsideUsage = FxHashMap<(Arc<UsageKey>, Hour, Kind), u64>;

/// What the writer takes besides the keys' rings, under one lock.
#[derive(Default)]
pub(super) struct Aside {
    /// Usage that did not fit its key's ring (an hour outside the window): kept by hour.
    pub(super) usage: AsideUsage,
    /// The pairs registered for a record every hour ([`Meter::register`]), each with its
    /// kind and the first hour it has no zero for yet.
    ///
    /// [`Meter::register`]: super::Meter::register
    pub(super) registered: FxHashMap<Arc<UsageKey>, (Kind, Hour)>,
    /// How each account was billed in its recent hours.
    pub(super) marks: Marks,
}

impl Aside {
    /// A zero for each registered pair and each hour through `hour` it has none for yet:
    /// every hour a pair is registered in then seals into a record, of its usage or of 0.
    /// (Hours before the previous one are skipped: the meter took no checkpoint in them, its
    /// ledger refusing commits, and they may be sealed already.)
    pub(super) fn zero_registered(&mut self, hour: Hour) {
        let Self {
            usage, registered, ..
        } = self;
        for (key, (kind, next)) in registered.iter_mut() {
            add_zeros(usage, key, *kind, *next, hour);
            *next = (*next).max(hour.next());
        }
    }

    /// Ends `key`'s registration, with zeros through `hour`, the last hour it was in.
    pub(super) fn unregister(&mut self, key: &UsageKey, hour: Hour) {
        if let Some((key, (kind, next))) = self.registered.remove_entry(key) {
            add_zeros(&mut self.usage, &key, kind, next, hour);
        }
    }

    /// Ends every registration of `customer`, as [`Aside::unregister`].
    pub(super) fn unregister_customer(&mut self, customer: &Customer, hour: Hour) {
        let keys: Vec<Arc<UsageKey>> = self
            .registered
            .keys()
            .filter(|key| key.customer() == customer)
            .cloned()
            .collect();
        for key in keys {
            self.unregister(&key, hour);
        }
    }
}

/// Zeros for `key` from hour `next` (or the previous hour, if later) through `hour`. (A
/// distinct key's zero is an empty set of identifiers, taken with its sets.)
fn add_zeros(usage: &mut AsideUsage, key: &Arc<UsageKey>, kind: Kind, next: Hour, hour: Hour) {
    for zero in next.max(hour.previous()).through(hour) {
        usage.entry((key.clone(), zero, kind)).or_default();
    }
}
