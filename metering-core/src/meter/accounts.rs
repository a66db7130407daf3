//! One account, one way of billing it in an hour: under a product code
//! ([`Customer::Account`]) or under a licence ([`Customer::Licensed`]), never both, since
//! the service would bill the account twice.
//!
//! Each account's hours are marked with the ways it was recorded in them: four atomic
//! words (hour number and marks, slot `hour mod 4`), shared by the account's keys, so a
//! record in an hour already marked its way costs one load. Marking a new hour evicts the
//! slot's older one into a map under the meter's `Aside` lock, where hours outside the
//! words are marked too; an eviction and a mark racing on one word meet in its
//! compare-and-swap. (Across processes, the ledger quarantines both records when it seals.)

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::{Customer, CustomerAwsAccountId};

const SLOTS: usize = 4;
const MARK_BITS: u32 = 2;
const MARKS: i64 = (1 << MARK_BITS) - 1;

/// A way of billing an account: one bit of a mark.
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

    fn bit(self) -> i64 {
        self as i64
    }

    fn other(self) -> Way {
        match self {
            Way::Product => Way::License,
            Way::License => Way::Product,
        }
    }
}

/// Marking an hour found the account recorded the other way in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The way already recorded.
    pub(crate) recorded: Way,
}

/// The marks of an account's recent hours.
#[derive(Debug)]
pub(crate) struct AccountHours {
    account: CustomerAwsAccountId,
    words: [AtomicI64; SLOTS],
}

fn slot(hour: i64) -> usize {
    usize::try_from(hour.rem_euclid(4)).unwrap_or_default()
}

/// Checks `marks` (of one hour) for `way`: `Some` new marks to store, `None` when `way`
/// is marked already.
fn marked(marks: i64, way: Way) -> Result<Option<i64>, Conflict> {
    if marks & way.bit() != 0 {
        Ok(None)
    } else if marks & way.other().bit() != 0 {
        Err(Conflict {
            recorded: way.other(),
        })
    } else {
        Ok(Some(marks | way.bit()))
    }
}

impl AccountHours {
    fn new(account: CustomerAwsAccountId) -> Self {
        Self {
            account,
            words: std::array::from_fn(|_| AtomicI64::new(0)),
        }
    }

    /// Marks `hour` with `way` without the lock: `Ok(false)` when the hour is not in its
    /// word (the caller marks it with [`Marks::mark`]).
    #[inline]
    pub(crate) fn mark(&self, hour: i64, way: Way) -> Result<bool, Conflict> {
        let cell = &self.words[slot(hour)];
        let mut word = cell.load(Ordering::Acquire);
        loop {
            if word >> MARK_BITS != hour {
                return Ok(false);
            }
            let Some(new) = marked(word & MARKS, way)? else {
                return Ok(true);
            };
            match cell.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(true),
                Err(actual) => word = actual,
            }
        }
    }
}

fn hash(account: &CustomerAwsAccountId) -> u64 {
    FxBuildHasher.hash_one(account.as_str())
}

/// The accounts' hours, and the marks of the open hours their words no longer hold. Behind
/// the meter's `Aside` lock.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    accounts: HashTable<Arc<AccountHours>>,
    older: FxHashMap<(CustomerAwsAccountId, i64), i64>,
    /// Hours before this one are sealed, or about to be: their marks are not kept (late
    /// usage for them goes to an open hour, where the ledger checks it).
    oldest: i64,
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

    /// Marks `hour` of `hours` with `way`, evicting an older hour from its word.
    pub(crate) fn mark(
        &mut self,
        hours: &AccountHours,
        hour: i64,
        way: Way,
    ) -> Result<(), Conflict> {
        let cell = &hours.words[slot(hour)];
        let mut word = cell.load(Ordering::Acquire);
        loop {
            let (held, marks) = (word >> MARK_BITS, word & MARKS);
            let new = match held.cmp(&hour) {
                std::cmp::Ordering::Equal => match marked(marks, way)? {
                    Some(new) => new,
                    None => return Ok(()),
                },
                std::cmp::Ordering::Less => (hour << MARK_BITS) | way.bit(),
                std::cmp::Ordering::Greater if hour < self.oldest => return Ok(()),
                std::cmp::Ordering::Greater => {
                    // Its word moved on to a later hour: this one is marked here.
                    let marks = self.older.entry((hours.account.clone(), hour)).or_default();
                    if let Some(new) = marked(*marks, way)? {
                        *marks = new;
                    }
                    return Ok(());
                }
            };
            match cell.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if held != hour && marks != 0 && held >= self.oldest {
                        *self.older.entry((hours.account.clone(), held)).or_default() |= marks;
                    }
                    return Ok(());
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Forgets the marks of hours before `oldest` (sealed), and the accounts no key refers to
    /// whose words hold only such hours.
    pub(crate) fn forget_before(&mut self, oldest: i64) {
        self.oldest = oldest;
        self.older.retain(|&(_, hour), _| hour >= oldest);
        self.accounts.retain(|hours| {
            Arc::strong_count(hours) > 1
                || hours
                    .words
                    .iter()
                    .any(|word| word.load(Ordering::Acquire) >> MARK_BITS >= oldest)
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn account(n: u32) -> CustomerAwsAccountId {
        CustomerAwsAccountId::new(format!("{n:012}")).unwrap()
    }

    /// Hours evicted from the words keep their marks until they are too old to be open.
    #[test]
    fn evicted_hours_keep_their_marks_until_forgotten() {
        let mut marks = Marks::default();
        let hours = marks.account(&account(1));
        marks.mark(&hours, 100, Way::Product).unwrap();
        assert_eq!(hours.mark(100, Way::Product), Ok(true));
        // Hour 104 takes hour 100's word.
        marks.mark(&hours, 104, Way::License).unwrap();
        assert_eq!(hours.mark(100, Way::Product), Ok(false));
        assert_eq!(
            marks.mark(&hours, 100, Way::License),
            Err(Conflict {
                recorded: Way::Product
            })
        );
        assert_eq!(
            hours.mark(104, Way::Product),
            Err(Conflict {
                recorded: Way::License
            })
        );
        marks.forget_before(101);
        marks.mark(&hours, 100, Way::License).unwrap();
        // An account no key refers to is forgotten once its hours are.
        let other = marks.account(&account(2));
        marks.mark(&other, 100, Way::Product).unwrap();
        drop(other);
        marks.forget_before(100);
        assert_eq!(marks.accounts.len(), 2);
        marks.forget_before(101);
        assert_eq!(marks.accounts.len(), 1);
        drop(hours);
        marks.forget_before(105);
        assert!(marks.accounts.is_empty() && marks.older.is_empty());
    }
}
