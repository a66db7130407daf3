//! Recording usage: a [`Recording`] described by the caller and added once, or a [`Handle`]
//! resolved once for the hottest callers.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::MeterError;
use super::accounts::Way;
use super::shared::Shared;
use super::table::{Entry, EntryArc, KeyRef, Opening};
use crate::ledger::UsageKey;
use crate::{Customer, Quantity, Tags, Timestamp, UsageTags, metrics};

/// Usage of one dimension by one customer, being described: tags and time are optional.
/// Made by [`Meter::usage`](super::Meter::usage).
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
#[must_use = "usage is recorded by `.add(...)`"]
pub struct Recording<'m> {
    pub(super) shared: &'m Arc<Shared>,
    pub(super) customer: &'m Customer,
    pub(super) dimension: &'static str,
    pub(super) tags: Result<Option<Cow<'m, Tags>>, MeterError>,
    pub(super) at: Option<Timestamp>,
}

impl std::fmt::Debug for Recording<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("customer", self.customer)
            .field("dimension", &self.dimension)
            .field("tags", &self.tags)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl<'m> Recording<'m> {
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
    pub fn add(self, quantity: Quantity) -> Result<(), MeterError> {
        let hour = match self.at {
            Some(at) => self.shared.hour_of(at),
            None => Ok(self.shared.hour_now.load(Ordering::Relaxed)),
        };
        let shared = self.shared;
        hour.and_then(|hour| self.with_entry(|entry| shared.add(entry, hour, quantity))?)
            .inspect_err(metrics::refused)
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
    pub async fn add_durable(self, quantity: Quantity) -> Result<(), MeterError> {
        let shared = self.shared;
        self.add(quantity)?;
        shared.durable().await
    }

    /// A handle on this key, for adding without looking it up again. (A time given with
    /// `.at(...)` is not kept: each add names its own.)
    ///
    /// # Errors
    /// The tags' [`MeterError::Validation`].
    pub fn handle(self) -> Result<Handle, MeterError> {
        let shared = self.shared.clone();
        let entry = self.with_entry(EntryArc::clone)?;
        Ok(Handle { shared, entry })
    }

    fn with_entry<R>(self, f: impl FnOnce(&EntryArc<Entry>) -> R) -> Result<R, MeterError> {
        let tags = match self.tags? {
            Some(tags) if !tags.as_slice().is_sorted() => Some(Cow::Owned(tags.normalized())),
            tags => tags,
        };
        let key = KeyRef {
            customer: self.customer,
            dimension: self.dimension,
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

/// One key, resolved once: each add is one atomic compare-and-swap into its hour's total.
/// Cheap to clone and to share between threads.
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
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    entry: EntryArc<Entry>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Handle").field(&self.entry.key).finish()
    }
}

impl Handle {
    /// Adds `quantity` in the current hour.
    ///
    /// # Errors
    /// [`MeterError::Overflow`], [`MeterError::Backlog`] or [`MeterError::Closed`]: the
    /// usage was not recorded.
    #[inline]
    pub fn add(&self, quantity: Quantity) -> Result<(), MeterError> {
        let hour = self.shared.hour_now.load(Ordering::Relaxed);
        self.shared
            .add(&self.entry, hour, quantity)
            .inspect_err(metrics::refused)
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
    pub fn add_at(&self, quantity: Quantity, at: Timestamp) -> Result<(), MeterError> {
        self.shared
            .hour_of(at)
            .and_then(|hour| self.shared.add(&self.entry, hour, quantity))
            .inspect_err(metrics::refused)
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
    pub async fn add_durable(&self, quantity: Quantity) -> Result<(), MeterError> {
        self.add(quantity)?;
        self.shared.durable().await
    }

    /// The key this handle adds to.
    #[must_use]
    pub fn key(&self) -> &UsageKey {
        &self.entry.key
    }
}
