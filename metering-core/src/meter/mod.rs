//! The Meter: record usage as it happens, from any thread, and commit it to a durable
//! [`Ledger`] in group commits.
//!
//! # Recording
//! [`Meter::record`] (or [`Meter::usage`] for tags and event times) adds a quantity to the
//! open hour's total for its key (customer, dimension, tags). A key already open costs a
//! hash, a lock-free lookup and one compare-and-swap, with no allocation. For the hottest
//! callers a [`Handle`] resolves the key once: each [`Handle::add`] is then one
//! compare-and-swap.
//!
//! Without `.at(...)`, an event belongs to the hour the meter's clock is in, as last read:
//! the meter reads its clock at every tick (each commit interval, and at each hour's turn),
//! not at every event, since reading a clock costs more than recording.
//!
//! # Guarantees
//! - [`Meter::record`] is acknowledged in memory: if the process is killed, usage recorded
//!   within the last commit interval (and any the ledger was refusing) is lost. Nothing is
//!   ever counted twice.
//! - [`Meter::record_durable`] resolves only once a checkpoint holding its usage is
//!   committed: group commit makes many concurrent callers share one transaction.
//! - A failed commit is retried with the same checkpoint (the ledger applies each once),
//!   loudly; while it fails, usage waits in memory up to
//!   [`MeterConfig::with_backlog_limit`], past which recording is refused
//!   ([`MeterError::Backlog`]), never dropped.
//! - [`Meter::shutdown`] commits what is left within [`MeterConfig::shutdown_timeout`]; a
//!   Meter dropped without it reports any uncommitted usage on standard error and through
//!   `tracing`. After either, adds through a [`Handle`] still held are refused
//!   ([`MeterError::Closed`]).
//! - While an hour is in a key's window (the previous hour through two ahead), its total
//!   for the key never exceeds the service's largest quantity: the add that would is
//!   refused ([`MeterError::Overflow`]). Usage for an hour outside the window is bounded
//!   within each checkpoint only: the ledger sets aside, for a person, what would take an
//!   hour's total past the maximum when it commits, and checks totals across processes and
//!   across tag sets of one record when it seals.
//!
//! # Hours
//! An hour is sealed into records once it has closed plus the grace; a month's last hour
//! later, shortly before the month's cut-off ([`MeterConfig::seal_until`]). Usage for an
//! hour already sealed goes to the oldest open hour of its month, or, when its month has
//! none left, is set aside for a person. A pair given to [`Meter::register`] gets a record
//! every hour, of 0 when it had no usage.
//!
//! # One way of billing an account an hour
//! The service bills an account twice when one hour has its usage both under a product code
//! ([`Customer::Account`]) and under a licence ([`Customer::Licensed`]). The first way
//! recorded in an hour holds it: usage the other way in that hour is refused
//! ([`MeterError::BilledTwoWays`]), in the hour it belongs to (an event's own hour, late or
//! not). Across processes the ledger keeps the rule: it quarantines both records when it
//! seals the hour.
//!
//! # How an add meets a checkpoint
//! Each key holds its hours' running totals in atomic words (see `slot.rs`); a checkpoint
//! takes what grew since the previous one. A durable add reads the checkpoint number `e`
//! after its add: checkpoint `e + 1` starts after that read, so it sees the add, and the
//! caller waits for `e + 1` to be committed.

