//! What recording and running a Meter can fail with, and the messages of refused adds.

use super::accounts::{Conflict, Way};
use super::hour::Hour;
use super::table::Entry;
use crate::ledger::{Delta, LedgerError, UsageKey};
use crate::{Customer, Quantity, Timestamp, ValidationError};

/// A Meter refused usage, or could not run.
///
/// Every refusal leaves the usage unrecorded (nothing partial): the caller still holds it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeterError {
    /// The tags broke a rule of the service.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The hour's total for the key would exceed the service's largest quantity.
    #[error(
        "Quantity: the total of {key} in the hour starting {hour} would be {total} + {quantity}, above the service's largest quantity {}",
        Quantity::MAX
    )]
    Overflow {
        /// The key: customer, dimension and tags.
        key: String,
        /// The hour's start.
        hour: Timestamp,
        /// The hour's total so far in this process.
        total: Quantity,
        /// The refused quantity.
        quantity: Quantity,
    },
    /// The customer's account was recorded the other way in the same hour: under a product
    /// code ([`Customer::Account`](crate::Customer::Account)) and under a licence
    /// ([`Customer::Licensed`](crate::Customer::Licensed)); the service would bill both.
    #[error(
        "CustomerAWSAccountId: {customer} cannot be recorded in the hour starting {hour}: its account was recorded {recorded} in that hour, and the service bills an account recorded both ways twice"
    )]
    BilledTwoWays {
        /// The refused customer.
        customer: String,
        /// The hour's start.
        hour: Timestamp,
        /// How the account was recorded first: `"under a product code"` or
        /// `"under a licence"`.
        recorded: &'static str,
    },
    /// The event's timestamp is too far ahead of the clock.
    #[error(
        "Timestamp {timestamp} is {ahead:?} ahead of now ({now}); the meter accepts at most {bound:?} (`MeterConfig::with_future_bound`)"
    )]
    InFuture {
        /// The event's timestamp.
        timestamp: Timestamp,
        /// The clock's time.
        now: Timestamp,
        /// How far ahead it is.
        ahead: std::time::Duration,
        /// The bound.
        bound: std::time::Duration,
    },
    /// The ledger has been failing, and the usage held in memory reached its bound
    /// (`MeterConfig::with_backlog_limit`): the usage is refused rather than dropped.
    #[error(
        "the ledger is failing and {held} uncommitted deltas are held in memory, the bound ({limit}); this usage was not recorded"
    )]
    Backlog {
        /// Uncommitted deltas held.
        held: usize,
        /// The bound.
        limit: usize,
    },
    /// The meter was closed ([`Meter::close`](super::Meter::close) or
    /// [`Meter::shutdown`](super::Meter::shutdown)), or dropped: it records, commits and
    /// sends nothing more (usage refused so was not recorded).
    #[error(
        "the meter is closed (by `Meter::close` or `shutdown`, or dropped): it records, commits and sends nothing more"
    )]
    Closed,
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A configuration that cannot work.
    #[error("MeterConfig.{setting}: {rule} (value: {value})")]
    Config {
        /// The setting.
        setting: &'static str,
        /// The rule it breaks.
        rule: String,
        /// Its value.
        value: String,
    },
    /// Sending was asked of a meter built without a submitter.
    #[error(
        "this Meter sends nothing: build it with `.submitter(...)` to flush, or let another process send"
    )]
    NoSubmitter,
    /// A Meter runs its writer on Tokio: build it inside a runtime.
    #[error("a Meter must be built inside a Tokio runtime")]
    NoRuntime,
    /// Shutting down, usage could not be committed within the shutdown timeout: it is
    /// handed back here, for the caller to keep.
    #[error(
        "shutdown: {} deltas of usage could not be committed within {timeout:?} (last error: {last_error}); they are in this error", deltas.len()
    )]
    Unflushed {
        /// The usage not committed.
        deltas: Vec<Delta>,
        /// The shutdown timeout.
        timeout: std::time::Duration,
        /// The last commit error.
        last_error: String,
    },
}

/// An add refused: `entry`'s account was recorded the other way in `hour`.
pub(super) fn two_ways(entry: &Entry, hour: Hour, conflict: Conflict) -> MeterError {
    MeterError::BilledTwoWays {
        customer: entry.key.customer().to_string(),
        hour: hour.start(),
        recorded: match conflict.recorded {
            Way::Product => "under a product code",
            Way::License => "under a licence",
        },
    }
}

/// An add refused: `quantity` would take `key`'s `hour` past the maximum from `total`.
pub(super) fn overflow(key: &UsageKey, hour: Hour, total: u64, quantity: Quantity) -> MeterError {
    MeterError::Overflow {
        key: describe(key),
        hour: hour.start(),
        total: Quantity::from_micros(total).unwrap_or(Quantity::MAX),
        quantity,
    }
}

/// A key for a person: `customer / dimension [tags]`.
pub(super) fn describe(key: &UsageKey) -> String {
    let customer = match key.customer() {
        Customer::Legacy {
            product,
            identifier,
        } => format!("{product}/{identifier}"),
        Customer::Account { product, account } => format!("{product}/{account}"),
        Customer::Licensed { account, license } => format!("{license}/{account}"),
    };
    let tags = key.tags().map_or_else(String::new, |tags| {
        let tags: Vec<String> = tags
            .as_slice()
            .iter()
            .map(|tag| format!("{}={}", tag.key, tag.value))
            .collect();
        format!(" [{}]", tags.join(", "))
    });
    format!("{customer} {}{tags}", key.dimension())
}
