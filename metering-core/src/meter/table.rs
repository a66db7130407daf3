//! The open keys, in two hash tables from [`UsageKey`] to its [`Counters`]:
//! - the published keys: an immutable table behind an [`ArcSwap`] (read-copy-update), read
//!   without a lock and without writing to memory another thread reads, so threads recording
//!   on different keys share nothing (a reader-writer lock's reader count would bounce
//!   between their cores on every record);
//! - the fresh keys, opened since the last publication, behind a mutex.
//!
//! The writer publishes the fresh keys at every checkpoint, and a fresh table grown past a
//! quarter of the published one publishes itself, so opening `n` keys copies O(n) entries.
//! Forgetting idle keys builds a table without them; an add racing with that (through an
//! older table or a handle) keeps its key open: see [`Table::forget_idle`]. The `loom`
//! tests below check every interleaving of adds and openings with publication and
//! forgetting.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, PoisonError};

#[cfg(not(loom))]
use arc_swap::ArcSwap;
use hashbrown::HashTable;
// Under the model checker, the entries' reference counts and the fresh table's lock are
// loom's, so that it sees them.
#[cfg(loom)]
pub(crate) use loom::sync::Arc as EntryArc;
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
use rustc_hash::FxBuildHasher;
#[cfg(not(loom))]
pub(crate) use std::sync::Arc as EntryArc;
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

use super::accounts::{AccountHours, Way};
use super::distinct::Identifiers;
use super::hour::Hour;
use super::level::Levels;
use super::slot::Counters;
use crate::kind::Kind;
use crate::ledger::UsageKey;
use crate::{Customer, Tags};

/// Below this many fresh keys, they wait for the next checkpoint to be published.
const EARLY_PUBLICATION: usize = 64;

/// One open key and its usage.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: Arc<UsageKey>,
    pub(crate) usage: KeyUsage,
    /// The hours of the customer's account, for one that is billed by account.
    pub(crate) account: Option<(Arc<AccountHours>, Way)>,
    /// The key's hash, so that a publication copies the table without hashing keys again.
    hash: u64,
}

/// A key's usage in memory, by its kind. (A key's kind is part of it: two dimension types
/// of one name and different kinds record apart, and the ledger sets aside the kind that is
/// not the key's.)
#[derive(Debug)]
pub(crate) enum KeyUsage {
    /// Hourly totals.
    Sum(Counters),
    /// Hourly maxima.
    Max(Counters),
    /// Hourly sets of identifiers.
    Distinct(Identifiers),
    /// Level changes.
    Level(Levels),
}

impl KeyUsage {
    fn new(kind: Kind, center: Hour) -> Self {
        match kind {
            Kind::Sum => Self::Sum(Counters::new(center)),
            Kind::Max => Self::Max(Counters::new(center)),
            Kind::Distinct => Self::Distinct(Identifiers::default()),
            Kind::Level => Self::Level(Levels::default()),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Self::Sum(_) => Kind::Sum,
            Self::Max(_) => Kind::Max,
            Self::Distinct(_) => Kind::Distinct,
            Self::Level(_) => Kind::Level,
        }
    }

    /// Whether nothing is held, so the key can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Self::Sum(counters) | Self::Max(counters) => counters.is_empty(),
            Self::Distinct(ids) => ids.is_empty(),
            Self::Level(levels) => levels.is_empty(),
        }
    }
}

#[cfg(test)]
impl Entry {
    /// The hourly totals of a sum's or a maximum's key.
    pub(crate) fn counters(&self) -> &Counters {
        match &self.usage {
            KeyUsage::Sum(counters) | KeyUsage::Max(counters) => counters,
            _ => panic!("not a key with counters"),
        }
    }
}

/// A key as callers hold it, borrowed: looking it up allocates nothing. `tags` must be
/// sorted by key, as [`UsageKey`] keeps them.
#[derive(Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) customer: &'a Customer,
    pub(crate) dimension: &'a str,
    pub(crate) kind: Kind,
    pub(crate) tags: Option<&'a Tags>,
}

