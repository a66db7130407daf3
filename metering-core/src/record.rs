//! Usage records and their allocations, valid by construction.

use metering_rules::limits::{MAX_ALLOCATIONS, MAX_TAGS, MIN_ALLOCATIONS, MIN_TAGS};

use crate::customer::Customer;
use crate::error::{Rule, ValidationError};
use crate::quantity::Quantity;
use crate::strings::{DimensionKey, TagKey, TagValue};
use crate::timestamp::Timestamp;

/// One allocation tag: a key and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The tag's key.
    pub key: TagKey,
    /// The tag's value.
    pub value: TagValue,
}

impl Tag {
    /// A tag from its parts.
    #[must_use]
    pub fn new(key: TagKey, value: TagValue) -> Self {
        Self { key, value }
    }
}

/// The 1..=5 tags of one allocation, with unique keys.
///
/// The service model bounds the count; unique keys are our rule (a bucket tagged both
/// `env=prod` and `env=dev` means nothing a cost report could use).
///
/// Usually built by a `#[derive(UsageTags)]` struct; built by hand, for tags known only at
/// run time:
///
/// ```
/// use metering_core::{Quantity, Tag, Tags, UsageAllocation};
///
/// let tag = |key: &str, value: &str| -> Result<Tag, metering_core::ValidationError> {
///     Ok(Tag::new(key.parse()?, value.parse()?))
/// };
/// let tags = Tags::new(vec![tag("team", "search")?, tag("env", "prod")?])?;
/// let share = UsageAllocation::new(Quantity::new(30)?, tags);
/// assert_eq!(share.tags.as_ref().map(|tags| tags.as_slice().len()), Some(2));
/// // One key twice is refused, naming it.
/// let error = Tags::new(vec![tag("env", "prod")?, tag("env", "dev")?]).unwrap_err();
/// assert!(error.to_string().contains("env"), "{error}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tags(Vec<Tag>);

impl Tags {
    /// Validates the count and the keys' uniqueness.
    ///
    /// # Errors
    /// A [`ValidationError`] on `Tags` (count) or on the repeated `Key`.
    pub fn new(tags: Vec<Tag>) -> Result<Self, ValidationError> {
        if !(MIN_TAGS..=MAX_TAGS).contains(&tags.len()) {
            let keys: Vec<&str> = tags.iter().map(|tag| tag.key.as_str()).collect();
            return Err(ValidationError::new(
                "Tags",
                Rule::Count {
                    min: MIN_TAGS,
                    max: MAX_TAGS,
                    actual: tags.len(),
                },
                keys.join(", "),
            ));
        }
        for (index, tag) in tags.iter().enumerate() {
            if tags[..index].iter().any(|earlier| earlier.key == tag.key) {
                return Err(ValidationError::new("Key", Rule::DuplicateTagKey, &tag.key)
                    .within(format_args!("Tags[{index}]")));
            }
        }
        Ok(Self(tags))
    }

    /// The same tags sorted by key: allocations tagged alike in another order are one bucket.
    ///
    /// ```
    /// use metering_core::{Tag, Tags};
    ///
    /// let tag = |key: &str, value: &str| -> Result<Tag, metering_core::ValidationError> {
    ///     Ok(Tag::new(key.to_owned().parse()?, value.to_owned().parse()?))
    /// };
    /// let one = Tags::new(vec![tag("team", "search")?, tag("env", "prod")?])?;
    /// let other = Tags::new(vec![tag("env", "prod")?, tag("team", "search")?])?;
    /// assert_ne!(one, other); // as given
    /// assert_eq!(one.normalized(), other.normalized());
    /// assert_eq!(one.normalized().as_slice()[0], tag("env", "prod")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn normalized(&self) -> Self {
        let mut tags = self.0.clone();
        tags.sort();
        Self(tags)
    }

    /// The tags, in the order given.
    #[must_use]
    pub fn as_slice(&self) -> &[Tag] {
        &self.0
    }
}

/// A share of a record's quantity, attributed to a set of tags (cost allocation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageAllocation {
    /// The share of the record's quantity.
    pub quantity: Quantity,
    /// The tags it is attributed to; `None` for the bucket of usage with no tags, which
    /// the service model lets an allocation leave its `Tags` out for.
    pub tags: Option<Tags>,
}

impl UsageAllocation {
    /// An allocation of `quantity` to `tags`.
    #[must_use]
    pub fn new(quantity: Quantity, tags: Tags) -> Self {
        Self {
            quantity,
            tags: Some(tags),
        }
    }

