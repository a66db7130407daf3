//! What a rejection proves. Some of the service's codes blame one field of a record (its
//! dimension, its customer, its tags); when every record of a rejected request has the same
//! value there, that value is proven bad, and every other record of the submission that
//! has it would sink its request too. Those are kept back with the same reason, unsent, so
//! one misspelled dimension over many records costs a few requests, not a bisection of each.
//!
//! Only codes that name a property of the value itself are generalized: a timestamp, an
//! allocation sum or a generic `ValidationException` are the record's own affair.

use std::collections::BTreeMap;

use crate::customer::Customer;
use crate::failure::{ErrorCode, Failure};
use crate::plan::PlannedRequest;
use crate::record::{Tags, UsageRecord};
use crate::strings::{DimensionKey, LicenseArn, ProductCode};

/// The value a rejection code blames, as one record has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Suspect {
    /// `InvalidUsageDimension`: the dimension, for the product (a licence stands for its
    /// product, which the record does not name).
    Dimension {
        owner: Owner,
        dimension: DimensionKey,
    },
    /// `InvalidCustomerIdentifier`, `InvalidLicense`: the customer, with its product or
    /// licence.
    Customer(Customer),
    /// `InvalidTag`: the record's tag sets, all of them, for the product (the code does not
    /// say which tag; another record with the same tag sets carries the same culprit).
    Tags { owner: Owner, tag_sets: Vec<Tags> },
}

/// What a dimension or a tag is judged against: the product, or the licence standing for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Owner {
    Product(ProductCode),
    License(LicenseArn),
}

impl Owner {
    fn of(customer: &Customer) -> Self {
        match customer {
            Customer::Legacy { product, .. } | Customer::Account { product, .. } => {
                Self::Product(product.clone())
            }
            Customer::Licensed { license, .. } => Self::License(license.clone()),
        }
    }
}

impl Suspect {
    /// What `code` blames in `record`; `None` for a code that blames nothing beyond the
    /// record (or a tag code on a record without tags).
    pub(super) fn of(code: Option<&ErrorCode>, record: &UsageRecord) -> Option<Self> {
        Some(match code? {
            ErrorCode::InvalidUsageDimension => Self::Dimension {
                owner: Owner::of(record.customer()),
                dimension: record.dimension().clone(),
            },
            ErrorCode::InvalidCustomerIdentifier | ErrorCode::InvalidLicense => {
                Self::Customer(record.customer().clone())
            }
            ErrorCode::InvalidTag => {
                let mut tag_sets: Vec<Tags> = record
                    .allocations()?
                    .iter()
                    .filter_map(|allocation| allocation.tags.as_ref().map(Tags::normalized))
                    .collect();
                if tag_sets.is_empty() {
                    return None;
                }
                tag_sets.sort_unstable();
                tag_sets.dedup();
                Self::Tags {
                    owner: Owner::of(record.customer()),
                    tag_sets,
                }
            }
            _ => return None,
        })
    }

    /// The field, for messages: "dimension", "customer", "tags".
    pub(super) fn field(&self) -> &'static str {
        match self {
            Self::Dimension { .. } => "dimension",
            Self::Customer(_) => "customer",
            Self::Tags { .. } => "tags",
        }
    }
}

/// A value the service proved bad, and how.
#[derive(Debug, Clone)]
pub(super) struct Proven {
    pub(super) suspect: Suspect,
    /// The service's answer as it came (its places are the proving request's).
    failure: Failure,
    /// The caller's records whose rejection proved it.
    proof: Vec<usize>,
}

impl Proven {
    pub(super) fn new(suspect: Suspect, failure: Failure, proof: Vec<usize>) -> Self {
        Self {
            suspect,
            failure,
            proof,
        }
    }

    /// Whether `record` has the proven value.
    pub(super) fn holds_for(&self, record: &UsageRecord) -> bool {
        let code = self.failure.code();
        match &self.suspect {
            Suspect::Customer(customer) => customer == record.customer(),
            suspect => Suspect::of(code, record).as_ref() == Some(suspect),
        }
    }

    /// Why a record with the proven value, the caller's records `inputs`, is kept back.
    pub(super) fn reason_for(&self, inputs: &[usize]) -> Failure {
        self.failure
            .clone()
            .about_input(inputs)
            .proven_by(&self.proof, self.suspect.field())
    }
}

/// What to do with a request the service rejected as a whole.
#[derive(Debug)]
pub(super) enum Bisection {
    /// Every record has the value the code blames: it is proven bad, and so are they.
    Proven(Suspect, PlannedRequest),
    /// One record, and the code blames nothing beyond it.
    Alone(PlannedRequest),
    /// Two halves to send apart; records that share a blamed value stay together, so a
    /// half holding one value proves it at once.
    Halves(PlannedRequest, PlannedRequest),
}

/// Splits a request rejected with `code`.
pub(super) fn bisect(request: PlannedRequest, code: Option<&ErrorCode>) -> Bisection {
    let suspects: Option<Vec<Suspect>> = request
        .records()
        .iter()
        .map(|record| Suspect::of(code, record))
        .collect();
    let Some(suspects) = suspects else {
        return match request.split() {
            Some((left, right)) => Bisection::Halves(left, right),
            None => Bisection::Alone(request),
        };
    };
    let mut counts: BTreeMap<&Suspect, usize> = BTreeMap::new();
    for suspect in &suspects {
        *counts.entry(suspect).or_default() += 1;
    }
    if counts.len() == 1 {
        let suspect = suspects.into_iter().next().expect("a request has a record");
        return Bisection::Proven(suspect, request);
    }
    // The fewest values that hold half the records go left (at least one, never all).
    let half = suspects.len() / 2;
    let mut held = 0;
    let left: Vec<&Suspect> = counts
        .iter()
        .take(counts.len() - 1)
        .take_while(|(_, count)| {
            let before = held;
            held += **count;
            before < half
        })
        .map(|(suspect, _)| *suspect)
        .collect();
    match request.split_by(|record| {
        Suspect::of(code, record).is_some_and(|suspect| left.contains(&&suspect))
    }) {
        Ok((left, right)) => Bisection::Halves(left, right),
        Err(request) => Bisection::Alone(request),
    }
}