impl<'a> KeyRef<'a> {
    /// The untagged key of `customer`'s usage of `dimension`.
    pub(crate) fn untagged(customer: &'a Customer, dimension: &'a str, kind: Kind) -> Self {
        Self {
            customer,
            dimension,
            kind,
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

    fn matches(&self, entry: &Entry) -> bool {
        let key = &entry.key;
        key.dimension().as_str() == self.dimension
            && key.customer() == self.customer
            && key.tags() == self.tags
            && entry.usage.kind() == self.kind
    }

    fn hash(&self) -> u64 {
        let mut hasher = FxBuildHasher.build_hasher();
        self.customer.hash(&mut hasher);
        self.dimension.hash(&mut hasher);
        self.tags.hash(&mut hasher);
        hasher.finish()
    }
}

/// What a key opens with.
pub(crate) struct Opening {
    /// The centre of its hours' window.
    pub(crate) center: Hour,
    /// Its account's hours, as [`Entry::account`].
    pub(crate) account: Option<(Arc<AccountHours>, Way)>,
}

type Keys = HashTable<EntryArc<Entry>>;

/// The published keys.
#[cfg(not(loom))]
type Published = ArcSwap<Keys>;

/// The published keys, for the model checker, which cannot see inside `ArcSwap`: a lock
/// around the table. A reader holds the table it loaded, as an `ArcSwap` reader does once a
/// newer table is stored (`ArcSwap` then pays the reader's debt: a strong reference).
#[cfg(loom)]
struct Published(Mutex<Arc<Keys>>);

#[cfg(loom)]
impl Published {
    fn from_pointee(keys: Keys) -> Self {
        Self(Mutex::new(Arc::new(keys)))
    }

    fn load(&self) -> Arc<Keys> {
        self.load_full()
    }

    fn load_full(&self) -> Arc<Keys> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, keys: Arc<Keys>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = keys;
    }
}

/// The open keys.
pub(crate) struct Table {
    published: Published,
    /// Keys opened since the last publication. Held while publishing, forgetting and
    /// scanning, so that no key is in neither table, or in both, for anyone who holds it.
    fresh: Mutex<Keys>,
}

impl Table {
    pub(crate) fn new() -> Self {
        Self {
            published: Published::from_pointee(Keys::new()),
            fresh: Mutex::default(),
        }
    }

    fn fresh(&self) -> MutexGuard<'_, Keys> {
        self.fresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on `key`'s entry, opening it (as `open` says) when it is not open. An add
    /// under `f` is never lost, even if the entry is being forgotten: see
    /// [`Table::forget_idle`].
    pub(crate) fn with<R>(
        &self,
        key: KeyRef<'_>,
        open: impl FnOnce() -> Opening,
        f: impl FnOnce(&EntryArc<Entry>) -> R,
    ) -> R {
        let hash = key.hash();
        {
            let published = self.published.load();
            if let Some(entry) = published.find(hash, |entry| key.matches(entry)) {
                return f(entry);
            }
        }
        let mut fresh = self.fresh();
        // Published since the load above? No publication can run now.
        let published = self.published.load();
        if let Some(entry) = published.find(hash, |entry| key.matches(entry)) {
            return f(entry);
        }
        let entry = fresh
            .entry(hash, |entry| key.matches(entry), |entry| entry.hash)
            .or_insert_with(|| {
                let Opening { center, account } = open();
                EntryArc::new(Entry {
                    key: Arc::new(key.to_key()),
                    usage: KeyUsage::new(key.kind, center),
                    account,
                    hash,
                })
            });
        let result = f(entry.get());
        if fresh.len() >= EARLY_PUBLICATION.max(published.len() / 4) {
            drop(published);
            self.publish_locked(&mut fresh);
        }
        result
    }

    /// Moves the fresh keys into the published table.
    pub(crate) fn publish(&self) {
        self.publish_locked(&mut self.fresh());
    }

    fn publish_locked(&self, fresh: &mut Keys) {
        if fresh.is_empty() {
            return;
        }
        let mut keys = Keys::clone(&self.published.load());
        keys.reserve(fresh.len(), |entry| entry.hash);
        for entry in fresh.drain() {
            keys.insert_unique(entry.hash, entry, |entry| entry.hash);
        }
        self.published.store(Arc::new(keys));
    }

    /// Calls `f` on every open entry.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Entry)) {
        // Locked first: a publication cannot move a key out of `fresh` after the load below.
        let fresh = self.fresh();
        let published = self.published.load();
        published
            .iter()
            .chain(fresh.iter())
            .for_each(|entry| f(entry));
    }

