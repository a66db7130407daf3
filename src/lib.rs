#![doc = include_str!("../README.md")]
//!
//! ## Features
//!
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Each item by name, so that these docs show what a seller uses and nothing internal.
// Names that say little alone (`Summary`, `Plan`, `Accepted`, `Handle`, ...) are reached
// through their module.

/// The derive macro of [`Dimension`](trait@Dimension): a product's dimensions as an enum,
/// each key checked at compile time; `.record()` starts a record of one.
///
/// ```
/// use marketplace_metering::{Customer, Dimension, Quantity, Timestamp};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
/// #[metering(rename_all = "snake_case")]
/// enum Usage { ApiCalls, StorageGbHours }
///
/// let customer = Customer::Account {
///     product: "prod-example123".parse()?,
///     account: "123456789012".parse()?,
/// };
/// let at = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
/// let record = Usage::ApiCalls
///     .record()
///     .customer(customer.clone())
///     .at(at)
///     .quantity(Quantity::new(3)?)
///     .build(); // leave out the customer, the time or the quantity: it does not compile
/// assert_eq!(record.dimension().as_str(), "api_calls");
/// assert_eq!(record.customer(), &customer);
/// assert_eq!(record.quantity(), Quantity::new(3)?);
/// assert_eq!("storage_gb_hours".parse::<Usage>()?, Usage::StorageGbHours);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "derive")]
pub use metering_derive::Dimension;
/// The derive macro of [`ToTagValue`](trait@ToTagValue): a fieldless enum as the value of
/// an allocation tag, each value checked at compile time (see [`UsageTags`](derive@UsageTags)).
#[cfg(feature = "derive")]
pub use metering_derive::ToTagValue;
/// The derive macro of [`UsageTags`](trait@UsageTags): the tags of an allocation as a
/// struct, keyed by field name; a record's quantity is then the sum of its allocations.
///
/// ```
/// use marketplace_metering::{Customer, Dimension, Quantity, Timestamp, ToTagValue, UsageTags};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
/// #[metering(rename_all = "snake_case")]
/// enum Usage { ApiCalls }
///
/// #[derive(ToTagValue)]
/// #[metering(rename_all = "lowercase")]
/// enum Env { Prod, Staging }
///
/// #[derive(UsageTags)]
/// struct CostTags { team: &'static str, environment: Env }
///
/// # let customer = Customer::Account {
/// #     product: "prod-example123".parse()?,
/// #     account: "123456789012".parse()?,
/// # };
/// # let at = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
/// let record = Usage::ApiCalls
///     .record()
///     .customer(customer)
///     .at(at)
///     .allocate(Quantity::new(30)?, &CostTags { team: "search", environment: Env::Prod })
///     .allocate(Quantity::new(12)?, &CostTags { team: "ads", environment: Env::Staging })
///     .allocate_untagged(Quantity::new(1)?)
///     .build()?; // a tag value held in a string is checked here
/// assert_eq!(record.quantity(), Quantity::new(43)?);
/// let first = &record.allocations().expect("allocated")[0];
/// let tags: Vec<(&str, &str)> = first.tags.as_ref().expect("tagged").as_slice().iter()
///     .map(|tag| (tag.key.as_str(), tag.value.as_str()))
///     .collect();
/// assert_eq!(tags, [("team", "search"), ("environment", "prod")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "derive")]
pub use metering_derive::UsageTags;

