//! The Meter's durable ledger: usage committed as idempotent checkpoints, sealed into
//! immutable records once an hour has closed, then claimed, sent and settled.
//!
//! # The protocol
//! 1. **Commit.** A process adds its in-memory aggregates as a [`Checkpoint`]: deltas keyed
//!    by [`UsageKey`] and hour. Checkpoints of one [`InstanceId`] are committed in the order
//!    of their numbers, and a checkpoint whose number is not above the last one committed for
//!    its instance is ignored: a commit retried after an ambiguous failure applies once.
//! 2. **Late usage.** A delta for an hour already sealed (for every customer, or for its
//!    customer by [`Ledger::seal_customer`]) is added to the oldest open hour of the same
//!    billing month, and counted as late. When no hour of that month is open any more, it
//!    is set aside ([`LedgerInspection::set_aside`]) for a person to handle: never dropped, never a
//!    second quantity for a sealed key. (A [`Flusher`] keeps a month's last hour open until
//!    shortly before the month's cut-off: see
//!    [`MeterConfig::seal_until`](crate::MeterConfig::seal_until).)
//! 3. **Seal.** [`Ledger::seal`] turns every open hour that ended at or before a given
//!    instant into records, once, even when several processes seal at the same moment: one
//!    record per customer, dimension and hour, its timestamp the hour's start, its tag sets
//!    as `UsageAllocations`. A sealed record never changes, so every resend is identical
//!    and the service's de-duplication makes at-least-once delivery safe.
//! 4. **Claim.** [`Ledger::claim`] leases up to [`CLAIM_SIZE`] sendable records of one request scope,
//!    oldest hour first, and raises each one's attempt number. A lease that expired (its
//!    holder crashed or stalled) is claimable again.
//! 5. **Settle.** [`Ledger::settle`] writes outcomes only for records still held under the
//!    claim's attempt (fencing): a flusher that lost its lease cannot overwrite a newer
//!    attempt's outcome.
//!
//! # Kinds of usage
//! A [`Delta`] carries [`Usage`] of its key's kind ([`Kind`](crate::kind::Kind)), stored
//! with the key when its first usage is committed. Every kind seals into an ordinary record
//! (one per customer, dimension and hour, an allocation per tag set), claimed, sent and
//! settled as a sum's is; the product-and-licence guard holds for every kind; commits stay
//! idempotent per (instance, checkpoint number). The rules ([`protocol::commit_usage`],
//! [`protocol::level_hours`]):
//! - **Sum**: added up; late usage moves to the oldest open hour of its month (step 2).
//! - **Max**: the hour's quantity is the highest maximum any checkpoint, instance or process
//!   observed in it.
//! - **Distinct**: the union of the identifiers seen in the hour, by every checkpoint,
//!   instance and process (stored one row per key, hour and identifier); sealing counts
//!   them and deletes them.
//! - **Level**: level changes are stored per key; sealing integrates each hour from them,
//!   the level before the hour carried from the last change before it, in unit-hours, exact
//!   in millionths and rounded half-up once per key and hour (changes are kept to the
//!   microsecond). The integral is a function of the changes, not of who is running: a
//!   level set and never changed bills every hour, with or without a process, until it is
//!   set to 0. A key has one level: instances setting it do not add up, the change latest
//!   in time holds; two changes at one instant (two instances) keep the larger.
//! - **Late**: a maximum or identifiers of a sealed hour are set aside ("late"): moved to
//!   another hour they would mean something else there. A level change of a sealed hour
//!   keeps its instant, so it holds from the start of the oldest open hour only if no
//!   later change came before it (the sealed hours' integrals stand), and is set aside
//!   too, showing its level, so that a person sees what was not billed.
//! - **A kind other than the key's** (a dimension's kind was changed) is set aside with a
//!   reason naming both kinds.
//! - **Tags**: each tag set is a key of its own, merged by its kind; the record's
//!   allocations are the tag sets' quantities and its quantity their sum (the service's
//!   rule): a tagged maximum bills the sum of the tag sets' maxima, and an identifier seen
//!   under two tag sets counts in each.
//!
//! An entry set aside shows a quantity by kind: the sum, the maximum, the number of
//! identifiers, or the level. Requeued ([`LedgerInspection::requeue_set_aside`]), it is
//! added to the open hour's quantity, whatever the kind: a person decided to bill it.
//!
//! No step relies on there being one process: every step is one transaction, and the
//! conformance suite runs each with two handles on one store.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::customer::{Customer, RequestScope};
use crate::hour::Hour;
use crate::kind::Kind;
use crate::quantity::Quantity;
use crate::record::{Tags, UsageRecord};
use crate::strings::DimensionKey;
use crate::timestamp::Timestamp;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod display;
mod flush;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
pub use flush::{FlushReport, Flusher};
mod watch;
pub use watch::{DeadlineLevel, FlusherHealth, HourDeadline, TimeLeft, Watched};
pub mod protocol;
pub use protocol::CLAIM_SIZE;
mod status;
pub use status::{HourStatus, LedgerStatus};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use status::{add_count, hour_statuses, zero_counts};
mod usage;
pub use usage::{LevelChange, Usage};
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLedger;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresLedger, PostgresLedgerBuilder};