    /// Forgets the keys that hold no usage and that nothing else refers to (no handle, no
    /// reader), publishing the fresh keys meanwhile.
    ///
    /// A reader may have found an idle key in the table it loaded just before the new one
    /// was published. Once published (`ArcSwap` has then counted every reader of the old
    /// table), a forgotten key that is still referred to, or that holds usage, goes back
    /// into the fresh table: no add is lost, and no key is open twice, since the fresh table
    /// is locked throughout.
    pub(crate) fn forget_idle(&self) {
        let mut fresh = self.fresh();
        let published = self.published.load_full();
        let mut kept = Keys::with_capacity(published.len() + fresh.len());
        let mut idle = Vec::new();
        for entry in published.iter().chain(fresh.iter()) {
            let entry = entry.clone();
            // Two references: the table's and this clone.
            if EntryArc::strong_count(&entry) == 2 && entry.usage.is_empty() {
                idle.push(entry);
            } else {
                kept.insert_unique(entry.hash, entry, |entry| entry.hash);
            }
        }
        fresh.clear();
        self.published.store(Arc::new(kept));
        drop(published);
        for mut entry in idle {
            // `get_mut` also orders every add made through another reference before this.
            if EntryArc::get_mut(&mut entry).is_none_or(|entry| !entry.usage.is_empty()) {
                fresh.insert_unique(entry.hash, entry, |entry| entry.hash);
            }
        }
    }

