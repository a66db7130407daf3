//! A typestate builder of [`UsageRecord`]s: a record without a customer, a time or a
//! quantity does not compile, and neither does a part given twice.
//!
//! One builder type serves every dimension enum (`RecordBuilder<D, ...>`), so compile time
//! does not grow with the number of dimensions. Start it with
//! [`Dimension::record`]:
//!
//! - `.customer(customer)`: who is billed, in one of the [`Customer`] modes (one value holds
//!   one mode, and a second `.customer(...)` does not compile, so modes cannot mix);
//! - `.at(timestamp)`: when the usage happened;
//! - `.quantity(q)`, or `.allocate(q, &tags)` once per tagged share: the record's quantity
//!   is then the sum of its allocations, so the service's sum rule cannot fail;
//! - `.build()`: a [`UsageRecord`]; with allocations, a `Result` (tag values held in
//!   strings are checked at run time, and so are the 2,500-allocation limit and the sum's
//!   upper bound).

use crate::customer::Customer;
use crate::dimension::Dimension;
use crate::error::ValidationError;
use crate::quantity::Quantity;
use crate::record::{Tags, UsageAllocation, UsageRecord};
use crate::strings::DimensionKey;
use crate::tags::UsageTags;
use crate::timestamp::Timestamp;

/// A record in the making: `D` is the dimension enum, `C`, `T` and `Q` say which of
/// customer, time and quantity are set (their value types when set, [`NoCustomer`],
/// [`NoTime`] and [`NoQuantity`] until then; [`Allocations`] for tagged shares).
#[derive(Debug, Clone)]
#[must_use = "a record builder does nothing until `.build()`"]
pub struct RecordBuilder<D, C = NoCustomer, T = NoTime, Q = NoQuantity> {
    dimension: D,
    customer: C,
    timestamp: T,
    quantity: Q,
}

/// The builder's customer is not set yet.
#[derive(Debug, Clone, Copy)]
pub struct NoCustomer;

/// The builder's time is not set yet.
#[derive(Debug, Clone, Copy)]
pub struct NoTime;

/// The builder's quantity is not set yet.
#[derive(Debug, Clone, Copy)]
pub struct NoQuantity;

/// The tagged shares given so far with `.allocate(...)`, or the first error among them.
#[derive(Debug, Clone)]
pub struct Allocations {
    allocations: Result<Vec<UsageAllocation>, ValidationError>,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoCustomer {}
    impl Sealed for super::NoTime {}
    impl Sealed for super::NoQuantity {}
    impl Sealed for super::Allocations {}
    impl Sealed for crate::Customer {}
    impl Sealed for crate::Timestamp {}
    impl Sealed for crate::Quantity {}
}

/// A builder state with the customer set.
#[diagnostic::on_unimplemented(
    message = "this record has no customer yet: call `.customer(...)` before `.build()`",
    label = "the customer is missing"
)]
pub trait HasCustomer: sealed::Sealed {
    #[doc(hidden)]
    fn into_customer(self) -> Customer;
}

impl HasCustomer for Customer {
    fn into_customer(self) -> Customer {
        self
    }
}

/// A builder state with the time set.
#[diagnostic::on_unimplemented(
    message = "this record has no time yet: call `.at(timestamp)` before `.build()`",
    label = "the time is missing"
)]
pub trait HasTime: sealed::Sealed {
    #[doc(hidden)]
    fn into_timestamp(self) -> Timestamp;
}

impl HasTime for Timestamp {
    fn into_timestamp(self) -> Timestamp {
        self
    }
}

/// What `.build()` returns in each quantity state: a record, or with allocations a
/// `Result`. (Every state has one, so `.build()` on a record without a quantity is
/// reported by the [`HasQuantity`] bound, with its message.)
pub trait QuantityState: sealed::Sealed {
    /// The result of `.build()`.
    type Output;
}

impl QuantityState for NoQuantity {
    type Output = UsageRecord;
}

impl QuantityState for Quantity {
    type Output = UsageRecord;
}

impl QuantityState for Allocations {
    type Output = Result<UsageRecord, ValidationError>;
}

/// A builder state with the quantity set, directly or as allocations.
#[diagnostic::on_unimplemented(
    message = "this record has no quantity yet: call `.quantity(...)` or `.allocate(...)` before `.build()`",
    label = "the quantity is missing"
)]
pub trait HasQuantity: QuantityState {
    #[doc(hidden)]
    fn finish(self, customer: Customer, dimension: DimensionKey, at: Timestamp) -> Self::Output;
}

impl HasQuantity for Quantity {
    fn finish(self, customer: Customer, dimension: DimensionKey, at: Timestamp) -> UsageRecord {
        UsageRecord::new(customer, dimension, at, self)
    }
}

impl HasQuantity for Allocations {
    fn finish(
        self,
        customer: Customer,
        dimension: DimensionKey,
        at: Timestamp,
    ) -> Result<UsageRecord, ValidationError> {
        UsageRecord::with_allocations(customer, dimension, at, self.allocations?)
    }
}

/// A builder state whose customer is not set yet.
#[diagnostic::on_unimplemented(
    message = "this record already has a customer: a record bills exactly one customer, in one mode",
    label = "second customer"
)]
pub trait CustomerUnset: sealed::Sealed {}
impl CustomerUnset for NoCustomer {}