    /// An allocation of `quantity` to the bucket of usage with no tags.
    #[must_use]
    pub fn untagged(quantity: Quantity) -> Self {
        Self {
            quantity,
            tags: None,
        }
    }
}

/// One customer's usage of one dimension at one time: a valid `UsageRecords` entry.
///
/// Every part is validated on the way in, and with allocations the quantity is their sum,
/// so a value of this type is always one the service's field rules accept. (Whether the
/// service still accepts its timestamp depends on when it is sent: see
/// [`TimePolicy`](crate::TimePolicy).)
///
/// Built by `Dimension::record()` from a derived dimension enum (see the `Dimension`
/// derive), or from its parts when the dimension key is read at run time:
///
/// ```
/// use metering_core::{Customer, DimensionKey, Quantity, Timestamp, UsageRecord};
///
/// let customer = Customer::Account {
///     product: "prod-example123".parse()?,
///     account: "123456789012".parse()?,
/// };
/// let record = UsageRecord::new(
///     customer,
///     DimensionKey::new("api_calls")?,
///     Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?,
///     Quantity::new(3)?,
/// );
/// assert_eq!(record.dimension().as_str(), "api_calls");
/// assert_eq!(record.quantity(), Quantity::new(3)?);
/// assert!(record.allocations().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageRecord {
    timestamp: Timestamp,
    customer: Customer,
    dimension: DimensionKey,
    quantity: Quantity,
    allocations: Option<Vec<UsageAllocation>>,
}

impl UsageRecord {
    /// A record of `quantity` units of `dimension` used by `customer` at `timestamp`.
    #[must_use]
    pub fn new(
        customer: Customer,
        dimension: DimensionKey,
        timestamp: Timestamp,
        quantity: Quantity,
    ) -> Self {
        Self {
            timestamp,
            customer,
            dimension,
            quantity,
            allocations: None,
        }
    }

    /// A record whose quantity is split among tagged allocations; the record's quantity is
    /// their sum.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Quantity, Tag, Tags, Timestamp, UsageAllocation, UsageRecord};
    ///
    /// # let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let at = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let search = Tags::new(vec![Tag::new("team".parse()?, "search".parse()?)])?;
    /// let allocations = vec![
    ///     UsageAllocation::new(Quantity::new(3)?, search),
    ///     UsageAllocation::untagged(Quantity::new(1)?), // the rest, under no tag
    /// ];
    /// let record = UsageRecord::with_allocations(customer.clone(), DimensionKey::new("api_calls")?, at, allocations)?;
    /// assert_eq!(record.quantity(), Quantity::new(4)?);
    /// assert!(record.allocations().is_some_and(|allocations| allocations[1].tags.is_none()));
    /// // At least one allocation.
    /// assert!(UsageRecord::with_allocations(customer, DimensionKey::new("api_calls")?, at, Vec::new()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When there are not 1..=2500 allocations, or their sum exceeds [`Quantity::MAX`].
    pub fn with_allocations(
        customer: Customer,
        dimension: DimensionKey,
        timestamp: Timestamp,
        allocations: Vec<UsageAllocation>,
    ) -> Result<Self, ValidationError> {
        if !(MIN_ALLOCATIONS..=MAX_ALLOCATIONS).contains(&allocations.len()) {
            return Err(ValidationError::new(
                "UsageAllocations",
                Rule::Count {
                    min: MIN_ALLOCATIONS,
                    max: MAX_ALLOCATIONS,
                    actual: allocations.len(),
                },
                format_args!("{} allocations", allocations.len()),
            ));
        }
        let quantity =
            Quantity::checked_sum(allocations.iter().map(|a| a.quantity)).ok_or_else(|| {
                ValidationError::new("UsageAllocations", Rule::Quantity, "sum above the maximum")
            })?;
        Ok(Self {
            timestamp,
            customer,
            dimension,
            quantity,
            allocations: Some(allocations),
        })
    }

    /// When the usage happened.
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
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

    /// How much: with allocations, their sum.
    #[must_use]
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The tagged allocations, if the quantity is split.
    #[must_use]
    pub fn allocations(&self) -> Option<&[UsageAllocation]> {
        self.allocations.as_deref()
    }

    /// Whether the wire form needs decimal quantities: some quantity has a fraction or
    /// exceeds the integer `Quantity` range. A record and its allocations use one form.
    #[must_use]
    pub fn needs_decimal(&self) -> bool {
        self.quantity.as_integer().is_none()
            || self
                .allocations()
                .unwrap_or_default()
                .iter()
                .any(|a| a.quantity.as_integer().is_none())
    }
}