/// What usage is aggregated by, within an hour: the customer, the dimension and the tag set.
///
/// Keys with the same customer and dimension become one record per hour, each tag set one
/// of its allocations; `tags: None` is the bucket of untagged usage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    customer: Customer,
    dimension: DimensionKey,
    tags: Option<Tags>,
}

impl UsageKey {
    /// A key; the tags are sorted by key, so tag sets given in another order are one key.
    #[must_use]
    pub fn new(customer: Customer, dimension: DimensionKey, tags: Option<Tags>) -> Self {
        Self {
            customer,
            dimension,
            tags: tags.map(|tags| tags.normalized()),
        }
    }

    /// Who is billed.
    #[must_use]
    pub fn customer(&self) -> &Customer {
        &self.customer
    }

    /// What is billed.
    #[must_use]
    pub fn dimension(&self) -> &DimensionKey {
        &self.dimension
    }

    /// The tag set, sorted by key; `None` for untagged usage.
    #[must_use]
    pub fn tags(&self) -> Option<&Tags> {
        self.tags.as_ref()
    }
}

/// Usage of one key in one hour, added by a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// What the usage is of.
    pub key: Arc<UsageKey>,
    /// The hour the usage happened in.
    pub hour: Hour,
    /// The usage, by the key's kind.
    pub usage: Usage,
}

/// One process's lifetime: a random identifier drawn at start, which makes checkpoint
/// numbers unique across processes and restarts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(u128);

impl InstanceId {
    /// A new random identifier.
    #[must_use]
    pub fn random() -> Self {
        Self(fastrand::u128(..))
    }

    /// The identifier with this value: tests name fixed ones.
    #[cfg(test)]
    const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The identifier's value.
    #[cfg(test)]
    const fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for InstanceId {
    /// 32 lowercase hexadecimal digits, as the ledger stores it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({self})")
    }
}

/// The usage one instance accumulated since its previous checkpoint.
///
/// Numbers of one instance must increase, and a checkpoint that failed must be retried with
/// the same number and the same deltas before a later one is committed: the ledger applies a
/// number once and ignores any number not above the last it applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The process that made it.
    pub instance: InstanceId,
    /// Its place in the instance's sequence.
    pub number: u64,
    /// The usage it adds.
    pub deltas: Vec<Delta>,
}

/// What a commit did (a store of your own builds one with `default()` and sets its fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitReport {
    /// False when the checkpoint had been applied before (a retry): nothing changed.
    pub applied: bool,
    /// Deltas for sealed hours, moved to the oldest open hour of their month.
    pub late: usize,
    /// Deltas set aside (their month has no open hour left, or the hour's total would
    /// exceed the service's largest quantity).
    pub set_aside: usize,
}

