//! The runtime of `marketplace-metering`: validated AWS Marketplace usage records and the service's
//! rules.
//!
//! Every value type here is checked on the way in (constructors and deserialization return
//! a [`ValidationError`] naming the field, the rule and the value), so a [`UsageRecord`]
//! is always one the service's field rules accept. Time rules, which depend on when a
//! record is sent, live in [`TimePolicy`].
//!
//! # Tracing
//! Every span and event has a target under `metering`, by part: `metering::submit` (a
//! span per submission and per request; a summary at info when a submission ends, each
//! bisection, retry, quarantined record, value proven bad and stop), `metering::meter` (the
//! Meter's commits) and `metering::ledger` (flushes, usage set aside). `metering=info`
//! selects them all. The `marketplace-metering` crate's README, "Running in production", lists their
//! fields.
//!
//! # Features
//!
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "submit")]
#[macro_use]
mod settings;

pub mod builder;
mod catalog_check;
mod customer;
mod dimension;
mod error;
mod failure;
mod hour;
pub mod kind;
#[cfg(feature = "meter")]
pub mod ledger;
#[cfg(feature = "meter")]
pub mod meter;
pub mod metrics;
mod outcome;
mod plan;
mod quantity;
mod record;
mod strings;
#[cfg(feature = "submit")]
pub mod submit;
mod tags;
mod time_policy;
mod timestamp;
mod wire;

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
mod aws_transport;

pub use builder::RecordBuilder;
pub use customer::{Customer, CustomerFields, CustomerFieldsError, RequestScope};
pub use dimension::{Dimension, UnknownDimension};
pub use error::{Rule, ValidationError};
pub use failure::{ErrorCode, Failure, FailureKind};
pub use hour::Hour;
pub use metering_rules::{QUANTITY_DECIMAL, StringRule, Violation, limits};
pub use outcome::{Outcome, RecordOutcome, Report, Summary, Table};
pub use plan::{
    MergeError, Plan, PlannedRequest, Planner, QuarantineReason, Quarantined, RecordKey,
};
pub use quantity::Quantity;
pub use record::{Tag, Tags, UsageAllocation, UsageRecord};
pub use strings::{
    CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode, TagKey,
    TagValue,
};
pub use tags::{ToTagValue, UsageTags};
pub use time_policy::{Accepted, Clock, ManualClock, SystemClock, TimePolicy, TimeViolation};
pub use timestamp::Timestamp;
pub use wire::{EntryError, RequestRecords, Strictness};

#[doc(hidden)]
pub use tags::__private;

#[cfg(feature = "aws")]
pub use aws_transport::AwsTransport;
#[cfg(feature = "meter")]
pub use meter::{Handle, Meter, MeterBuilder, MeterConfig, MeterError, MeterStatus, Recording};
/// What sends records, and how, beside its AWS transport: `use marketplace_metering::{AwsTransport,
/// SubmitConfig, Submitter}`. The [`submit`] module holds the rest (the [`Transport`]
/// trait for a transport of your own, [`RateLimit`](submit::RateLimit)).
///
/// [`Transport`]: submit::Transport
#[cfg(feature = "submit")]
pub use submit::{SubmitConfig, Submitter};

/// The AWS SDK crate this library converts into and submits through.
#[cfg(feature = "aws")]
pub use aws_sdk_marketplacemetering as aws_sdk;