mod accounts;
mod config;
mod error;
mod recording;
mod sender;
mod slot;
mod table;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use self::accounts::{Conflict, Marks, Way};
pub use self::config::MeterConfig;
pub use self::error::MeterError;
pub use self::recording::{Handle, Recording};
use self::slot::AddError;
use self::table::{Entry, KeyRef, Table};
use crate::ledger::{Checkpoint, Delta, FlushReport, InstanceId, Ledger, LedgerStatus, UsageKey};
use crate::submit::{Submitter, Transport};
use crate::{Customer, Dimension, Quantity, Timestamp};

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// The hour number (hours since the Unix epoch) `at` falls in.
fn hour_number(at: Timestamp) -> i64 {
    let nanos = at.unix_nanos();
    // Within 1677..2262 the nanoseconds fit an i64, whose division by a constant compiles
    // to a multiplication (an i128's is a call). Within the years -9999..=9999 the hour
    // number fits an i64 with room to spare.
    i64::try_from(nanos).map_or_else(
        |_| i64::try_from(nanos.div_euclid(NANOS_PER_HOUR.into())).unwrap_or_default(),
        |nanos| nanos.div_euclid(NANOS_PER_HOUR),
    )
}

/// `at` in whole microseconds since the epoch: every timestamp fits an i64 so.
fn micros(at: Timestamp) -> i64 {
    i64::try_from(at.unix_nanos().div_euclid(1000)).unwrap_or_default()
}

/// The start of hour number `hour`.
fn hour_start(hour: i64) -> Timestamp {
    Timestamp::from_unix_nanos(i128::from(hour) * i128::from(NANOS_PER_HOUR))
        .unwrap_or_else(|_| unreachable!("hour numbers come from valid timestamps"))
}

/// [`Shared::refusing`]: the ledger fails and uncommitted usage is at its bound.
const BACKLOGGED: u8 = 1;
/// [`Shared::refusing`]: the final checkpoint is taken (a shutdown, or a dropped meter).
const CLOSED: u8 = 2;

/// What the writer takes besides the keys' rings, under one lock.
#[derive(Default)]
struct Aside {
    /// Usage that did not fit its key's ring (an hour outside the window): kept by hour.
    usage: FxHashMap<(Arc<UsageKey>, i64), u64>,
    /// The pairs registered for a record every hour ([`Meter::register`]), each with the
    /// first hour it has no zero for yet.
    registered: FxHashMap<Arc<UsageKey>, i64>,
    /// How each account was billed in its recent hours.
    marks: Marks,
}

impl Aside {
    /// A zero for each registered pair and each hour through `hour` it has none for yet:
    /// every hour a pair is registered in then seals into a record, of its usage or of 0.
    /// (Hours before the previous one are skipped: the meter took no checkpoint in them, its
    /// ledger refusing commits, and they may be sealed already.)
    fn zero_registered(&mut self, hour: i64) {
        let Self {
            usage, registered, ..
        } = self;
        for (key, next) in registered.iter_mut() {
            add_zeros(usage, key, *next, hour);
            *next = (*next).max(hour + 1);
        }
    }

    /// Ends `key`'s registration, with zeros through `hour`, the last hour it was in.
    fn unregister(&mut self, key: &UsageKey, hour: i64) {
        if let Some((key, next)) = self.registered.remove_entry(key) {
            add_zeros(&mut self.usage, &key, next, hour);
        }
    }