// What a record is made of, each value checked on the way in.
pub use metering_core::{
    Customer, CustomerAwsAccountId, CustomerFields, CustomerFieldsError, CustomerIdentifier,
    Dimension, DimensionKey, LicenseArn, ProductCode, Quantity, RecordBuilder, RequestScope, Tag,
    TagKey, TagValue, Tags, Timestamp, ToTagValue, UnknownDimension, UsageAllocation, UsageRecord,
    UsageTags, builder, kind,
};
// The service's rules, and what breaking one says.
pub use metering_core::{
    ErrorCode, Failure, FailureKind, QUANTITY_DECIMAL, Rule, StringRule, ValidationError,
    Violation, limits,
};
// Time: the clock everything reads, and the service's window.
pub use metering_core::{Clock, Hour, ManualClock, SystemClock, TimePolicy, TimeViolation};
// Files of records as the service's JSON.
pub use metering_core::{EntryError, RequestRecords, Strictness};
// What happened to each record sent.
pub use metering_core::{Outcome, QuarantineReason, RecordOutcome, Report};

/// What a submission did, record by record: the [`Report`] and its parts.
pub mod outcome {
    pub use metering_core::{Outcome, RecordOutcome, Report, Summary, Table};
}

/// How records are grouped into requests before they are sent, and why one is kept back.
pub mod plan {
    pub use metering_core::{
        MergeError, Plan, PlannedRequest, Planner, QuarantineReason, Quarantined, RecordKey,
    };
}

/// The service's time rules: what a [`TimePolicy`] accepts, and why it refuses a time.
pub mod time_policy {
    pub use metering_core::{Accepted, Clock, ManualClock, SystemClock, TimePolicy, TimeViolation};
}

#[cfg(feature = "submit")]
pub use metering_core::{SubmitConfig, Submitter, submit};

#[cfg(feature = "aws")]
pub use metering_core::{AwsTransport, aws_sdk};

/// A seller's meter from start to bill, here against the emulator with one manual clock
/// (features `sqlite`, `aws`, `derive`): record, commit, and once the hour has closed,
/// flush.
///
/// ```
/// # #[cfg(not(all(feature = "sqlite", feature = "aws", feature = "derive")))] fn main() {}
/// # #[cfg(all(feature = "sqlite", feature = "aws", feature = "derive"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use marketplace_metering::ledger::SqliteLedger;
/// use marketplace_metering::{
///     Customer, Dimension, ManualClock, Meter, MeterConfig, Quantity, SubmitConfig, Submitter,
///     Timestamp,
/// };
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
/// #[metering(rename_all = "snake_case")]
/// enum Usage { ApiCalls }
///
/// let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("usage.sqlite");
/// # let emulator = metering_emulator::Emulator::builder().clock(clock.clone()).start().await?;
/// # let transport = emulator.transport(); // in production: `AwsTransport::from_env().await`
/// let meter = Meter::builder()
///     .config(MeterConfig::new().with_clock(clock.clone()))
///     .ledger(SqliteLedger::open(&path)?)
///     .submitter(Submitter::with_config(transport, SubmitConfig::default().with_clock(clock.clone())))
///     .build()?;
/// let customer = Customer::Account {
///     product: "prod-example123".parse()?,
///     account: "123456789012".parse()?,
/// };
/// meter.record(&customer, Usage::ApiCalls, Quantity::new(2)?)?;
/// let calls = meter.usage(&customer, Usage::ApiCalls).handle()?; // for a hot path
/// calls.add(Quantity::new(1)?)?;
/// meter.commit().await?; // both are in the SQLite file now
///
/// clock.advance(Duration::from_mins(70)); // 11:15: 10:00's hour and its grace are over
/// let report = meter.flush().await?;
/// assert_eq!(report.sealed.sealed, 1); // one record per customer, dimension and hour
/// assert_eq!(report.outcomes.success, 1); // billed
/// # assert_eq!(emulator.ledger()[0].quantity, Quantity::new(3)?);
/// meter.close().await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "meter")]
pub use metering_core::Meter;
#[cfg(feature = "meter")]
pub use metering_core::{MeterBuilder, MeterConfig, MeterError, MeterStatus, ledger, meter};

/// The metrics' names and labels: see the README's "Operating it".
pub use metering_core::metrics;

#[cfg(feature = "conformance")]
pub use metering_core::ledger_conformance_tests;

#[doc(hidden)]
pub use metering_core::__private;
