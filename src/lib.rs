#![doc = include_str!("../README.md")]
//!
//! ## Features
//!
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Each item by name, so that these docs show what a seller uses and nothing internal.
// Names that say little alone (`Summary`, `Plan`, `Accepted`, `Handle`, ...) are reached
// through their module.

/// The derive macros: `Dimension`, `UsageTags` and `ToTagValue`, each named after the trait
/// it implements, as serde's are.
#[cfg(feature = "derive")]
pub use metering_derive::{Dimension, ToTagValue, UsageTags};

// What a record is made of, each value checked on the way in.
pub use metering_core::{
    Customer, CustomerAwsAccountId, CustomerFields, CustomerFieldsError, CustomerIdentifier,
    Dimension, DimensionKey, LicenseArn, ProductCode, Quantity, RecordBuilder, RequestScope, Tag,
    TagKey, TagValue, Tags, Timestamp, ToTagValue, UnknownDimension, UsageAllocation, UsageRecord,
    UsageTags, builder,
};
// The service's rules, and what breaking one says.
pub use metering_core::{
    ErrorCode, Failure, FailureKind, QUANTITY_DECIMAL, Rule, StringRule, ValidationError,
    Violation, limits,
};
// Time: the clock everything reads, and the service's window.
pub use metering_core::{Clock, ManualClock, SystemClock, TimePolicy, TimeViolation};
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

#[cfg(feature = "meter")]
pub use metering_core::{Meter, MeterBuilder, MeterConfig, MeterError, MeterStatus, ledger, meter};

#[cfg(feature = "conformance")]
pub use metering_core::ledger_conformance_tests;

#[doc(hidden)]
pub use metering_core::__private;
