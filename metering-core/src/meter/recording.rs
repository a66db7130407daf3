//! Recording usage: a [`Recording`] described by the caller and added once, or a [`Handle`]
//! resolved once for the hottest callers.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::MeterError;
use super::accounts::Way;
use super::add::Observation;
use super::hour::Hour;
use super::shared::Shared;
use super::table::{Entry, EntryArc, KeyRef, Opening};
use crate::kind::{Adds, DimensionKind, Identifier, Marks, Observes, Sets, Sum};
use crate::ledger::{LevelChange, UsageKey};
use crate::{Customer, Quantity, Tags, Timestamp, UsageTags, metrics};

/// Usage of one dimension by one customer, being described: tags and time are optional.
/// Made by [`Meter::usage`](super::Meter::usage), typed by the dimension's kind `K`
/// ([`kind`](crate::kind)): a sum is recorded with [`add`](Recording::add), a maximum with
/// [`observe`](Recording::observe), an identifier with [`mark`](Recording::mark), a level
/// with [`set`](Recording::set); another call does not compile.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
/// use metering_core::{ManualClock, Meter, MeterConfig, Tag, Tags, Timestamp};
/// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
/// # enum Usage { Storage }
/// # impl metering_core::__private::DerivedDimension for Usage {}
/// # impl metering_core::Dimension for Usage { // what `#[derive(Dimension)]` writes
/// #     type Kind = metering_core::kind::Sum;
/// #     const ALL: &'static [Self] = &[Self::Storage];
/// #     fn as_str(self) -> &'static str { "storage" }
/// # }
/// # let customer = metering_core::Customer::Account {
/// #     product: "prod-example123".parse()?,
/// #     account: "123456789012".parse()?,
/// # };
/// # let dir = tempfile::tempdir()?;
/// let at = |text| Timestamp::parse_rfc3339(text);
/// # let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
/// # let meter = Meter::builder()
/// #     .config(MeterConfig::new().with_clock(ManualClock::new(at("2026-05-12T10:05:00Z")?)))
/// #     .ledger(Arc::clone(&ledger))
/// #     .build()?;
/// let search = Tags::new(vec![Tag::new("team".parse()?, "search".parse()?)])?; // or a `UsageTags` struct
/// meter
///     .usage(&customer, Usage::Storage)
///     .tag_set(&search)
///     .at(at("2026-05-12T09:59:00Z")?) // an event that happened in the hour before
///     .add("1.5".parse()?)?;
/// meter.commit().await?;
/// ledger.seal(at("2026-05-12T10:00:00Z")?, at("2026-05-12T10:15:00Z")?).await?; // 09:00's hour
/// let records = ledger.records(None).await?;
/// assert_eq!(records[0].record.timestamp(), at("2026-05-12T09:00:00Z")?);
/// let allocations = records[0].record.allocations().expect("tagged usage is allocated");
/// assert_eq!(allocations[0].tags.as_ref(), Some(&search));
/// assert_eq!(allocations[0].quantity, "1.5".parse()?);
/// # meter.close().await?;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
#[must_use = "usage is recorded by `.add(...)`, `.observe(...)`, `.mark(...)` or `.set(...)`"]
pub struct Recording<'m, K: DimensionKind = Sum> {
    shared: &'m Arc<Shared>,
    customer: &'m Customer,
    dimension: &'static str,
    tags: Result<Option<Cow<'m, Tags>>, MeterError>,
    at: Option<Timestamp>,
    kind: PhantomData<fn() -> K>,
}