/// What a seal did (a store of your own builds one with `default()` and sets its fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealReport {
    /// Records sealed, ready to send.
    pub sealed: usize,
    /// Records sealed but quarantined at once (see [`RecordState::Quarantined`]).
    pub quarantined: usize,
    /// Usage set aside because no valid record could hold it.
    pub set_aside: usize,
}

/// A sealed record's identity in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub i64);

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a sealed record is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordState {
    /// Waiting to be sent (again, after a retryable failure, once its backoff has passed).
    Unsent,
    /// Claimed by a flusher until its lease expires.
    Leased,
    /// Billed by the service. Terminal.
    Success,
    /// The customer was not subscribed: not billed. Terminal.
    NotSubscribed,
    /// The service already had another quantity for the key: not billed. Terminal.
    Duplicate,
    /// Kept back with a reason, for a person: [`LedgerInspection::requeue`] sends it again.
    Quarantined,
}

impl RecordState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Unsent,
        Self::Leased,
        Self::Success,
        Self::NotSubscribed,
        Self::Duplicate,
        Self::Quarantined,
    ];

    /// The name the ledger stores: `unsent`, `leased`, `success`, `not_subscribed`,
    /// `duplicate`, `quarantined`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unsent => "unsent",
            Self::Leased => "leased",
            Self::Success => "success",
            Self::NotSubscribed => "not_subscribed",
            Self::Duplicate => "duplicate",
            Self::Quarantined => "quarantined",
        }
    }

    /// The state stored as `name`.
    ///
    /// ```
    /// use metering_core::ledger::RecordState;
    ///
    /// assert_eq!(RecordState::from_name("not_subscribed"), Some(RecordState::NotSubscribed));
    /// assert_eq!(RecordState::from_name("NotSubscribed"), None); // as the ledger stores it only
    /// for state in RecordState::ALL {
    ///     assert_eq!(RecordState::from_name(state.as_str()), Some(state));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Whether the record is done with: its outcome never changes again (quarantined
    /// records wait for a person, so they are not).
    ///
    /// ```
    /// use metering_core::ledger::RecordState;
    ///
    /// let done: Vec<_> = RecordState::ALL.into_iter().filter(|state| state.is_terminal()).collect();
    /// assert_eq!(done, [RecordState::Success, RecordState::NotSubscribed, RecordState::Duplicate]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::NotSubscribed | Self::Duplicate)
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sealed record as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRecord {
    /// Its identity.
    pub id: RecordId,
    /// The record, exactly as it is sent.
    pub record: UsageRecord,
    /// Where it is in its life.
    pub state: RecordState,
    /// How many times it was claimed.
    pub attempt: u32,
    /// How much of its quantity arrived after its own hour had been sealed.
    pub late: Quantity,
    /// The service's ID, once billed.
    pub metering_record_id: Option<String>,
    /// Why it is quarantined, or the last error of a retryable failure.
    pub detail: Option<String>,
    /// The kind of the usage it was sealed from (its keys' kind): what its quantity is, a
    /// sum, a maximum, a count of distinct identifiers or a level's integral.
    pub kind: Kind,
}

impl StoredRecord {
    /// A record in `state`, never claimed, with nothing late, no service ID, no detail,
    /// of a sum: set the other fields as the store holds them.
    #[must_use]
    pub fn new(id: RecordId, record: UsageRecord, state: RecordState) -> Self {
        Self {
            id,
            record,
            state,
            attempt: 0,
            late: Quantity::ZERO,
            metering_record_id: None,
            detail: None,
            kind: Kind::Sum,
        }
    }
}

/// Records leased to one flusher: send them, then [`Ledger::settle`] with the same claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Who holds the lease.
    pub owner: String,
    /// When the lease expires; after it, another flusher may claim the records.
    pub expires: Timestamp,
    /// The request scope every record shares.
    pub scope: RequestScope,
    /// 1..=[`CLAIM_SIZE`] records, oldest hour first.
    pub records: Vec<ClaimedRecord>,
}