    /// Ends every registration of `customer`, as [`Aside::unregister`].
    fn unregister_customer(&mut self, customer: &Customer, hour: i64) {
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

/// Zeros for `key` from hour `next` (or the previous hour, if later) through `hour`.
fn add_zeros(
    usage: &mut FxHashMap<(Arc<UsageKey>, i64), u64>,
    key: &Arc<UsageKey>,
    next: i64,
    hour: i64,
) {
    for zero in next.max(hour - 1)..=hour {
        usage.entry((key.clone(), zero)).or_default();
    }
}

/// Where the writer is: what every durable caller waits on.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every checkpoint up to this number is committed.
    committed: u64,
    /// The writer stopped: nothing more will be committed.
    closed: bool,
    /// The last commit error, while commits fail.
    last_error: Option<String>,
}

/// What the recording side and the writer share.
struct Shared {
    table: Table,
    aside: Mutex<Aside>,
    config: MeterConfig,
    instance: InstanceId,
    /// The clock as last read (microseconds since the epoch), and its hour.
    now: AtomicI64,
    hour_now: AtomicI64,
    /// The window new keys open with: the checkpointer's current hour.
    center: AtomicI64,
    /// The number of the last checkpoint taken.
    epoch: AtomicU64,
    /// Why adds are refused at once, if they are: [`BACKLOGGED`] while the ledger fails
    /// and uncommitted usage is at its bound, [`CLOSED`] from the final checkpoint on.
    refusing: AtomicU8,
    progress: watch::Sender<Progress>,
    wake: Notify,
    /// Checkpoints taken and not yet committed, oldest first.
    pending: Mutex<VecDeque<Arc<Checkpoint>>>,
}

impl Shared {
    fn new(config: MeterConfig) -> Self {
        let now = config.clock().now();
        let hour = hour_number(now);
        Self {
            table: Table::new(),
            aside: Mutex::default(),
            instance: InstanceId::random(),
            now: AtomicI64::new(micros(now)),
            hour_now: AtomicI64::new(hour),
            center: AtomicI64::new(hour),
            epoch: AtomicU64::new(0),
            refusing: AtomicU8::new(0),
            progress: watch::Sender::new(Progress::default()),
            wake: Notify::new(),
            pending: Mutex::default(),
            config,
        }
    }

    /// The clock as last read.
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(i128::from(self.now.load(Ordering::Relaxed)) * 1000)
            .unwrap_or_else(|_| unreachable!("read from a valid timestamp"))
    }

    /// Reads the clock, and moves the meter's idea of now forward to it.
    fn read_clock(&self) -> Timestamp {
        let now = self.config.clock().now();
        self.now.fetch_max(micros(now), Ordering::Relaxed);
        self.hour_now.fetch_max(hour_number(now), Ordering::Relaxed);
        now
    }

    /// The hour `at` falls in, refusing it when it is too far ahead of the clock. Reads the
    /// clock only for a timestamp past the last reading plus the bound.
    fn hour_of(&self, at: Timestamp) -> Result<i64, MeterError> {
        let bound = self.config.future_bound();
        let last = i128::from(self.now.load(Ordering::Relaxed)) * 1000;
        if at.unix_nanos() > last + i128::try_from(bound.as_nanos()).unwrap_or(i128::MAX) {
            let now = self.read_clock();
            let ahead = at.duration_since(now);
            if ahead > bound {
                return Err(MeterError::InFuture {
                    timestamp: at,
                    now,
                    ahead,
                    bound,
                });
            }
        }
        Ok(hour_number(at))
    }