impl<K: DimensionKind> std::fmt::Debug for Recording<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("customer", self.customer)
            .field("dimension", &self.dimension)
            .field("kind", &K::KIND)
            .field("tags", &self.tags)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl<'m, K: DimensionKind> Recording<'m, K> {
    pub(super) fn new(
        shared: &'m Arc<Shared>,
        customer: &'m Customer,
        dimension: &'static str,
    ) -> Self {
        Self {
            shared,
            customer,
            dimension,
            tags: Ok(None),
            at: None,
            kind: PhantomData,
        }
    }

    /// The tags the usage is allocated to (a `#[derive(UsageTags)]` struct). Converting
    /// them allocates; a hot path keeps a [`Handle`], or passes built [`Tags`] to
    /// [`Recording::tag_set`].
    pub fn tags(mut self, tags: &(impl UsageTags + ?Sized)) -> Self {
        self.tags = tags
            .tags()
            .map(|tags| Some(Cow::Owned(tags)))
            .map_err(MeterError::from);
        self
    }

    /// The tags, already built: no allocation when they are sorted by key.
    pub fn tag_set(mut self, tags: &'m Tags) -> Self {
        self.tags = Ok(Some(Cow::Borrowed(tags)));
        self
    }

    /// When the usage happened (the current hour if not given).
    pub fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }

    /// Adds `quantity` to the hour's total for this key.
    ///
    /// # Errors
    /// The tags' [`MeterError::Validation`], [`MeterError::InFuture`],
    /// [`MeterError::Overflow`], [`MeterError::Backlog`] or [`MeterError::Closed`]: the
    /// usage was not recorded.
    #[allow(
        clippy::should_implement_trait,
        reason = "adding consumes the description of the usage; it is not arithmetic"
    )]
    pub fn add(self, quantity: Quantity) -> Result<(), MeterError>
    where
        K::Call: Adds,
    {
        self.record(Observation::Add(quantity))
    }

    /// Like [`Recording::add`], and resolves once the usage is committed to the ledger.
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
    /// use metering_core::{Meter, Quantity, Timestamp};
    ///
    /// let meter = Meter::open(&path)?;
    /// meter
    ///     .usage(&customer, Usage::ApiCalls)
    ///     .at(Timestamp::now()) // any time within the window, as `add`
    ///     .add_durable(Quantity::new(2)?)
    ///     .await?; // committed: no `meter.commit()` needed
    /// assert_eq!(meter.status().await?.ledger.open_keys, 1);
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Recording::add`].
    pub async fn add_durable(self, quantity: Quantity) -> Result<(), MeterError>
    where
        K::Call: Adds,
    {
        self.record_durable(Observation::Add(quantity)).await
    }

    /// Observes `level` of a maximum: the hour's quantity is the highest level observed
    /// in it (here, by other processes and instances, and across checkpoints). With a
    /// [`Handle`]: [`Handle::observe`], [`Handle::observe_at`], [`Handle::observe_durable`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Peak { Hosts }
    /// # impl metering_core::__private::DerivedDimension for Peak {}
    /// # impl metering_core::Dimension for Peak { // what `#[derive(Dimension)]` writes, with `#[metering(kind = "max")]`
    /// #     type Kind = metering_core::kind::Max;
    /// #     const ALL: &'static [Self] = &[Self::Hosts];
    /// #     fn as_str(self) -> &'static str { "hosts" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let clock = ManualClock::new(at("2026-05-12T10:05:00Z")?);
    /// let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
    /// let meter = Meter::builder()
    ///     .config(MeterConfig::new().with_clock(clock.clone()))
    ///     .ledger(Arc::clone(&ledger))
    ///     .build()?;
    /// meter.usage(&customer, Peak::Hosts).observe(Quantity::new(3)?)?;
    /// let hosts = meter.usage(&customer, Peak::Hosts).handle()?; // or resolved once
    /// hosts.observe(Quantity::new(8)?)?;
    /// hosts.observe_at(Quantity::new(5)?, at("2026-05-12T10:01:00Z")?)?;
    /// hosts.observe_durable(Quantity::new(6)?).await?; // committed: no `meter.commit()` needed
    /// // Once 10:00's hour is sealed, it is one record of its highest level.
    /// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:15:00Z")?).await?;
    /// let records = ledger.records(None).await?;
    /// assert_eq!(records.len(), 1);
    /// assert_eq!(records[0].record.quantity(), Quantity::new(8)?);
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Recording::add`].
    pub fn observe(self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Observes,
    {
        self.record(Observation::Observe(level))
    }

    /// Like [`Recording::observe`], and resolves once the observation is committed.
    ///
    /// # Errors
    /// As [`Recording::add`].
    pub async fn observe_durable(self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Observes,
    {
        self.record_durable(Observation::Observe(level)).await
    }

    /// Marks `id` (a string, an integer, a UUID's bytes: see [`Identifier`]) as seen: the
    /// hour's quantity is the number of distinct identifiers seen in it (here, by other
    /// processes and instances, and across checkpoints). With a [`Handle`]:
    /// [`Handle::mark`], [`Handle::mark_at`], [`Handle::mark_durable`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Active { Users }
    /// # impl metering_core::__private::DerivedDimension for Active {}
    /// # impl metering_core::Dimension for Active { // what `#[derive(Dimension)]` writes, with `#[metering(kind = "distinct")]`
    /// #     type Kind = metering_core::kind::Distinct;
    /// #     const ALL: &'static [Self] = &[Self::Users];
    /// #     fn as_str(self) -> &'static str { "active_users" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let clock = ManualClock::new(at("2026-05-12T10:05:00Z")?);
    /// let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
    /// let meter = Meter::builder()
    ///     .config(MeterConfig::new().with_clock(clock.clone()))
    ///     .ledger(Arc::clone(&ledger))
    ///     .build()?;
    /// meter.usage(&customer, Active::Users).mark("alice")?; // a string, kept as its 128-bit hash
    /// let users = meter.usage(&customer, Active::Users).handle()?; // or resolved once
    /// users.mark(42_u64)?; // an integer, kept exactly
    /// users.mark_at("bob", at("2026-05-12T10:01:00Z")?)?;
    /// users.mark_durable("alice").await?; // seen before: counted once; committed
    /// // Once 10:00's hour is sealed, it is one record of the number of distinct identifiers.
    /// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:15:00Z")?).await?;
    /// let records = ledger.records(None).await?;
    /// assert_eq!(records.len(), 1);
    /// assert_eq!(records[0].record.quantity(), Quantity::new(3)?);
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Recording::add`], but for the overflow: a count is bounded by memory.
    pub fn mark(self, id: impl Into<Identifier>) -> Result<(), MeterError>
    where
        K::Call: Marks,
    {
        self.record(Observation::Mark(id.into()))
    }

    /// Like [`Recording::mark`], and resolves once the identifier is committed.
    ///
    /// # Errors
    /// As [`Recording::mark`].
    pub async fn mark_durable(self, id: impl Into<Identifier>) -> Result<(), MeterError>
    where
        K::Call: Marks,
    {
        self.record_durable(Observation::Mark(id.into())).await
    }

    /// Sets the level from now (or from the time given with `.at(...)`) until it is set
    /// again: each hour's quantity is the level's integral over it, in unit-hours. The
    /// ledger holds the level across hours, processes and restarts: set it when it changes
    /// (each call is a change sent to the ledger), and to zero when it ends. With a
    /// [`Handle`]: [`Handle::set`], [`Handle::set_at`], [`Handle::set_durable`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use metering_core::{ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    /// # #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    /// # enum Stored { Gigabytes }
    /// # impl metering_core::__private::DerivedDimension for Stored {}
    /// # impl metering_core::Dimension for Stored { // what `#[derive(Dimension)]` writes, with `#[metering(kind = "level")]`
    /// #     type Kind = metering_core::kind::Level;
    /// #     const ALL: &'static [Self] = &[Self::Gigabytes];
    /// #     fn as_str(self) -> &'static str { "stored_gb" }
    /// # }
    /// # let customer = metering_core::Customer::Account {
    /// #     product: "prod-example123".parse()?,
    /// #     account: "123456789012".parse()?,
    /// # };
    /// # let dir = tempfile::tempdir()?;
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// let clock = ManualClock::new(at("2026-05-12T10:20:00Z")?);
    /// let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
    /// let meter = Meter::builder()
    ///     .config(MeterConfig::new().with_clock(clock.clone()))
    ///     .ledger(Arc::clone(&ledger))
    ///     .build()?;
    /// meter.usage(&customer, Stored::Gigabytes).set(Quantity::new(6)?)?; // 6 GB from 10:20
    /// let stored = meter.usage(&customer, Stored::Gigabytes).handle()?; // or resolved once
    /// clock.set(at("2026-05-12T12:40:00Z")?);
    /// stored.set_at(Quantity::new(9)?, at("2026-05-12T12:40:00Z")?)?; // 9 GB from 12:40
    /// stored.set_durable(Quantity::new(3)?).await?; // 3 GB from 12:40 (at one instant the larger holds: 9)
    /// // Sealed, each hour bills the level's integral: 6 GB for 40 minutes, an hour, 40 minutes.
    /// ledger.seal(at("2026-05-12T13:00:00Z")?, at("2026-05-12T13:15:00Z")?).await?;
    /// let mut billed: Vec<_> = ledger.records(None).await?.iter()
    ///     .map(|stored| (stored.record.timestamp(), stored.record.quantity()))
    ///     .collect();
    /// billed.sort();
    /// assert_eq!(billed, [
    ///     (at("2026-05-12T10:00:00Z")?, Quantity::new(4)?),
    ///     (at("2026-05-12T11:00:00Z")?, Quantity::new(6)?),
    ///     (at("2026-05-12T12:00:00Z")?, Quantity::new(7)?), // 4, and 9 for 20 minutes
    /// ]);
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Recording::add`], but for the overflow.
    pub fn set(mut self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Sets,
    {
        let at = self.at.unwrap_or_else(|| self.shared.read_clock());
        self.at = Some(at);
        self.record(Observation::Set(LevelChange { at, level }))
    }

    /// Like [`Recording::set`], and resolves once the change is committed.
    ///
    /// # Errors
    /// As [`Recording::set`].
    pub async fn set_durable(self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Sets,
    {
        let shared = self.shared;
        self.set(level)?;
        shared.durable().await
    }

    /// A handle on this key, for recording without looking it up again. (A time given with
    /// `.at(...)` is not kept: each call names its own.)
    ///
    /// # Errors
    /// The tags' [`MeterError::Validation`].
    pub fn handle(self) -> Result<Handle<K>, MeterError> {
        let shared = self.shared.clone();
        let entry = self.with_entry(EntryArc::clone)?;
        Ok(Handle {
            shared,
            entry,
            kind: PhantomData,
        })
    }

    fn record(self, observation: Observation) -> Result<(), MeterError> {
        let hour = match self.at {
            Some(at) => self.shared.hour_of(at),
            None => Ok(self.shared.hour_now.load(Ordering::Relaxed)),
        };
        let shared = self.shared;
        hour.and_then(|hour| self.with_entry(|entry| shared.record(entry, hour, observation))?)
            .inspect_err(metrics::refused)
    }

    async fn record_durable(self, observation: Observation) -> Result<(), MeterError> {
        let shared = self.shared;
        self.record(observation)?;
        shared.durable().await
    }

    fn with_entry<R>(self, f: impl FnOnce(&EntryArc<Entry>) -> R) -> Result<R, MeterError> {
        let tags = match self.tags? {
            Some(tags) if !tags.as_slice().is_sorted() => Some(Cow::Owned(tags.normalized())),
            tags => tags,
        };
        let key = KeyRef {
            customer: self.customer,
            dimension: self.dimension,
            kind: K::KIND,
            tags: tags.as_deref(),
        };
        let shared = self.shared;
        let open = || Opening {
            center: shared.center.load(Ordering::SeqCst),
            account: Way::of(self.customer)
                .map(|(account, way)| (shared.aside().marks.account(account), way)),
        };
        Ok(shared.table.with(key, open, f))
    }
}

/// One key, resolved once: each add (or observation of a maximum) is one atomic
/// compare-and-swap into its hour's total; a mark or a level's change takes the key's own
/// lock. Typed by the dimension's kind, as [`Recording`]. Cheap to clone and to share
/// between threads.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
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
/// # let customer = metering_core::Customer::Account {
/// #     product: "prod-example123".parse()?,
/// #     account: "123456789012".parse()?,
/// # };
/// # let dir = tempfile::tempdir()?;
/// let at = |text| Timestamp::parse_rfc3339(text);
/// let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
/// let meter = Meter::builder()
///     .config(MeterConfig::new().with_clock(ManualClock::new(at("2026-05-12T10:05:00Z")?)))
///     .ledger(Arc::clone(&ledger))
///     .build()?;
/// let calls = meter.usage(&customer, Usage::ApiCalls).handle()?; // the key, resolved once
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let calls = calls.clone();
///         std::thread::spawn(move || calls.add(Quantity::new(5).expect("a quantity")))
///     })
///     .collect();
/// for thread in threads {
///     thread.join().expect("no panic")?;
/// }
/// meter.commit().await?;
/// // Once 10:00's hour is sealed, it is one record of the sum.
/// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:15:00Z")?).await?;
/// let records = ledger.records(None).await?;
/// assert_eq!(records.len(), 1);
/// assert_eq!(records[0].record.quantity(), Quantity::new(20)?);
/// # meter.close().await?;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
pub struct Handle<K: DimensionKind = Sum> {
    shared: Arc<Shared>,
    entry: EntryArc<Entry>,
    kind: PhantomData<fn() -> K>,
}

impl<K: DimensionKind> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            entry: self.entry.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: DimensionKind> std::fmt::Debug for Handle<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Handle")
            .field(&self.entry.key)
            .field(&K::KIND)
            .finish()
    }
}

impl<K: DimensionKind> Handle<K> {
    /// Adds `quantity` in the current hour.
    ///
    /// # Errors
    /// [`MeterError::Overflow`], [`MeterError::Backlog`] or [`MeterError::Closed`]: the
    /// usage was not recorded.
    #[inline]
    pub fn add(&self, quantity: Quantity) -> Result<(), MeterError>
    where
        K::Call: Adds,
    {
        self.record(Ok(self.now()), Observation::Add(quantity))
    }

    /// Adds `quantity` in the hour `at` falls in.
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
    /// use std::time::Duration;
    /// use metering_core::{ManualClock, Meter, MeterConfig, MeterError, Quantity, Timestamp};
    /// use metering_core::ledger::SqliteLedger;
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let meter = Meter::builder()
    ///     .config(MeterConfig::new().with_clock(ManualClock::new(now)))
    ///     .ledger(SqliteLedger::open(&path)?)
    ///     .build()?;
    /// let calls = meter.usage(&customer, Usage::ApiCalls).handle()?;
    /// calls.add_at(Quantity::new(1)?, now.saturating_sub(Duration::from_mins(10)))?; // 09:55
    /// calls.add_at(Quantity::new(1)?, now)?;
    /// meter.commit().await?;
    /// assert_eq!(meter.status().await?.ledger.open_keys, 2); // the key in two hours
    /// // Usage is recorded once it has happened: an event hours ahead is refused.
    /// let ahead = now.saturating_add(Duration::from_hours(3));
    /// assert!(matches!(calls.add_at(Quantity::new(1)?, ahead), Err(MeterError::InFuture { .. })));
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Handle::add`], and [`MeterError::InFuture`].
    #[inline]
    pub fn add_at(&self, quantity: Quantity, at: Timestamp) -> Result<(), MeterError>
    where
        K::Call: Adds,
    {
        self.record(self.shared.hour_of(at), Observation::Add(quantity))
    }

    /// Like [`Handle::add`], and resolves once the usage is committed to the ledger.
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
    /// use metering_core::{Meter, Quantity};
    ///
    /// let meter = Meter::open(&path)?;
    /// let calls = meter.usage(&customer, Usage::ApiCalls).handle()?;
    /// calls.add_durable(Quantity::new(1)?).await?; // committed: no `meter.commit()` needed
    /// assert_eq!(meter.status().await?.ledger.open_keys, 1);
    /// assert_eq!(calls.key().dimension().as_str(), "api_calls");
    /// # meter.close().await?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    /// As [`Handle::add`].
    pub async fn add_durable(&self, quantity: Quantity) -> Result<(), MeterError>
    where
        K::Call: Adds,
    {
        self.add(quantity)?;
        self.shared.durable().await
    }

    /// Observes `level` of a maximum in the current hour: see [`Recording::observe`]. A
    /// level at or below the hour's maximum so far costs one atomic load.
    ///
    /// # Errors
    /// As [`Handle::add`].
    #[inline]
    pub fn observe(&self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Observes,
    {
        self.record(Ok(self.now()), Observation::Observe(level))
    }

    /// Observes `level` in the hour `at` falls in.
    ///
    /// # Errors
    /// As [`Handle::add_at`].
    #[inline]
    pub fn observe_at(&self, level: Quantity, at: Timestamp) -> Result<(), MeterError>
    where
        K::Call: Observes,
    {
        self.record(self.shared.hour_of(at), Observation::Observe(level))
    }

    /// Like [`Handle::observe`], and resolves once the observation is committed.
    ///
    /// # Errors
    /// As [`Handle::add`].
    pub async fn observe_durable(&self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Observes,
    {
        self.observe(level)?;
        self.shared.durable().await
    }

    /// Marks `id` as seen in the current hour: see [`Recording::mark`].
    ///
    /// # Errors
    /// As [`Recording::mark`].
    #[inline]
    pub fn mark(&self, id: impl Into<Identifier>) -> Result<(), MeterError>
    where
        K::Call: Marks,
    {
        self.record(Ok(self.now()), Observation::Mark(id.into()))
    }

    /// Marks `id` as seen in the hour `at` falls in.
    ///
    /// # Errors
    /// As [`Recording::mark`], and [`MeterError::InFuture`].
    #[inline]
    pub fn mark_at(&self, id: impl Into<Identifier>, at: Timestamp) -> Result<(), MeterError>
    where
        K::Call: Marks,
    {
        self.record(self.shared.hour_of(at), Observation::Mark(id.into()))
    }

    /// Like [`Handle::mark`], and resolves once the identifier is committed.
    ///
    /// # Errors
    /// As [`Recording::mark`].
    pub async fn mark_durable(&self, id: impl Into<Identifier>) -> Result<(), MeterError>
    where
        K::Call: Marks,
    {
        self.mark(id)?;
        self.shared.durable().await
    }

    /// Sets the level from now until it is set again: see [`Recording::set`].
    ///
    /// # Errors
    /// As [`Recording::set`].
    pub fn set(&self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Sets,
    {
        let at = self.shared.read_clock();
        self.record(
            Ok(Hour::of(at)),
            Observation::Set(LevelChange { at, level }),
        )
    }

    /// Sets the level from `at` until it is set again (a later change, or one already
    /// recorded after `at`).
    ///
    /// # Errors
    /// As [`Recording::set`], and [`MeterError::InFuture`].
    pub fn set_at(&self, level: Quantity, at: Timestamp) -> Result<(), MeterError>
    where
        K::Call: Sets,
    {
        self.record(
            self.shared.hour_of(at),
            Observation::Set(LevelChange { at, level }),
        )
    }

    /// Like [`Handle::set`], and resolves once the change is committed.
    ///
    /// # Errors
    /// As [`Recording::set`].
    pub async fn set_durable(&self, level: Quantity) -> Result<(), MeterError>
    where
        K::Call: Sets,
    {
        self.set(level)?;
        self.shared.durable().await
    }

    /// The key this handle records to.
    #[must_use]
    pub fn key(&self) -> &UsageKey {
        &self.entry.key
    }

    /// The current hour, as last read.
    #[inline]
    fn now(&self) -> Hour {
        self.shared.hour_now.load(Ordering::Relaxed)
    }

    #[inline]
    fn record(
        &self,
        hour: Result<Hour, MeterError>,
        observation: Observation,
    ) -> Result<(), MeterError> {
        hour.and_then(|hour| self.shared.record(&self.entry, hour, observation))
            .inspect_err(metrics::refused)
    }
}