/// One record of a [`Claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRecord {
    /// Its identity.
    pub id: RecordId,
    /// The attempt this claim is: settling checks it (fencing).
    pub attempt: u32,
    /// The record, as sealed.
    pub record: UsageRecord,
}

/// What to write back for one record of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// Billed, with the service's metering record ID.
    Success {
        /// The service's ID for the record.
        metering_record_id: String,
    },
    /// The customer is not subscribed.
    NotSubscribed,
    /// Another quantity was already billed for the key.
    Duplicate,
    /// Kept back for a person, with the reason.
    Quarantined {
        /// Why, for a person to read.
        reason: String,
    },
    /// Not settled: send again, identically, at `retry_at` or later.
    Retry {
        /// The last error seen.
        error: String,
        /// When to try again (the backoff).
        retry_at: Timestamp,
    },
}

/// What a settle did (a store of your own builds one with `default()` and sets its fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettleReport {
    /// Outcomes written.
    pub settled: usize,
    /// Outcomes refused: the claim no longer held the record (another attempt took it over,
    /// or it was settled already).
    pub fenced: usize,
}

/// An entry of usage set aside, by its identity in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetAsideId(pub i64);

impl fmt::Display for SetAsideId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Usage the ledger could not place in any record, kept for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAside {
    /// Its identity, for [`LedgerInspection::requeue_set_aside`].
    pub id: SetAsideId,
    /// What the usage is of.
    pub key: UsageKey,
    /// The hour it happened in.
    pub hour: Hour,
    /// How much.
    pub quantity: Quantity,
    /// Why it was set aside.
    pub reason: String,
    /// When.
    pub at: Timestamp,
    /// The key's kind: what the quantity is (the sum, the maximum, the number of
    /// identifiers, or the level).
    pub kind: Kind,
}

impl SetAside {
    /// An entry of `quantity` of `key` (a sum's: set [`SetAside::kind`] for another kind)
    /// in `hour`, set aside at `at` for `reason`.
    #[must_use]
    pub fn new(
        id: SetAsideId,
        key: UsageKey,
        hour: Hour,
        quantity: Quantity,
        reason: String,
        at: Timestamp,
    ) -> Self {
        Self {
            id,
            key,
            hour,
            quantity,
            reason,
            at,
            kind: Kind::Sum,
        }
    }
}

/// A level a key holds now: its last change, when not 0. Every hour from `since` on bills
/// it until it changes, with or without a process running.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelHeld {
    /// The level key.
    pub key: UsageKey,
    /// The level.
    pub level: Quantity,
    /// When it was set.
    pub since: Timestamp,
}

impl LevelHeld {
    /// `key` holds `level` since `since` (a store of one's own builds these).
    ///
    /// ```
    /// use metering_core::ledger::{LevelHeld, UsageKey};
    /// use metering_core::{Customer, DimensionKey, Quantity, Timestamp};
    ///
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let key = UsageKey::new(customer, DimensionKey::new("gb_stored")?, None);
    /// let since = Timestamp::parse_rfc3339("2026-05-12T10:30:00Z")?;
    /// let held = LevelHeld::new(key, Quantity::new(10)?, since);
    /// assert_eq!((held.level, held.since), (Quantity::new(10)?, since));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(key: UsageKey, level: Quantity, since: Timestamp) -> Self {
        Self { key, level, since }
    }
}

/// What [`LedgerInspection::requeue_set_aside`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetAsideRequeue {
    /// The usage was added, as late usage, to `hour`: the hour the requeue happened in, or
    /// the first one open for its customer. The entry is gone; the usage is sealed and sent
    /// with that hour.
    Requeued {
        /// The hour it now counts in.
        hour: Hour,
    },
    /// No entry has that identity (it was requeued already, or never existed).
    NotFound,
    /// The hour's total would exceed the service's largest quantity: the entry stays.
    TooLarge,
}

