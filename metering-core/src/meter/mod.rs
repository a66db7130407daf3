//! The Meter: record usage as it happens, from any thread, and commit it to a durable
//! [`Ledger`](crate::ledger::Ledger) in group commits.
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
//! not at every event, since reading a clock costs more than recording. (A level's change
//! reads the clock: its instant is what it bills.)
//!
//! # Kinds of usage
//! A dimension's [kind](crate::kind) decides how it is recorded, and anything else does not
//! compile (the message names the call to use):
//! - a sum: `.add(quantity)`, as above;
//! - a maximum: `.observe(level)`, one compare-and-swap as an add (a level at or below the
//!   hour's maximum so far, one load); a checkpoint sends the hour's maximum when it grew,
//!   and the ledger keeps the highest of every checkpoint, process and instance;
//! - a distinct count: `.mark(id)`, into the hour's exact set of identifiers under the
//!   key's own lock (about 27 bytes per distinct identifier: see `distinct.rs`); a
//!   checkpoint sends those first seen since the previous one, and the ledger unions them;
//! - a level: `.set(level)`, a change at an instant, sent once by the next checkpoint. The
//!   ledger keeps the changes and integrates the level hour by hour when it seals, carrying
//!   it across hours: a level set once bills every hour until it is set again (to zero when
//!   it ends), however long no process sets it, and whether or not any process runs. A
//!   restart changes nothing: the new process sets the level when it next changes, and
//!   until then the last committed level holds. A change not yet committed when a process
//!   dies is lost as an add is (`set_durable` waits for its commit); none is sent twice.
//!
//! Late observations follow the ledger's rules: a maximum or an identifier of an hour
//! already sealed is set aside (in another hour it would mean something else), and a level
//! change of a sealed hour holds from the oldest open hour on.
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
//! - [`Meter::close`] commits what is left within [`MeterConfig::shutdown_timeout`],
//!   through a shared reference (a meter held in an `Arc` by a layer and its handlers); a
//!   Meter dropped without it reports any uncommitted usage on standard error and through
//!   `tracing`. After either, adds (through the meter or a [`Handle`] still held) are
//!   refused ([`MeterError::Closed`]).
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
mod add;
mod aside;
mod builder;
mod checkpoint;
mod closing;
mod config;
mod distinct;
mod error;
mod health;
mod hour;
mod level;
mod recording;
mod sender;
mod shared;
mod slot;
mod table;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use self::builder::MeterBuilder;
use self::closing::Writer;
pub use self::config::MeterConfig;
pub use self::error::MeterError;
pub use self::health::Health;
pub use self::recording::{Handle, Recording};
use self::shared::Shared;
use self::table::KeyRef;
use crate::kind::{Adds, DimensionKind};
use crate::ledger::{FlushReport, InstanceId, LedgerStatus};
use crate::{Customer, Dimension, Quantity};

