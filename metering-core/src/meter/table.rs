//! The open keys: a sharded hash table from [`UsageKey`] to its [`Counters`], read-locked
//! for lookups (the metrics-rs shape), so a key already open costs a hash, a shared lock
//! and one compare-and-swap, with no allocation.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::slot::Counters;
use crate::ledger::UsageKey;
use crate::{Customer, Tags};

/// One open key and its hourly totals.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: Arc<UsageKey>,
    pub(crate) counters: Counters,
}

/// A key as callers hold it, borrowed: looking it up allocates nothing. `tags` must be
/// sorted by key, as [`UsageKey`] keeps them.
#[derive(Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) customer: &'a Customer,
    pub(crate) dimension: &'a str,
    pub(crate) tags: Option<&'a Tags>,
}

impl<'a> KeyRef<'a> {
    /// The untagged key of `customer`'s usage of `dimension`.
    pub(crate) fn untagged(customer: &'a Customer, dimension: &'a str) -> Self {
        Self {
            customer,
            dimension,
            tags: None,
        }
    }

    /// The key, owned.
    pub(crate) fn to_key(self) -> UsageKey {
        UsageKey::new(
            self.customer.clone(),
            crate::DimensionKey::new(self.dimension.to_owned())
                .unwrap_or_else(|_| unreachable!("dimension keys are validated")),
            self.tags.cloned(),
        )
    }

    fn matches(&self, key: &UsageKey) -> bool {
        key.dimension().as_str() == self.dimension
            && key.customer() == self.customer
            && key.tags() == self.tags
    }

    fn hash(&self) -> u64 {
        let mut hasher = FxBuildHasher.build_hasher();
        self.customer.hash(&mut hasher);
        self.dimension.hash(&mut hasher);
        self.tags.hash(&mut hasher);
        hasher.finish()
    }
}

fn hash_of(key: &UsageKey) -> u64 {
    KeyRef {
        customer: key.customer(),
        dimension: key.dimension().as_str(),
        tags: key.tags(),
    }
    .hash()
}

/// A shard on its own cache lines, so that locking one does not slow its neighbours.
#[repr(align(128))]
#[derive(Default)]
struct Shard(RwLock<HashTable<Arc<Entry>>>);

/// The open keys.
pub(crate) struct Table {
    shards: Box<[Shard]>,
}

impl Table {
    /// A table with enough shards that threads rarely meet on one.
    pub(crate) fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, usize::from);
        let shards = (threads * 4).next_power_of_two().max(16);
        Self {
            shards: (0..shards).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<HashTable<Arc<Entry>>> {
        // The top bits pick the shard; the table inside uses the low ones.
        let index = usize::try_from(hash >> 40).unwrap_or_default() & (self.shards.len() - 1);
        &self.shards[index].0
    }

    /// Runs `f` on `key`'s entry, opening it (with `new`'s window) when it is not open.
    /// `f` runs under the shard's lock, so the entry cannot be forgotten meanwhile.
    pub(crate) fn with<R>(
        &self,
        key: KeyRef<'_>,
        center: impl FnOnce() -> i64,
        f: impl FnOnce(&Arc<Entry>) -> R,
    ) -> R {
        let hash = key.hash();
        let shard = self.shard(hash);
        {
            let entries = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.find(hash, |entry| key.matches(&entry.key)) {
                return f(entry);
            }
        }
        let mut entries = shard.write().unwrap_or_else(PoisonError::into_inner);
        let entry = entries
            .entry(
                hash,
                |entry| key.matches(&entry.key),
                |entry| hash_of(&entry.key),
            )
            .or_insert_with(|| {
                Arc::new(Entry {
                    key: Arc::new(key.to_key()),
                    counters: Counters::new(center()),
                })
            });
        f(entry.get())
    }

    /// Calls `f` on every open entry, a shard at a time under its shared lock.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Entry)) {
        for shard in &self.shards {
            let entries = shard.0.read().unwrap_or_else(PoisonError::into_inner);
            entries.iter().for_each(|entry| f(entry));
        }
    }

    /// Forgets the keys that hold no usage and that no handle refers to; returns how many
    /// are still open.
    pub(crate) fn forget_idle(&self) -> usize {
        let mut open = 0;
        for shard in &self.shards {
            let mut entries = shard.0.write().unwrap_or_else(PoisonError::into_inner);
            // Under the exclusive lock no add is in flight; a handle holds its own `Arc`.
            entries.retain(|entry| Arc::strong_count(entry) > 1 || !entry.counters.is_empty());
            open += entries.len();
        }
        open
    }

    /// How many keys are open.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.0.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}