/// A ledger operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The storage failed (I/O, lock timeout, a lost connection): the operation had no
    /// effect and can be retried.
    #[error("ledger storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored row could not be read back into a valid value.
    #[error("ledger {table} row {row} is unreadable: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's identity.
        row: i64,
        /// What is wrong with it.
        detail: String,
    },
    /// The ledger's configuration is not valid (a connection URL, a schema name): what is
    /// wrong, and the rule.
    #[error("ledger configuration: {0}")]
    Config(String),
    /// The store is damaged (a page of a `SQLite` file that does not read back, a file that
    /// is not a database): found at open, which checks the file, or by an operation. No
    /// retry mends it; restore the store from a backup, or set it aside and start a new one.
    #[error("ledger {store} is damaged: {detail} (no retry mends this: restore it from a backup)")]
    Damaged {
        /// The store: a file's path.
        store: String,
        /// What the storage said.
        detail: String,
    },
    /// The storage was written by a newer version of this library.
    #[error("ledger schema version {found} is newer than this build knows ({known})")]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}

/// A future a [`Ledger`] returns: boxed, so that a ledger can be used as `dyn Ledger`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Durable storage for the Meter: what a store must do for metering (see the
/// [module docs](self) for the protocol). The Meter and the [`Flusher`] use nothing else;
/// the CLI's inspection and repair are [`LedgerInspection`].
///
/// Implementations must pass the [conformance suite](crate::ledger::conformance) (feature
/// `conformance`), and every method must be safe to call from several handles, in several
/// processes, on one store at once. Methods return boxed futures, so that the trait can be
/// used as `Arc<dyn Ledger>`: write each body as `Box::pin(async move { ... })`.
pub trait Ledger: Send + Sync + 'static {
    /// Applies a checkpoint once per (instance, number): see [`Checkpoint`]. Deltas for a
    /// sealed hour go to the oldest open hour of the same billing month (counted as late),
    /// or are set aside when that month has no open hour left. `now` is recorded as the
    /// time of the commit and of anything set aside.
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>>;

    /// Seals every hour that ended at or before `until` (pass `now - grace`): each
    /// customer's usage of each dimension becomes one immutable record. Sealing is
    /// monotonic and happens once, whoever calls it.
    ///
    /// A customer recorded under a product code and under a licence in one hour would be
    /// billed twice: those records are quarantined with that reason.
    fn seal(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SealReport, LedgerError>>;

    /// Seals `customer`'s usage of every hour up to and including the one `now` falls in
    /// (a customer who unsubscribes leaves one hour to report usage). Later usage of theirs
    /// for those hours is late usage.
    fn seal_customer<'a>(
        &'a self,
        customer: &'a Customer,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>>;

    /// Leases up to [`CLAIM_SIZE`] sendable records of one request scope to `owner` for
    /// `lease`, oldest hour first; `None` when nothing is sendable at `now`.
    fn claim<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>>;

    /// Writes the outcomes of a claim's records, each only if the record is still leased
    /// under this claim's attempt (fencing).
    fn settle<'a>(
        &'a self,
        claim: &'a Claim,
        outcomes: &'a [(RecordId, Settlement)],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>>;

    /// Counts per state and the oldest unsent hour.
    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>>;

    /// Records not settled (unsent, leased or quarantined) per hour and state, for every
    /// hour that has one, oldest first: what a [`Flusher`] watches the service's deadlines
    /// by at the end of each flush. It reads only those records (an index on state and
    /// hour), not the settled history [`Ledger::status`] counts.
    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>>;
}

impl fmt::Debug for dyn Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn Ledger")
    }
}

/// A ledger the Meter, a [`Flusher`] and their caller share: any [`Ledger`] (its clones are
/// handles on one store), or one shared already as `Arc<L>` or `Arc<dyn Ledger>`.
pub trait IntoSharedLedger {
    /// The ledger, shared.
    fn into_shared(self) -> Arc<dyn Ledger>;
}

impl<L: Ledger> IntoSharedLedger for L {
    fn into_shared(self) -> Arc<dyn Ledger> {
        Arc::new(self)
    }
}

