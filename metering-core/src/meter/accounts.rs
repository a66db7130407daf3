//! One account, one way of billing it in an hour: under a product code
//! ([`Customer::Account`]) or under a licence ([`Customer::Licensed`]), never both, since
//! the service would bill the account twice.
//!
//! The first way recorded in an account's hour holds it. Each account has four atomic words
//! (slot `hour mod 4`), shared by its keys, each holding an hour and its way: a record in
//! an hour its word holds costs one load. Words are written only under the meter's `Aside`
//! lock, where the first record of an hour puts it in its word; the hour the word held
//! before moves to a map, also under the lock, while it may still be open. An hour's way
//! never changes once set, so a reader racing with a write sees either its hour's way or
//! another hour (and takes the lock). (Across processes, the ledger quarantines both
//! records when it seals.) The `loom` tests below check every interleaving of records of
//! both ways with the hour's turn.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[cfg(loom)]
use loom::sync::atomic::AtomicI64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicI64;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::hour::Hour;
use crate::{Customer, CustomerAwsAccountId};

const SLOTS: usize = 4;
/// A word is `hour << 2 | way`; 0 (no way) is an empty word.
const WAY_BITS: u32 = 2;
const WAY_MASK: i64 = 0b11;

/// A way of billing an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    Product = 1,
    License = 2,
}

impl Way {
    /// How `customer` is billed, when it is by account.
    pub(crate) fn of(customer: &Customer) -> Option<(&CustomerAwsAccountId, Way)> {
        match customer {
            Customer::Account { account, .. } => Some((account, Way::Product)),
            Customer::Licensed { account, .. } => Some((account, Way::License)),
            Customer::Legacy { .. } => None,
        }
    }

    fn word(self, hour: Hour) -> i64 {
        // The way takes the bits below the hour's, so adding packs them.
        (hour.number() << WAY_BITS) + self as i64
    }

    /// Whether `self` may be recorded in an hour held by `held`.
    fn check(self, held: Way) -> Result<(), Conflict> {
        if self == held {
            Ok(())
        } else {
            Err(Conflict { recorded: held })
        }
    }
}

/// The hour in `word`.
fn hour_of(word: i64) -> Hour {
    Hour::from_number(word >> WAY_BITS)
}

/// The way in `word`, if any.
fn way_of(word: i64) -> Option<Way> {
    match word & WAY_MASK {
        1 => Some(Way::Product),
        2 => Some(Way::License),
        _ => None,
    }
}

/// An hour of the account was recorded the other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The way recorded first.
    pub(crate) recorded: Way,
}

/// The ways of an account's recent hours.
#[derive(Debug)]
pub(crate) struct AccountHours {
    account: CustomerAwsAccountId,
    words: [AtomicI64; SLOTS],
}

fn slot(hour: Hour) -> usize {
    usize::try_from(hour.number().rem_euclid(4)).unwrap_or_default()
}

impl AccountHours {
    fn new(account: CustomerAwsAccountId) -> Self {
        Self {
            account,
            words: std::array::from_fn(|_| AtomicI64::new(0)),
        }
    }

    /// Checks `way` against `hour` without the lock: `Ok(false)` when the hour is not in its
    /// word (the caller takes the lock: [`Marks::mark`]).
    #[inline]
    pub(crate) fn check(&self, hour: Hour, way: Way) -> Result<bool, Conflict> {
        let word = self.words[slot(hour)].load(Ordering::Acquire);
        match way_of(word) {
            Some(held) if hour_of(word) == hour => way.check(held).map(|()| true),
            _ => Ok(false),
        }
    }
}

fn hash(account: &CustomerAwsAccountId) -> u64 {
    FxBuildHasher.hash_one(account.as_str())
}

/// The accounts' hours, and the ways of the open hours their words no longer hold. Behind
/// the meter's `Aside` lock.
#[derive(Debug)]
pub(crate) struct Marks {
    accounts: HashTable<Arc<AccountHours>>,
    older: FxHashMap<(CustomerAwsAccountId, Hour), Way>,
    /// Hours before this one are sealed, or about to be: their ways are not kept (late
    /// usage for them goes to an open hour, where the ledger checks it).
    oldest: Hour,
}

impl Default for Marks {
    fn default() -> Self {
        Self {
            accounts: HashTable::default(),
            older: FxHashMap::default(),
            oldest: Hour::from_number(0),
        }
    }
}

impl Marks {
    /// The hours of `account`, shared by all its keys.
    pub(crate) fn account(&mut self, account: &CustomerAwsAccountId) -> Arc<AccountHours> {
        self.accounts
            .entry(
                hash(account),
                |hours| hours.account == *account,
                |hours| hash(&hours.account),
            )
            .or_insert_with(|| Arc::new(AccountHours::new(account.clone())))
            .get()
            .clone()
    }