    fn aside(&self) -> MutexGuard<'_, Aside> {
        self.aside.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `quantity` to `entry`'s `hour`.
    #[inline]
    fn add(&self, entry: &Entry, hour: i64, quantity: Quantity) -> Result<(), MeterError> {
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
    fn add_slowly(&self, entry: &Entry, hour: i64, quantity: Quantity) -> Result<(), MeterError> {
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

    fn backlog_error(&self) -> MeterError {
        MeterError::Backlog {
            held: self.config.backlog_limit(),
            limit: self.config.backlog_limit(),
        }
    }

    /// Waits until the checkpoint after the current one is committed: whatever was added
    /// before this call is then durable.
    async fn durable(&self) -> Result<(), MeterError> {
        let number = self.epoch.load(Ordering::SeqCst) + 1;
        let mut progress = self.progress.subscribe();
        self.wake.notify_one();
        let progress = progress
            .wait_for(|progress| progress.committed >= number || progress.closed)
            .await
            .map_err(|_| MeterError::Closed)?;
        if progress.committed >= number {
            Ok(())
        } else {
            Err(MeterError::Closed)
        }
    }

    /// Takes every key's usage since the previous checkpoint, moving the windows to the
    /// current hour (or, closing, past every real hour, so that later adds are refused: an
    /// add racing with the close lands before it, or misses the ring and meets the closed
    /// `Aside`).
    fn take(&self, closing: bool) -> (u64, Vec<Delta>) {
        let center = if closing {
            self.refusing.fetch_or(CLOSED, Ordering::SeqCst);
            i64::MAX / 4
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
                let sealed = hour_number(self.config.seal_until(self.now()));
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

fn delta(key: &Arc<UsageKey>, hour: i64, micros: u64) -> Delta {
    Delta {
        key: key.clone(),
        hour: hour_start(hour),
        // Totals never exceed the maximum, so neither do their differences.
        quantity: Quantity::from_micros(micros).unwrap_or(Quantity::MAX),
    }
}

fn two_ways(entry: &Entry, hour: i64, conflict: Conflict) -> MeterError {
    MeterError::BilledTwoWays {
        customer: entry.key.customer().to_string(),
        hour: hour_start(hour),
        recorded: match conflict.recorded {
            Way::Product => "under a product code",
            Way::License => "under a licence",
        },
    }
}

fn overflow(key: &UsageKey, hour: i64, total: u64, quantity: Quantity) -> MeterError {
    MeterError::Overflow {
        key: describe(key),
        hour: hour_start(hour),
        total: Quantity::from_micros(total).unwrap_or(Quantity::MAX),
        quantity,
    }
}

/// A key for a person: `customer / dimension [tags]`.
fn describe(key: &UsageKey) -> String {
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

/// Records usage and commits it to a [`Ledger`]: see the [module docs](self).
///
/// Build one with [`Meter::builder`] inside a Tokio runtime; end it with
/// [`Meter::shutdown`].
pub struct Meter {
    shared: Arc<Shared>,
    ledger: Arc<dyn writer::LedgerDyn>,
    writer: Option<Writer>,
    sender: Option<sender::Sender>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("instance", &self.shared.instance)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// The running writer: how to stop it, and what it says when it stops.
struct Writer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<Result<(), MeterError>>,
}

/// Builds a [`Meter`]: give it a ledger, and optionally a configuration and a submitter.
#[must_use]
pub struct MeterBuilder<L = ()> {
    config: MeterConfig,
    ledger: L,
    sender: Option<sender::MakeFlusher>,
}

impl<L: std::fmt::Debug> std::fmt::Debug for MeterBuilder<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterBuilder")
            .field("config", &self.config)
            .field("ledger", &self.ledger)
            .field("sends", &self.sender.is_some())
            .finish()
    }
}

impl Meter {
    /// A builder with the default configuration and no ledger yet.
    pub fn builder() -> MeterBuilder {
        MeterBuilder {
            config: MeterConfig::default(),
            ledger: (),
            sender: None,
        }
    }

    /// A builder on the `SQLite` ledger file at `path` (created if missing): the embedded
    /// default. Give it a submitter to send what it seals.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    #[cfg(feature = "sqlite")]
    pub fn open(
        path: impl AsRef<std::path::Path>,
    ) -> Result<MeterBuilder<Arc<crate::ledger::SqliteLedger>>, MeterError> {
        Ok(Self::builder().ledger(crate::ledger::SqliteLedger::open(path)?))
    }
}

impl<L> MeterBuilder<L> {
    /// The configuration.
    pub fn config(mut self, config: MeterConfig) -> Self {
        self.config = config;
        self
    }

    /// The ledger the meter commits to (a submitter given before is dropped: give it after).
    pub fn ledger<N: Ledger>(self, ledger: N) -> MeterBuilder<Arc<N>> {
        MeterBuilder {
            config: self.config,
            ledger: Arc::new(ledger),
            sender: None,
        }
    }
}

impl<L: Ledger> MeterBuilder<Arc<L>> {
    /// Sends what the ledger seals through `submitter`: the meter then seals closed hours
    /// and claims, sends and settles their records every flush interval, in the background.
    /// Without one, the meter only records and commits (another process may send).
    pub fn submitter<T: Transport>(mut self, submitter: Submitter<T>) -> Self {
        self.sender = Some(sender::make(self.ledger.clone(), submitter));
        self
    }
}

impl<L: Ledger> MeterBuilder<Arc<L>> {
    /// The meter, its writer started.
    ///
    /// # Errors
    /// [`MeterError::Config`] for a configuration that cannot work;
    /// [`MeterError::NoRuntime`] outside a Tokio runtime.
    pub fn build(self) -> Result<Meter, MeterError> {
        self.config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MeterError::NoRuntime)?;
        let shared = Arc::new(Shared::new(self.config));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = runtime.spawn(writer::run(shared.clone(), self.ledger.clone(), stopped));
        let sender = self.sender.map(|make| {
            let mut sender = make(shared.config.clone());
            sender.start(&runtime);
            sender
        });
        Ok(Meter {
            shared,
            ledger: self.ledger,
            writer: Some(Writer { stop, task }),
            sender,
        })
    }
}

impl Meter {
    /// Adds `quantity` of `dimension` for `customer`, untagged, in the current hour.
    ///
    /// # Errors
    /// [`MeterError::Overflow`], [`MeterError::Backlog`] or [`MeterError::Closed`]: the
    /// usage was not recorded.
    pub fn record<D: Dimension>(
        &self,
        customer: &Customer,
        dimension: D,
        quantity: Quantity,
    ) -> Result<(), MeterError> {
        self.usage(customer, dimension).add(quantity)
    }

    /// Like [`Meter::record`], and resolves once the usage is committed to the ledger.
    ///
    /// # Errors
    /// As [`Meter::record`].
    pub async fn record_durable<D: Dimension>(
        &self,
        customer: &Customer,
        dimension: D,
        quantity: Quantity,
    ) -> Result<(), MeterError> {
        self.usage(customer, dimension).add_durable(quantity).await
    }

    /// Usage of `dimension` by `customer`, to tag, time and add.
    pub fn usage<'m, D: Dimension>(
        &'m self,
        customer: &'m Customer,
        dimension: D,
    ) -> Recording<'m> {
        Recording {
            shared: &self.shared,
            customer,
            dimension: dimension.key(),
            tags: Ok(None),
            at: None,
        }
    }

    /// Commits everything recorded before this call.
    ///
    /// # Errors
    /// [`MeterError::Closed`] after shutdown.
    pub async fn commit(&self) -> Result<(), MeterError> {
        self.shared.durable().await
    }

    /// Commits what was recorded, seals the hours closed for longer than the grace, and
    /// sends every sendable record now, without waiting for the flush interval.
    ///
    /// # Errors
    /// [`MeterError::NoSubmitter`] when the meter was built without one; the ledger's error.
    pub async fn flush(&self) -> Result<FlushReport, MeterError> {
        let sender = self.sender.as_ref().ok_or(MeterError::NoSubmitter)?;
        self.commit().await?;
        Ok(sender.flush().await?)
    }

    /// For a customer who unsubscribed (the service takes their usage for one more hour):
    /// commits what was recorded, seals every hour of theirs up to now, including the open
    /// one, and sends it now. Their usage recorded later for a sealed hour goes to the
    /// oldest open hour of the month, as any late usage. Their registrations
    /// ([`Meter::register`]) end: the current hour is their last zero.
    ///
    /// # Errors
    /// As [`Meter::flush`].
    pub async fn seal_and_flush_customer(
        &self,
        customer: &Customer,
    ) -> Result<FlushReport, MeterError> {
        let sender = self.sender.as_ref().ok_or(MeterError::NoSubmitter)?;
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared.aside().unregister_customer(customer, hour);
        self.commit().await?;
        Ok(sender.flush_customer(customer).await?)
    }

    /// Registers `customer`'s use of `dimension` for a record every hour: from the current
    /// hour on, each hour it is registered in is sealed into a record of its usage, or of
    /// quantity 0 when it had none, as AWS asks sellers to report every customer and
    /// dimension hourly. Registering a pair again changes nothing.
    ///
    /// Registrations live in this meter's memory, not in the ledger: register the seller's
    /// subscribed customers again when a process starts (the seller keeps that list anyway,
    /// to know whom to serve). Several processes may register one pair: zeros add up to 0.
    pub fn register<D: Dimension>(&self, customer: &Customer, dimension: D) {
        let key = Arc::new(KeyRef::untagged(customer, dimension.key()).to_key());
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared.aside().registered.entry(key).or_insert(hour);
    }

    /// Ends a registration: the current hour still gets its record, later hours only when
    /// there is usage. Unregistering a pair not registered changes nothing.
    pub fn unregister<D: Dimension>(&self, customer: &Customer, dimension: D) {
        let key = KeyRef::untagged(customer, dimension.key()).to_key();
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared.aside().unregister(&key, hour);
    }

    /// This process's instance in the ledger.
    #[must_use]
    pub fn instance(&self) -> InstanceId {
        self.shared.instance
    }

    /// What the meter holds and where its ledger is.
    ///
    /// # Errors
    /// When the ledger cannot say.
    pub async fn status(&self) -> Result<MeterStatus, MeterError> {
        let ledger = self.ledger.status().await?;
        let progress = self.shared.progress.borrow().clone();
        Ok(MeterStatus {
            open_keys: self.shared.table.len(),
            checkpoints_taken: self.shared.epoch.load(Ordering::Relaxed),
            checkpoints_committed: progress.committed,
            last_commit_error: progress.last_error,
            ledger,
        })
    }

    /// Commits what is left, within [`MeterConfig::shutdown_timeout`], and stops the writer.
    /// Recording afterwards (through a [`Handle`] still held) is refused.
    ///
    /// # Errors
    /// [`MeterError::Unflushed`] with the usage that could not be committed.
    pub async fn shutdown(mut self) -> Result<(), MeterError> {
        if let Some(sender) = self.sender.as_mut() {
            sender.stop(self.shared.config.shutdown_timeout()).await;
        }
        let Some(Writer { stop, task }) = self.writer.take() else {
            return Ok(());
        };
        let _ = stop.send(());
        task.await.unwrap_or_else(|error| {
            // The writer panicked: what it held is reported as for a dropped meter.
            tracing::error!(target: "metering::meter", %error, "the meter's writer panicked");
            Err(MeterError::Closed)
        })
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let Some(Writer { task, .. }) = self.writer.take() else {
            return;
        };
        task.abort();
        // Closed as a shutdown closes it, without the commit: a handle that outlives the
        // meter is refused rather than accepting usage no writer will commit.
        let lost = writer::close(&self.shared);
        if lost.is_empty() {
            return;
        }
        let lines: Vec<String> = lost
            .iter()
            .map(|delta| {
                format!(
                    "  {} {} {}",
                    delta.hour,
                    describe(&delta.key),
                    delta.quantity
                )
            })
            .collect();
        let lines = lines.join("\n");
        // Both: standard error may be all a crashing process leaves, `tracing` what is kept.
        tracing::error!(
            target: "metering::meter",
            deltas = lost.len(),
            lost = %lines,
            "a Meter was dropped without `shutdown`: its uncommitted usage is lost"
        );
        eprintln!(
            "metering: a Meter was dropped without `shutdown().await`; this uncommitted usage is lost:\n{lines}"
        );
    }
}

/// What a meter holds, and its ledger's [`LedgerStatus`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MeterStatus {
    /// Keys open in memory.
    pub open_keys: usize,
    /// Checkpoints taken by this process.
    pub checkpoints_taken: u64,
    /// Checkpoints committed (every one up to this number).
    pub checkpoints_committed: u64,
    /// The last commit error, while commits fail.
    pub last_commit_error: Option<String>,
    /// The ledger's counts per state and oldest unsent hour.
    pub ledger: LedgerStatus,
}