/// Records usage and commits it to a [`Ledger`](crate::ledger::Ledger): see the [module docs](self).
///
/// Open one with [`Meter::open`], or build one with [`Meter::builder`], inside a Tokio
/// runtime; end it with [`Meter::close`] (or [`Meter::shutdown`]).
///
/// Feature `meter`; [`Meter::open`], on an embedded `SQLite` ledger, feature `sqlite`.
pub struct Meter {
    shared: Arc<Shared>,
    ledger: Arc<dyn crate::ledger::Ledger>,
    /// Taken by the first close: later closes find it empty.
    writer: tokio::sync::Mutex<Option<Writer>>,
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
    ) -> Result<(), MeterError>
    where
        <D::Kind as DimensionKind>::Call: Adds,
    {
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
    ) -> Result<(), MeterError>
    where
        <D::Kind as DimensionKind>::Call: Adds,
    {
        self.usage(customer, dimension).add_durable(quantity).await
    }

    /// Usage of `dimension` by `customer`, to tag, time and record as its kind says: a
    /// sum's `.add(quantity)`, a maximum's `.observe(level)`, a distinct count's
    /// `.mark(id)`, a level's `.set(level)`.
    pub fn usage<'m, D: Dimension>(
        &'m self,
        customer: &'m Customer,
        dimension: D,
    ) -> Recording<'m, D::Kind> {
        Recording::new(&self.shared, customer, dimension.as_str())
    }

    /// Commits everything recorded before this call.
    ///
    /// # Errors
    /// [`MeterError::Closed`] once closed.
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
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use metering_core::ledger::SqliteLedger;
    /// use metering_core::submit::{RecordStatus, Response, Transport};
    /// use metering_core::{ManualClock, Meter, MeterConfig, PlannedRequest, Quantity, Submitter, Timestamp};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let account = |id: &str| -> Result<metering_core::Customer, Box<dyn std::error::Error>> {
    /// #     Ok(metering_core::Customer::Account { product: "prod-example123".parse()?, account: id.parse()? })
    /// # };
    /// # let (leaving, staying) = (account("111122223333")?, account("444455556666")?);
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// // In production `AwsTransport`; here one that bills every record it is given.
    /// struct BillEverything;
    /// impl Transport for BillEverything {
    ///     async fn send(&self, request: &PlannedRequest) -> Result<Response, metering_core::Failure> {
    ///         let results = (0..request.records().len())
    ///             .map(|i| (i, RecordStatus::Success(format!("id-{i}"))))
    ///             .collect();
    ///         Ok(Response { results, unprocessed: Vec::new() })
    ///     }
    /// }
    ///
    /// let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
    /// let meter = Meter::builder()
    ///     .config(MeterConfig::new().with_clock(clock))
    ///     .ledger(SqliteLedger::open(&path)?)
    ///     .submitter(Submitter::new(BillEverything)) // it takes the meter's clock
    ///     .build()?;
    /// meter.record(&leaving, Usage::ApiCalls, Quantity::new(3)?)?;
    /// meter.record(&staying, Usage::ApiCalls, Quantity::new(4)?)?;
    /// // 10:05, and the 10:00 hour is still open: the leaving customer's is sealed and billed now.
    /// let report = meter.seal_and_flush_customer(&leaving).await?;
    /// assert_eq!(report.sealed.sealed, 1);
    /// assert_eq!(report.outcomes.success, 1);
    /// // The other customer's hour stays open until it closes.
    /// assert_eq!(meter.status().await?.ledger.open_keys, 1);
    /// meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
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
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let account = |id: &str| -> Result<metering_core::Customer, Box<dyn std::error::Error>> {
    /// #     Ok(metering_core::Customer::Account { product: "prod-example123".parse()?, account: id.parse()? })
    /// # };
    /// # let (quiet, busy) = (account("111122223333")?, account("444455556666")?);
    /// # let dir = tempfile::tempdir()?;
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let clock = ManualClock::new(at("2026-05-12T10:05:00Z")?);
    /// # let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
    /// # let meter = Meter::builder()
    /// #     .config(MeterConfig::new().with_clock(clock.clone()))
    /// #     .ledger(Arc::clone(&ledger))
    /// #     .build()?;
    /// meter.register(&quiet, Usage::ApiCalls); // subscribed, no usage this hour
    /// meter.register(&busy, Usage::ApiCalls);
    /// meter.record(&busy, Usage::ApiCalls, Quantity::new(7)?)?;
    /// clock.advance(Duration::from_mins(60)); // 11:05: the 10:00 hour has closed
    /// meter.commit().await?;
    /// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:05:00Z")?).await?; // 10:00's hour
    /// let quantities: Vec<_> = ledger.records(None).await?.iter()
    ///     .map(|stored| (stored.record.customer().clone(), stored.record.quantity()))
    ///     .collect();
    /// assert_eq!(quantities.len(), 2, "{quantities:?}");
    /// assert!(quantities.contains(&(quiet, Quantity::new(0)?))); // a record of 0
    /// assert!(quantities.contains(&(busy, Quantity::new(7)?)));
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn register<D: Dimension>(&self, customer: &Customer, dimension: D) {
        let kind = <D::Kind as DimensionKind>::KIND;
        let key = Arc::new(KeyRef::untagged(customer, dimension.as_str(), kind).to_key());
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared
            .aside()
            .registered
            .entry(key)
            .or_insert((kind, hour));
    }

    /// Ends a registration: the current hour still gets its record, later hours only when
    /// there is usage. Unregistering a pair not registered changes nothing.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let clock = ManualClock::new(at("2026-05-12T10:05:00Z")?);
    /// # let ledger = Arc::new(SqliteLedger::open(&path)?);
    /// # let meter = Meter::builder()
    /// #     .config(MeterConfig::new().with_clock(clock.clone()))
    /// #     .ledger(Arc::clone(&ledger))
    /// #     .build()?;
    /// meter.register(&customer, Usage::ApiCalls);
    /// meter.unregister(&customer, Usage::ApiCalls); // unsubscribed at 10:05
    /// for (now, hour_end) in [("2026-05-12T11:05:00Z", "2026-05-12T11:00:00Z"),
    ///                         ("2026-05-12T12:05:00Z", "2026-05-12T12:00:00Z")] {
    ///     clock.set(at(now)?);
    ///     meter.commit().await?;
    ///     ledger.seal(at(hour_end)?, at(now)?).await?; // 10:00's hour, then 11:00's
    /// }
    /// let records = ledger.records(None).await?;
    /// assert_eq!(records.len(), 1, "{records:?}"); // 10:00's zero, and none for 11:00
    /// assert_eq!(records[0].record.timestamp(), at("2026-05-12T10:00:00Z")?);
    /// assert_eq!(records[0].record.quantity(), Quantity::new(0)?);
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn unregister<D: Dimension>(&self, customer: &Customer, dimension: D) {
        let kind = <D::Kind as DimensionKind>::KIND;
        let key = KeyRef::untagged(customer, dimension.as_str(), kind).to_key();
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared.aside().unregister(&key, hour);
    }

    /// This process's instance in the ledger.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Usage { ApiCalls }
    /// # impl metering_core::__private::DerivedDimension for Usage {}
    /// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
    /// #     type Kind = metering_core::kind::Sum;
    /// #     const ALL: &'static [Self] = &[Self::ApiCalls];
    /// #     fn as_str(self) -> &'static str { "api_calls" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("usage.sqlite");
    /// use metering_core::Meter;
    ///
    /// // Two meters on one file, as two processes would be: each commits as its own instance.
    /// let (one, two) = (Meter::open(&path)?, Meter::open(&path)?);
    /// assert_ne!(one.instance(), two.instance());
    /// assert_eq!(one.instance().to_string().len(), 32); // hexadecimal, as the ledger keeps it
    /// # one.close().await?;
    /// # two.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
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
}

impl Meter {
    /// Whether the meter is recording and committing, and its flusher (if it sends)
    /// flushing with no record within [`MeterConfig::deadline_error`] of the service's
    /// deadline: for a readiness probe or a `/healthz`, without a ledger query (it reads
    /// what the writer and the last flush left). Bounds: a commit within ten commit
    /// intervals (at least a minute), a successful flush within ten flush intervals and a
    /// lease.
    #[must_use]
    pub fn health(&self) -> Health {
        let shared = &self.shared;
        let progress = shared.progress.borrow().clone();
        Health::new(
            (shared.started, shared.config.clock().now()),
            shared.refusing.load(Ordering::Relaxed) == 0,
            (progress.last_commit, progress.last_error),
            writer::backlog(shared),
            self.sender.as_ref().map(sender::Sender::health),
            &shared.config,
        )
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