    /// How many keys are open.
    pub(crate) fn len(&self) -> usize {
        let fresh = self.fresh();
        self.published.load().len() + fresh.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{CustomerAwsAccountId, ProductCode};

    fn customer(n: usize) -> Customer {
        Customer::Account {
            product: ProductCode::new("prod-a").unwrap(),
            account: CustomerAwsAccountId::new(format!("{n:012}")).unwrap(),
        }
    }

    fn opening(center: i64) -> Opening {
        Opening {
            center: Hour::from_number(center),
            account: None,
        }
    }

    /// The entry of customer `n`'s "calls", opened if need be.
    fn entry(table: &Table, n: usize) -> Arc<Entry> {
        table.with(
            KeyRef::untagged(&customer(n), "calls", Kind::Sum),
            || opening(0),
            Arc::clone,
        )
    }

    fn total(table: &Table) -> u64 {
        let mut total = 0;
        table.for_each(|entry| total += entry.counters().held());
        total
    }

    #[test]
    fn a_key_stays_one_entry_through_publications() {
        let table = Table::new();
        let first = entry(&table, 0);
        // A few new keys wait for the next checkpoint to be published.
        for n in 1..10 {
            entry(&table, n);
        }
        assert_eq!(table.fresh().len(), 10);
        // Enough keys to publish early, twice.
        for n in 10..200 {
            entry(&table, n);
        }
        assert!(table.fresh().len() < EARLY_PUBLICATION);
        assert!(Arc::ptr_eq(&first, &entry(&table, 0)));
        table.publish();
        assert!(table.fresh().is_empty());
        assert_eq!(table.len(), 200);
        // Early publications copy the table once it grew by a quarter, not more often.
        for n in 200..400 {
            entry(&table, n);
        }
        table.publish();
        for n in 400..499 {
            entry(&table, n);
        }
        assert_eq!(table.fresh().len(), 99);
        entry(&table, 499);
        assert!(table.fresh().is_empty());
        assert!(Arc::ptr_eq(&first, &entry(&table, 0)));
        let mut seen = 0;
        table.for_each(|_| seen += 1);
        assert_eq!((seen, table.len()), (500, 500));
    }

    /// Keys spread over the table (a lookup stays one probe or two, however many keys are
    /// open): customers and dimensions both count.
    #[test]
    fn keys_hash_apart() {
        let customers: Vec<Customer> = (0..1000).map(customer).collect();
        let mut hashes: std::collections::HashSet<u64> = customers
            .iter()
            .map(|customer| KeyRef::untagged(customer, "calls", Kind::Sum).hash())
            .collect();
        hashes.insert(KeyRef::untagged(&customers[0], "storage", Kind::Sum).hash());
        assert_eq!(hashes.len(), 1001);
    }

    /// A key of any kind holding usage not yet taken is kept; once taken (and its hours
    /// past), forgotten.
    #[test]
    fn a_key_of_any_kind_holding_usage_is_kept() {
        let (table, customer) = (Table::new(), customer(0));
        let hour = Hour::from_number(0);
        for kind in Kind::ALL {
            let key = KeyRef::untagged(&customer, "usage", kind);
            table.with(
                key,
                || opening(0),
                |entry| match &entry.usage {
                    KeyUsage::Sum(counters) => counters.add(hour, 1).unwrap(),
                    KeyUsage::Max(counters) => counters.observe(hour, 1).unwrap(),
                    KeyUsage::Distinct(ids) => ids.mark(hour, 1_u64.into(), || false).unwrap(),
                    KeyUsage::Level(levels) => {
                        let change = crate::ledger::LevelChange {
                            at: hour.start(),
                            level: crate::Quantity::ZERO,
                        };
                        levels.set(change, || false).unwrap();
                    }
                },
            );
        }
        table.forget_idle();
        assert_eq!(table.len(), 4);
        table.for_each(|entry| match &entry.usage {
            KeyUsage::Sum(counters) | KeyUsage::Max(counters) => {
                counters.take(Hour::from_number(4), |_, _, _| {});
            }
            KeyUsage::Distinct(ids) => ids.take(Hour::from_number(4), |_, _| {}),
            KeyUsage::Level(levels) => levels.take(|_, _| {}),
        });
        table.forget_idle();
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn only_idle_keys_nothing_refers_to_are_forgotten() {
        let table = Table::new();
        entry(&table, 0)
            .counters()
            .add(Hour::from_number(0), 5)
            .unwrap(); // holds usage
        let held = entry(&table, 1); // a handle holds it
        entry(&table, 2); // idle, published
        table.publish();
        entry(&table, 3); // idle, fresh
        table.forget_idle();
        assert_eq!(table.len(), 2);
        // The keys kept stay published, where readers find them without the lock.
        assert_eq!(table.published.load().len(), 2);
        assert!(Arc::ptr_eq(&held, &entry(&table, 1)));
        assert_eq!(total(&table), 5);
    }

    /// A reader that found an idle key in the table it loaded, and adds after the key was
    /// judged idle, keeps the key open with its usage.
    #[test]
    fn a_key_a_reader_still_holds_is_kept_with_its_usage() {
        let table = Table::new();
        entry(&table, 0);
        table.publish();
        // What a reader holds between its lookup and its add: the table it loaded.
        let reader = table.published.load_full();
        table.forget_idle();
        reader
            .iter()
            .next()
            .unwrap()
            .counters()
            .add(Hour::from_number(0), 7)
            .unwrap();
        drop(reader);
        assert_eq!(table.len(), 1);
        assert_eq!(total(&table), 7);
        table.forget_idle();
        assert_eq!(total(&table), 7);
        let mut keys = 0;
        table.for_each(|_| keys += 1);
        assert_eq!(keys, 1);
    }

    /// Threads open keys and add while a checkpointer takes their usage, moves their
    /// windows on (so that keys fall idle) and forgets idle keys: every add is taken once.
    #[test]
    fn adds_racing_with_checkpoints_and_forgetting_lose_nothing() {
        use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
        const ADDS: u64 = 30_000;
        let table = Table::new();
        let (hour, taken, done) = (AtomicI64::new(0), AtomicU64::new(0), AtomicBool::new(false));
        let checkpoint = |hour: i64| {
            table.for_each(|entry| {
                entry
                    .counters()
                    .take(Hour::from_number(hour), |_, total, prior| {
                        taken.fetch_add(total - prior, Ordering::Relaxed);
                    });
            });
        };
        std::thread::scope(|scope| {
            let adders: Vec<_> = (0..3)
                .map(|thread| {
                    let (table, hour) = (&table, &hour);
                    scope.spawn(move || {
                        for i in 0..ADDS {
                            let customer = customer(usize::try_from(i % 50).unwrap() + thread);
                            let key = KeyRef::untagged(&customer, "calls", Kind::Sum);
                            // An add that finds its hour moved on is made again, as the
                            // meter sets it aside.
                            while table
                                .with(
                                    key,
                                    || opening(hour.load(Ordering::SeqCst)),
                                    |entry| {
                                        let hour = Hour::from_number(hour.load(Ordering::SeqCst));
                                        entry.counters().add(hour, 1)
                                    },
                                )
                                .is_err()
                            {}
                        }
                    })
                })
                .collect();
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    // A whole window on: every total is taken, and the keys fall idle.
                    checkpoint(hour.fetch_add(4, Ordering::SeqCst) + 4);
                    table.forget_idle();
                }
            });
            for adder in adders {
                adder.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        checkpoint(hour.load(Ordering::SeqCst) + 4);
        assert_eq!(taken.load(Ordering::Relaxed), 3 * ADDS);
    }
}

/// Every interleaving of adds and openings with publication and forgetting: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p metering-core --features meter --lib loom`
/// (`scripts/test` does).
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::thread;

    use super::*;
    use crate::{CustomerAwsAccountId, ProductCode};

    const HOUR: Hour = Hour::from_number(10);
    /// A whole window after [`HOUR`]: a checkpoint to it takes every total, and keys with
    /// nothing added since fall idle.
    const LATER: Hour = Hour::from_number(14);

    fn customer() -> Customer {
        Customer::Account {
            product: ProductCode::new("prod-a").unwrap(),
            account: CustomerAwsAccountId::new("000000000001".to_owned()).unwrap(),
        }
    }

    /// Adds 1 to the key's current hour (the checkpointer's, as last read), opening the key
    /// if need be, as the meter does: true when the ring took it, false when the hour was
    /// not in the key's window (the meter keeps it aside).
    fn add(table: &Table, center: &std::sync::atomic::AtomicI64) -> bool {
        let customer = customer();
        let key = KeyRef::untagged(&customer, "calls", Kind::Sum);
        let now = || Hour::from_number(center.load(std::sync::atomic::Ordering::SeqCst));
        let hour = now();
        let open = || Opening {
            center: now(),
            account: None,
        };
        table.with(key, open, |entry| entry.counters().add(hour, 1).is_ok())
    }

    /// A checkpoint to `center`, as the meter's: the new centre first (keys opened during
    /// the scan open with it), then every entry's usage; then the idle keys are forgotten.
    fn checkpoint(table: &Table, center: &std::sync::atomic::AtomicI64, to: Hour) -> u64 {
        center.store(to.number(), std::sync::atomic::Ordering::SeqCst);
        let mut taken = 0;
        table.for_each(|entry| {
            entry
                .counters()
                .take(to, |_, total, prior| taken += total - prior)
        });
        taken
    }

    /// The entries open for the key.
    fn entries(table: &Table) -> usize {
        let mut entries = 0;
        table.for_each(|_| entries += 1);
        entries
    }

    /// `adders` threads add once each while the checkpointer moves the window on and
    /// forgets the idle key (opened and published before, or not): every add is taken by
    /// a checkpoint or kept aside, and the key is never open twice.
    fn check(adders: usize, opened: bool) {
        loom::model(move || {
            let table = Arc::new(Table::new());
            let center = Arc::new(std::sync::atomic::AtomicI64::new(HOUR.number()));
            if opened {
                table.with(
                    KeyRef::untagged(&customer(), "calls", Kind::Sum),
                    || Opening {
                        center: HOUR,
                        account: None,
                    },
                    |_| (),
                );
                table.publish();
            }
            let threads: Vec<_> = (0..adders)
                .map(|_| {
                    let (table, center) = (table.clone(), center.clone());
                    thread::spawn(move || add(&table, &center))
                })
                .collect();
            let mut taken = checkpoint(&table, &center, LATER);
            table.forget_idle();
            let mut aside = 0;
            for thread in threads {
                if !thread.join().unwrap() {
                    aside += 1;
                }
            }
            assert!(entries(&table) <= 1, "the key is open twice");
            // The final checkpoint, once every add returned.
            taken += checkpoint(&table, &center, LATER);
            assert_eq!(taken + aside, u64::try_from(adders).unwrap());
        });
    }

    #[test]
    fn loom_an_add_racing_with_forgetting_its_idle_key() {
        check(1, true);
    }

    #[test]
    fn loom_two_openings_racing_with_forgetting() {
        check(2, false);
    }

    /// A handle held across the forgetting: its key stays the table's, and its adds are
    /// taken.
    #[test]
    fn loom_a_handle_racing_with_forgetting() {
        loom::model(|| {
            let table = Arc::new(Table::new());
            let center = std::sync::atomic::AtomicI64::new(HOUR.number());
            let handle = table.with(
                KeyRef::untagged(&customer(), "calls", Kind::Sum),
                || Opening {
                    center: HOUR,
                    account: None,
                },
                EntryArc::clone,
            );
            table.publish();
            let adder = {
                let handle = handle.clone();
                thread::spawn(move || handle.counters().add(LATER, 1).is_ok())
            };
            let mut taken = checkpoint(&table, &center, LATER);
            table.forget_idle();
            let added = adder.join().unwrap();
            // Either the add landed before the window moved (and was refused as moved) or
            // after it, into the key the table still holds.
            let mut found = None;
            table.for_each(|entry| found = Some(std::ptr::from_ref(entry)));
            assert_eq!(
                found,
                Some(std::ptr::from_ref(&*handle)),
                "the handle's key was forgotten"
            );
            taken += checkpoint(&table, &center, LATER);
            assert_eq!(taken, u64::from(added));
        });
    }
}