impl<L: Ledger> IntoSharedLedger for Arc<L> {
    fn into_shared(self) -> Arc<dyn Ledger> {
        self
    }
}

impl IntoSharedLedger for Arc<dyn Ledger> {
    fn into_shared(self) -> Arc<dyn Ledger> {
        self
    }
}

/// The inspection and repair queries of a [`Ledger`] (what the `metering ledger` commands
/// and the conformance suite's checks use): optional for a store the Meter only writes to.
pub trait LedgerInspection: Ledger {
    /// The sealed records in `state` (all of them with `None`), oldest hour first.
    fn records(
        &self,
        state: Option<RecordState>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, LedgerError>>;

    /// Everything set aside, oldest first.
    fn set_aside(&self) -> BoxFuture<'_, Result<Vec<SetAside>, LedgerError>>;

    /// Sends a quarantined record again from `now` on; false when `id` is not quarantined.
    fn requeue(&self, id: RecordId, now: Timestamp) -> BoxFuture<'_, Result<bool, LedgerError>>;

    /// The sealed record `id`, if there is one.
    fn record(&self, id: RecordId) -> BoxFuture<'_, Result<Option<StoredRecord>, LedgerError>>;

    /// Records per state for every hour from `since` on, and for every earlier hour that
    /// still has a record not settled (unsent, leased or quarantined), oldest first. Hours
    /// without records are left out.
    fn hours(&self, since: Hour) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>>;

    /// The levels held now (each level key's last change, when not 0), by key: what every
    /// hour bills until they change.
    fn levels(&self) -> BoxFuture<'_, Result<Vec<LevelHeld>, LedgerError>>;

    /// Puts usage set aside back, once a person has decided it is to be billed: its quantity
    /// is added, as late usage, to the hour `now` falls in (or to its customer's first open
    /// hour, when they were sealed ahead), and the entry is removed, in one step.
    fn requeue_set_aside(
        &self,
        id: SetAsideId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SetAsideRequeue, LedgerError>>;
}

#[cfg(test)]
mod tests {
    use super::{InstanceId, LedgerStatus, RecordId, RecordState, SetAsideId};

    #[test]
    fn an_instance_id_reads_back_as_the_value_it_was_stored_as() {
        let value = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        let instance = InstanceId::from_u128(value);
        assert_eq!(instance.as_u128(), value);
        assert_eq!(instance.to_string(), "0123456789abcdeffedcba9876543210");
        assert_eq!(
            InstanceId::from_u128(1).to_string(),
            "00000000000000000000000000000001"
        );
        assert_eq!(
            format!("{instance:?}"),
            "InstanceId(0123456789abcdeffedcba9876543210)"
        );
    }

    #[test]
    fn only_billed_unsubscribed_and_duplicate_records_are_done_with() {
        let terminal: Vec<RecordState> = RecordState::ALL
            .into_iter()
            .filter(|state| state.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                RecordState::Success,
                RecordState::NotSubscribed,
                RecordState::Duplicate
            ]
        );
    }

    #[test]
    fn a_status_counts_records_per_state_with_every_state_present() {
        let mut status = LedgerStatus::new();
        status.add(RecordState::Success, 40);
        status.add(RecordState::Success, 2);
        status.add(RecordState::Unsent, 5);
        let counts = [
            RecordState::Success,
            RecordState::Unsent,
            RecordState::Quarantined,
        ]
        .map(|state| status.count(state));
        assert_eq!(counts, [42, 5, 0]);
        assert_eq!(status.records.len(), RecordState::ALL.len());
    }

    #[test]
    fn records_states_and_set_asides_display_as_a_person_reads_them_in_the_ledger() {
        assert_eq!(RecordId(42).to_string(), "#42");
        assert_eq!(SetAsideId(7).to_string(), "#7");
        assert_eq!(RecordState::NotSubscribed.to_string(), "not_subscribed");
        for state in RecordState::ALL {
            assert_eq!(RecordState::from_name(&state.to_string()), Some(state));
        }
    }
}