    /// Records `way` in `hour` of `hours`, or refuses it.
    pub(crate) fn mark(
        &mut self,
        hours: &AccountHours,
        hour: Hour,
        way: Way,
    ) -> Result<(), Conflict> {
        let cell = &hours.words[slot(hour)];
        let word = cell.load(Ordering::Acquire);
        let held = hour_of(word);
        let take = |marks: &mut Self, previous: Option<Way>| {
            cell.store(way.word(hour), Ordering::Release);
            if let Some(previous) = previous.filter(|_| held >= marks.oldest) {
                marks.older.insert((hours.account.clone(), held), previous);
            }
            Ok(())
        };
        let Some(recorded) = way_of(word) else {
            return take(self, None);
        };
        match held.cmp(&hour) {
            std::cmp::Ordering::Equal => way.check(recorded),
            // An earlier hour's word: this hour takes it.
            std::cmp::Ordering::Less => take(self, Some(recorded)),
            // A later hour's word: this one is kept in `older` while it is open.
            std::cmp::Ordering::Greater if hour < self.oldest => Ok(()),
            std::cmp::Ordering::Greater => {
                let recorded = self.older.entry((hours.account.clone(), hour));
                way.check(*recorded.or_insert(way))
            }
        }
    }

    /// Forgets the ways of the hours sealed, those before `sealed`, but for the last one
    /// (a margin for a flusher whose clock is behind this one), and the accounts no key
    /// refers to whose words hold only such hours.
    pub(crate) fn forget_sealed(&mut self, sealed: Hour) {
        let oldest = sealed.previous();
        self.oldest = oldest;
        self.older.retain(|&(_, hour), _| hour >= oldest);
        self.accounts.retain(|hours| {
            Arc::strong_count(hours) > 1
                || hours
                    .words
                    .iter()
                    .any(|word| hour_of(word.load(Ordering::Acquire)) >= oldest)
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn h(number: i64) -> Hour {
        Hour::from_number(number)
    }

    fn account(n: u32) -> CustomerAwsAccountId {
        CustomerAwsAccountId::new(format!("{n:012}")).unwrap()
    }

    /// Accounts spread over the registry: finding one stays a probe or two.
    #[test]
    fn accounts_hash_apart() {
        let hashes: std::collections::HashSet<u64> = (0..1000).map(|n| hash(&account(n))).collect();
        assert_eq!(hashes.len(), 1000);
    }

    /// An hour's way holds it while the hour is open, in its word and then in the map;
    /// sealed hours leave nothing behind.
    #[test]
    fn an_hours_way_holds_while_the_hour_is_open() {
        let mut marks = Marks::default();
        let hours = marks.account(&account(1));
        let conflict = |recorded| Conflict { recorded };
        assert_eq!(hours.check(h(100), Way::Product), Ok(false), "not held yet");
        marks.mark(&hours, h(100), Way::Product).unwrap();
        assert_eq!(hours.check(h(100), Way::Product), Ok(true));
        assert_eq!(
            hours.check(h(100), Way::License),
            Err(conflict(Way::Product))
        );
        // Hour 104 takes hour 100's word; 100 is still told apart, under the lock.
        marks.mark(&hours, h(104), Way::License).unwrap();
        assert_eq!(hours.check(h(100), Way::Product), Ok(false));
        assert_eq!(
            marks.mark(&hours, h(100), Way::License),
            Err(conflict(Way::Product))
        );
        marks.mark(&hours, h(100), Way::Product).unwrap();
        assert_eq!(
            hours.check(h(104), Way::Product),
            Err(conflict(Way::License))
        );
        // An hour older than its word's, first recorded under the lock, holds there too.
        marks.mark(&hours, h(96), Way::License).unwrap();
        assert_eq!(
            marks.mark(&hours, h(96), Way::Product),
            Err(conflict(Way::License))
        );
        // Sealed hours are forgotten, and not kept again; but for the last one, kept for a
        // flusher whose clock is behind.
        marks.forget_sealed(h(101));
        assert_eq!(marks.older.len(), 1);
        assert_eq!(
            marks.mark(&hours, h(100), Way::License),
            Err(conflict(Way::Product))
        );
        marks.forget_sealed(h(102));
        assert_eq!(marks.older.len(), 0);
        marks.mark(&hours, h(100), Way::License).unwrap();
        marks.mark(&hours, h(108), Way::Product).unwrap(); // 104 leaves its word, still open
        assert_eq!(marks.older.len(), 1);
        marks.forget_sealed(h(106));
        marks.mark(&hours, h(112), Way::Product).unwrap(); // 108 leaves its word, open
        marks.mark(&hours, h(101), Way::License).unwrap(); // sealed
        assert_eq!(marks.older.len(), 1);
        // The oldest hour kept is kept.
        marks.mark(&hours, h(109), Way::Product).unwrap();
        marks.mark(&hours, h(105), Way::Product).unwrap();
        assert_eq!(
            marks.mark(&hours, h(105), Way::License),
            Err(conflict(Way::Product))
        );
        assert_eq!(marks.older.len(), 2);
        // An account no key refers to is forgotten once its hours are.
        let other = marks.account(&account(2));
        marks.mark(&other, h(110), Way::Product).unwrap();
        drop(other);
        marks.forget_sealed(h(111));
        assert_eq!(marks.accounts.len(), 2);
        marks.forget_sealed(h(112));
        assert_eq!(marks.accounts.len(), 1);
        // An account a key refers to is kept, whatever its hours: its keys and new ones
        // share its words.
        marks.forget_sealed(h(114));
        assert!(Arc::ptr_eq(&marks.account(&account(1)), &hours));
        drop(hours);
        marks.forget_sealed(h(114));
        assert!(marks.accounts.is_empty() && marks.older.is_empty());
    }
}

/// Every interleaving of records of an account's hour, both ways, with a later hour taking
/// its word: run with `RUSTFLAGS="--cfg loom" cargo test -p metering-core --features meter
/// --lib loom` (`scripts/test` does).
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Mutex;
    use loom::thread;

    use super::*;

    /// A record of `way` in `hour`, as the meter makes it: the account's word without the
    /// lock, then, when the word does not hold the hour, under the lock.
    fn record(
        marks: &Mutex<Marks>,
        hours: &AccountHours,
        hour: Hour,
        way: Way,
    ) -> Result<(), Conflict> {
        if hours.check(hour, way)? {
            return Ok(());
        }
        marks.lock().unwrap().mark(hours, hour, way)
    }

    /// Each thread records its `(hour, way)`s in order; then no hour was accepted both
    /// ways, and each refusal names a way accepted in its hour.
    fn check(threads: [&'static [(i64, Way)]; 3], sealed: Option<i64>) {
        loom::model(move || {
            let marks = Arc::new(Mutex::new(Marks::default()));
            let account = CustomerAwsAccountId::new("000000000001".to_owned()).unwrap();
            let hours = marks.lock().unwrap().account(&account);
            let running: Vec<_> = threads
                .iter()
                .map(|&records| {
                    let (marks, hours) = (marks.clone(), hours.clone());
                    thread::spawn(move || {
                        let mut results = Vec::new();
                        for &(hour, way) in records {
                            let hour = Hour::from_number(hour);
                            results.push((hour, way, record(&marks, &hours, hour, way)));
                            if let Some(sealed) = sealed {
                                marks
                                    .lock()
                                    .unwrap()
                                    .forget_sealed(Hour::from_number(sealed));
                            }
                        }
                        results
                    })
                })
                .collect();
            let results: Vec<_> = running
                .into_iter()
                .flat_map(|thread| thread.join().unwrap())
                .collect();
            for &(hour, way, result) in &results {
                let accepted = |other: Way| {
                    results
                        .iter()
                        .any(|&(h, w, r)| h == hour && w == other && r.is_ok())
                };
                match result {
                    Ok(()) => {
                        let other = if way == Way::Product {
                            Way::License
                        } else {
                            Way::Product
                        };
                        assert!(!accepted(other), "{hour} accepted both ways: {results:?}");
                    }
                    Err(Conflict { recorded }) => {
                        assert_ne!(recorded, way);
                        assert!(
                            accepted(recorded),
                            "{hour} refused for a way not accepted: {results:?}"
                        );
                    }
                }
            }
        });
    }

    #[test]
    fn loom_both_ways_racing_for_an_hour() {
        check(
            [
                &[(10, Way::Product), (10, Way::Product)],
                &[(10, Way::License)],
                &[],
            ],
            None,
        );
    }

    #[test]
    fn loom_both_ways_racing_with_a_later_hour_taking_the_word() {
        // Hour 14 takes hour 10's word (both slot 2) while both ways race for hour 10.
        check(
            [
                &[(10, Way::Product)],
                &[(10, Way::License)],
                &[(14, Way::License)],
            ],
            None,
        );
    }

    #[test]
    fn loom_both_ways_racing_with_the_sealed_hours_forgotten() {
        // Hour 9 is sealed: hour 10, the oldest kept, is still held one way.
        check(
            [
                &[(10, Way::Product)],
                &[(10, Way::License)],
                &[(14, Way::Product)],
            ],
            Some(10),
        );
    }
}