/// A builder state whose time is not set yet.
#[diagnostic::on_unimplemented(
    message = "this record already has a time: call `.at(...)` once",
    label = "second time"
)]
pub trait TimeUnset: sealed::Sealed {}
impl TimeUnset for NoTime {}

/// A builder state in which `.quantity(...)` was not called yet.
#[diagnostic::on_unimplemented(
    message = "`.quantity(...)` was already called on this record: give its quantity once",
    label = "second `.quantity(...)`"
)]
pub trait QuantityUnset: sealed::Sealed {}
impl QuantityUnset for NoQuantity {}
impl QuantityUnset for Allocations {}

/// A builder state without allocations.
#[diagnostic::on_unimplemented(
    message = "this record has allocations: its quantity is the sum of the `.allocate(...)` shares, so `.quantity(...)` cannot be given beside them",
    label = "`.quantity(...)` after `.allocate(...)`"
)]
pub trait Unallocated: sealed::Sealed {}
impl Unallocated for NoQuantity {}
impl Unallocated for Quantity {}

/// A builder state that can take one more allocation.
#[diagnostic::on_unimplemented(
    message = "this record's quantity was set with `.quantity(...)`: with allocations the quantity is their sum, so use `.allocate(...)` alone",
    label = "quantity already set"
)]
pub trait CanAllocate: sealed::Sealed {
    #[doc(hidden)]
    fn into_allocations(self) -> Allocations;
}

impl CanAllocate for NoQuantity {
    fn into_allocations(self) -> Allocations {
        Allocations {
            allocations: Ok(Vec::new()),
        }
    }
}

impl CanAllocate for Allocations {
    fn into_allocations(self) -> Allocations {
        self
    }
}

impl<D: Dimension> RecordBuilder<D> {
    /// A record of `dimension` with nothing else set yet.
    pub fn new(dimension: D) -> Self {
        Self {
            dimension,
            customer: NoCustomer,
            timestamp: NoTime,
            quantity: NoQuantity,
        }
    }
}

impl<D, C, T, Q> RecordBuilder<D, C, T, Q> {
    /// Who is billed.
    pub fn customer(self, customer: Customer) -> RecordBuilder<D, Customer, T, Q>
    where
        C: CustomerUnset,
    {
        RecordBuilder {
            dimension: self.dimension,
            customer,
            timestamp: self.timestamp,
            quantity: self.quantity,
        }
    }

    /// When the usage happened (the service de-duplicates per hour; see
    /// [`Timestamp::hour_start`]).
    pub fn at(self, timestamp: Timestamp) -> RecordBuilder<D, C, Timestamp, Q>
    where
        T: TimeUnset,
    {
        RecordBuilder {
            dimension: self.dimension,
            customer: self.customer,
            timestamp,
            quantity: self.quantity,
        }
    }

    /// How much was used, when the quantity is not split among tags.
    pub fn quantity(self, quantity: Quantity) -> RecordBuilder<D, C, T, Quantity>
    where
        Q: Unallocated + QuantityUnset,
    {
        RecordBuilder {
            dimension: self.dimension,
            customer: self.customer,
            timestamp: self.timestamp,
            quantity,
        }
    }

    /// Attributes `quantity` to `tags`; call once per share. The record's quantity is the
    /// sum of its shares. A tag value that breaks its rule is reported by `.build()`, under
    /// `UsageAllocations[i]`.
    pub fn allocate<U>(self, quantity: Quantity, tags: &U) -> RecordBuilder<D, C, T, Allocations>
    where
        Q: CanAllocate,
        U: UsageTags + ?Sized,
    {
        self.push_allocation(quantity, || tags.tags().map(Some))
    }

    /// Attributes `quantity` to the bucket of usage with no tags.
    pub fn allocate_untagged(self, quantity: Quantity) -> RecordBuilder<D, C, T, Allocations>
    where
        Q: CanAllocate,
    {
        self.push_allocation(quantity, || Ok(None))
    }

    fn push_allocation(
        self,
        quantity: Quantity,
        tags: impl FnOnce() -> Result<Option<Tags>, ValidationError>,
    ) -> RecordBuilder<D, C, T, Allocations>
    where
        Q: CanAllocate,
    {
        let mut state = self.quantity.into_allocations();
        if let Ok(allocations) = &mut state.allocations {
            let index = allocations.len();
            match tags() {
                Ok(tags) => allocations.push(UsageAllocation { quantity, tags }),
                Err(error) => {
                    state.allocations =
                        Err(error.within(format_args!("UsageAllocations[{index}]")));
                }
            }
        }
        RecordBuilder {
            dimension: self.dimension,
            customer: self.customer,
            timestamp: self.timestamp,
            quantity: state,
        }
    }

    /// The record: a [`UsageRecord`], or with allocations a
    /// `Result<UsageRecord, ValidationError>`.
    ///
    /// It compiles only once the customer, the time and the quantity are set.
    ///
    /// # Errors
    /// With allocations: the first tag value that broke its rule, more than 2,500
    /// allocations, or a sum above [`Quantity::MAX`].
    pub fn build(self) -> <Q as QuantityState>::Output
    where
        Q: QuantityState,
        D: Dimension,
        C: HasCustomer,
        T: HasTime,
        Q: HasQuantity,
    {
        self.quantity.finish(
            self.customer.into_customer(),
            self.dimension.key(),
            self.timestamp.into_timestamp(),
        )
    }
}
