//! Turning records into `BatchMeterUsage` requests: one product (or the licence mode) per
//! request, at most 25 records, a body under 1 MB, the most urgent records first, and never
//! two quantities for one de-duplication key.

use std::collections::BTreeMap;

use metering_rules::limits::{MAX_ALLOCATIONS, MAX_RECORDS_PER_REQUEST, MAX_REQUEST_BYTES};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::customer::{Customer, RequestScope};
use crate::failure::Failure;
use crate::quantity::Quantity;
use crate::record::{Tags, UsageAllocation, UsageRecord};
use crate::strings::DimensionKey;
use crate::time_policy::{Deadlines, TimePolicy, TimeViolation};
use crate::timestamp::Timestamp;
use crate::wire;

/// What the service de-duplicates on: the customer (with product or licence), the
/// dimension and the hour. The first quantity it receives for a key is the one it bills.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    /// Who.
    pub customer: Customer,
    /// What.
    pub dimension: DimensionKey,
    /// The start of the UTC hour.
    pub hour: Timestamp,
}

impl UsageRecord {
    /// The key the service de-duplicates this record on.
    #[must_use]
    pub fn key(&self) -> RecordKey {
        RecordKey {
            customer: self.customer().clone(),
            dimension: self.dimension().clone(),
            hour: self.timestamp().hour_start(),
        }
    }
}

/// Why a record was kept back instead of being sent. The record itself is never dropped:
/// it travels with its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum QuarantineReason {
    /// The service would no longer (or not yet) accept its timestamp.
    #[error(transparent)]
    Time(#[from] TimeViolation),
    /// Alone, it makes a request body of 1 MB or more.
    #[error(
        "a request holding only this record is {bytes} bytes; the service takes less than {MAX_REQUEST_BYTES}"
    )]
    TooLarge {
        /// The body's size.
        bytes: usize,
    },
    /// Records for the same key could not be merged into one.
    #[error("records for the same customer, dimension and hour cannot be merged: {0}")]
    Unmergeable(MergeError),
    /// The service rejected it (found by bisection when a whole request was rejected); the
    /// failure holds the service's code and message.
    #[error("rejected by the service: {0}")]
    Rejected(Failure),
    /// The service's window for it closes before a send started now could be settled (the
    /// flusher's lease), so it is kept back rather than risk a rejected request.
    #[error(
        "the service accepts this record only until {deadline}, before it could be sent (now {now}, lease {}s)",
        .lease.as_secs()
    )]
    WindowClosing {
        /// The first instant the service no longer accepts it.
        deadline: Timestamp,
        /// When it was checked.
        now: Timestamp,
        /// The time a send is given.
        lease: std::time::Duration,
    },
}

/// Why records of one key could not be merged into one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MergeError {
    /// Their quantities (or one allocation's) add up to more than [`Quantity::MAX`].
    #[error("their total exceeds the largest quantity, {max}", max = Quantity::MAX)]
    TotalTooLarge,
    /// Some have allocations and some do not.
    #[error("{with} of them have allocations and {without} do not")]
    MixedAllocations {
        /// How many have allocations.
        with: usize,
        /// How many do not.
        without: usize,
    },
    /// Together they have more distinct tag sets than a record takes allocations.
    #[error("together they have {count} allocations; a record takes at most {MAX_ALLOCATIONS}")]
    TooManyAllocations {
        /// Their distinct tag sets.
        count: usize,
    },
}

/// A record kept back, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The record, unchanged.
    pub record: UsageRecord,
    /// The positions of the input records it stands for (several when records of one key
    /// were merged), ascending.
    pub inputs: Vec<usize>,
    /// Why it was kept back.
    pub reason: QuarantineReason,
}

/// One request to send: records of one scope, each key once, within the service's limits.
/// Each record knows the input records it stands for ([`PlannedRequest::inputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    scope: RequestScope,
    records: Vec<UsageRecord>,
    /// Per record, the positions of the input records it stands for.
    inputs: Vec<Vec<usize>>,
    body_bytes: usize,
}

impl PlannedRequest {
    /// The product code the request carries, or the licence mode.
    #[must_use]
    pub fn scope(&self) -> &RequestScope {
        &self.scope
    }

    /// The records, at most 25, each key once.
    #[must_use]
    pub fn records(&self) -> &[UsageRecord] {
        &self.records
    }

    /// Per record, the positions (ascending) of the input records it stands for: one,
    /// or several when records of one key were merged.
    #[must_use]
    pub fn inputs(&self) -> &[Vec<usize>] {
        &self.inputs
    }

    /// The records, given back, each with its input positions.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Planner, Quantity, Timestamp, UsageRecord};
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let record = |dimension: &'static str, units| -> Result<UsageRecord, metering_core::ValidationError> {
    ///     Ok(UsageRecord::new(customer.clone(), DimensionKey::new(dimension)?, now, Quantity::new(units)?))
    /// };
    /// let records = [record("api_calls", 1)?, record("storage", 2)?, record("api_calls", 3)?];
    /// let request = Planner::default().plan(records, now).requests.remove(0);
    /// // The two `api_calls` records (inputs 0 and 2) were merged into one record of their sum.
    /// let records: Vec<_> = request.into_records().map(|(record, inputs)| (record.quantity(), inputs)).collect();
    /// assert!(records.contains(&(Quantity::new(4)?, vec![0, 2])), "{records:?}");
    /// assert!(records.contains(&(Quantity::new(2)?, vec![1])), "{records:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_records(self) -> impl Iterator<Item = (UsageRecord, Vec<usize>)> {
        self.records.into_iter().zip(self.inputs)
    }

    /// The size of [`body`](Self::body) in bytes: exact when every record has allocations
    /// (where the 1 MB limit binds), an upper bound otherwise.
    #[must_use]
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// A request of `records` as given, in their order: for records already planned, such
    /// as a ledger's claim. Nothing is merged, checked or reordered.
    #[cfg(feature = "submit")]
    pub(crate) fn as_given(scope: RequestScope, records: Vec<UsageRecord>) -> Self {
        Self {
            body_bytes: wire::request_bytes(&scope, &records),
            inputs: (0..records.len()).map(|index| vec![index]).collect(),
            scope,
            records,
        }
    }

    /// Splits the request in two halves (for bisection); `None` for a single record.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Planner, Quantity, Timestamp, UsageRecord};
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let record = |dimension: &'static str, units| -> Result<UsageRecord, metering_core::ValidationError> {
    ///     Ok(UsageRecord::new(customer.clone(), DimensionKey::new(dimension)?, now, Quantity::new(units)?))
    /// };
    /// let records = [record("api_calls", 1)?, record("storage", 2)?, record("api_calls", 3)?];
    /// let request = Planner::default().plan(records, now).requests.remove(0);
    /// let (first, second) = request.split().expect("two records");
    /// assert_eq!((first.records().len(), second.records().len()), (1, 1));
    /// assert_eq!(first.scope(), request.scope());
    /// assert!(first.split().is_none()); // one record: nothing to split
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn split(&self) -> Option<(Self, Self)> {
        if self.records.len() < 2 {
            return None;
        }
        let middle = self.records.len() / 2;
        let half = |records: &[UsageRecord], inputs: &[Vec<usize>]| Self {
            scope: self.scope.clone(),
            body_bytes: wire::request_bytes(&self.scope, records),
            records: records.to_vec(),
            inputs: inputs.to_vec(),
        };
        Some((
            half(&self.records[..middle], &self.inputs[..middle]),
            half(&self.records[middle..], &self.inputs[middle..]),
        ))
    }

    /// Takes out the records `take` (given each record's index) says something about: they
    /// come back apart, each with what it said, and the request keeps the rest (`None` when
    /// none is left). `take` is asked once per record; no record is copied.
    #[cfg(feature = "submit")]
    pub(crate) fn partition<R>(
        mut self,
        take: impl FnMut((usize, &UsageRecord)) -> Option<R>,
    ) -> (Taken<R>, Option<Self>) {
        let mut said: Vec<Option<R>> = self.records.iter().enumerate().map(take).collect();
        let taking = said.iter().filter(|said| said.is_some()).count();
        if taking == 0 {
            return (Vec::new(), Some(self));
        }
        let mut taken = Vec::with_capacity(taking);
        let mut kept = Vec::with_capacity(self.records.len() - taking);
        let mut kept_inputs = Vec::with_capacity(self.records.len() - taking);
        let records = std::mem::take(&mut self.records);
        let inputs = std::mem::take(&mut self.inputs);
        for ((record, inputs), said) in records.into_iter().zip(inputs).zip(said.drain(..)) {
            if let Some(said) = said {
                taken.push((record, inputs, said));
            } else {
                kept.push(record);
                kept_inputs.push(inputs);
            }
        }
        if kept.is_empty() {
            return (taken, None);
        }
        self.body_bytes = wire::request_bytes(&self.scope, &kept);
        self.records = kept;
        self.inputs = kept_inputs;
        (taken, Some(self))
    }

    /// Splits the request in two: the records for which `left` is true, then the others,
    /// each side in the request's order. Gives the request back when one side would be
    /// empty.
    #[cfg(feature = "submit")]
    pub(crate) fn split_by(
        self,
        mut left: impl FnMut(&UsageRecord) -> bool,
    ) -> Result<(Self, Self), Self> {
        let scope = self.scope.clone();
        let (taken, rest) = self.partition(|(_, record)| left(record).then_some(()));
        let (records, inputs): (Vec<_>, Vec<_>) = taken
            .into_iter()
            .map(|(record, inputs, ())| (record, inputs))
            .unzip();
        let body_bytes = wire::request_bytes(&scope, &records);
        let taken = Self {
            scope,
            records,
            inputs,
            body_bytes,
        };
        match rest {
            Some(rest) if !taken.records.is_empty() => Ok((taken, rest)),
            Some(rest) => Err(rest),
            None => Err(taken),
        }
    }

    /// The request body as JSON, exactly as sent.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Planner, Quantity, Timestamp, UsageRecord};
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let record = |dimension: &'static str, units| -> Result<UsageRecord, metering_core::ValidationError> {
    ///     Ok(UsageRecord::new(customer.clone(), DimensionKey::new(dimension)?, now, Quantity::new(units)?))
    /// };
    /// let records = [record("api_calls", 1)?, record("storage", 2)?, record("api_calls", 3)?];
    /// let request = Planner::default().plan(records, now).requests.remove(0);
    /// let body: serde_json::Value = serde_json::from_str(&request.body())?;
    /// assert_eq!(body["ProductCode"], "prod-example123");
    /// assert_eq!(body["UsageRecords"].as_array().map(Vec::len), Some(2));
    /// assert!(request.body().len() <= request.body_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn body(&self) -> String {
        wire::request_body(&self.scope, &self.records)
    }
}

/// Records taken out of a request, each with its input positions and what was said of it.
#[cfg(feature = "submit")]
pub(crate) type Taken<R> = Vec<(UsageRecord, Vec<usize>, R)>;

/// The result of planning: requests to send and records kept back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Requests in the order to send them, most urgent first.
    pub requests: Vec<PlannedRequest>,
    /// Records that cannot be sent, with their reasons.
    pub quarantined: Vec<Quarantined>,
}

impl Plan {
    /// How many records its requests carry (records of one key count once: they were
    /// merged); [`quarantined`](Self::quarantined) holds the others.
    #[must_use]
    pub fn records_to_send(&self) -> usize {
        self.requests
            .iter()
            .map(|request| request.records.len())
            .sum()
    }

    /// The plan cut into plans of at most `requests` requests each (at least one), in
    /// order, the records kept back going with the first. Sent one after the other they
    /// send what the whole plan would, and a caller can record each batch's outcomes
    /// before the next goes out.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Planner, Quantity, TimePolicy, Timestamp, UsageRecord};
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let record = |account: usize| -> Result<UsageRecord, Box<dyn std::error::Error>> {
    ///     let customer = Customer::Account {
    ///         product: "prod-example123".parse()?,
    ///         account: format!("{:012}", 100_000_000_000 + account).parse()?,
    ///     };
    ///     Ok(UsageRecord::new(customer, DimensionKey::new("api_calls")?, now, Quantity::new(1)?))
    /// };
    /// // 60 keys, and one more record of the first key (merged into it), and one from last year.
    /// let mut records = (0..60).map(record).collect::<Result<Vec<_>, _>>()?;
    /// records.push(record(0)?);
    /// records.push(UsageRecord::new(records[1].customer().clone(), DimensionKey::new("api_calls")?,
    ///     Timestamp::parse_rfc3339("2025-05-12T10:00:00Z")?, Quantity::new(1)?));
    /// let plan = Planner::new(TimePolicy::new()).plan(records, now);
    /// assert_eq!(plan.records_to_send(), 60); // 25 + 25 + 10
    /// assert_eq!(plan.quarantined.len(), 1); // too old
    /// let batches: Vec<_> = plan.into_batches(2).collect();
    /// assert_eq!(batches.iter().map(|batch| batch.requests.len()).collect::<Vec<_>>(), [2, 1]);
    /// assert_eq!(batches[0].quarantined.len(), 1); // kept back records go with the first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_batches(self, requests: usize) -> impl Iterator<Item = Plan> {
        let size = requests.max(1);
        let mut quarantined = Some(self.quarantined);
        let mut requests = self.requests.into_iter();
        std::iter::from_fn(move || {
            let batch = Plan {
                requests: requests.by_ref().take(size).collect(),
                quarantined: quarantined.take().unwrap_or_default(),
            };
            (batch != Plan::default()).then_some(batch)
        })
    }
}

/// Plans requests from records.
#[derive(Debug, Clone, Copy)]
pub struct Planner {
    policy: TimePolicy,
    max_records: usize,
    max_bytes: usize,
}

impl Default for Planner {
    fn default() -> Self {
        Self::new(TimePolicy::new())
    }
}

impl Planner {
    /// A planner applying `policy`, with the service's limits.
    #[must_use]
    pub const fn new(policy: TimePolicy) -> Self {
        Self {
            policy,
            max_records: MAX_RECORDS_PER_REQUEST,
            max_bytes: MAX_REQUEST_BYTES,
        }
    }

    /// Lowers the records per request (1..=25); for tests and cautious callers.
    ///
    /// ```
    /// use metering_core::{Customer, DimensionKey, Planner, Quantity, TimePolicy, Timestamp, UsageRecord};
    ///
    /// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// let records = ["a", "b", "c", "d", "e"].map(|dimension| {
    ///     UsageRecord::new(customer.clone(), DimensionKey::new(dimension).expect("a key"), now, Quantity::ZERO)
    /// });
    /// let planner = Planner::new(TimePolicy::new()).with_max_records(2);
    /// assert_eq!(planner.plan(records, now).requests.len(), 3); // 2 + 2 + 1
    /// assert_eq!(planner.policy(), &TimePolicy::new());
    /// // Out of 1..=25, the nearest bound.
    /// let unbounded = Planner::new(TimePolicy::new()).with_max_records(1_000);
    /// assert_eq!(unbounded.plan(Vec::new(), now).requests.len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn with_max_records(mut self, max_records: usize) -> Self {
        self.max_records = if max_records == 0 {
            1
        } else if max_records > MAX_RECORDS_PER_REQUEST {
            MAX_RECORDS_PER_REQUEST
        } else {
            max_records
        };
        self
    }

    /// The time policy applied.
    #[must_use]
    pub const fn policy(&self) -> &TimePolicy {
        &self.policy
    }

    /// Plans `records` as of `now`: merges records of the same key, keeps back what cannot
    /// be sent, and packs the rest, the records closest to their deadline first.
    #[must_use]
    pub fn plan(&self, records: impl IntoIterator<Item = UsageRecord>, now: Timestamp) -> Plan {
        let mut plan = Plan::default();
        let accepted = self.policy.accepted_at(now);
        let mut deadlines = Deadlines::new(&self.policy);
        // Records by scope: a submission has few scopes, so a short list beats a map.
        let mut by_scope: Vec<(RequestScope, Vec<Entry>)> = Vec::new();
        for merged in merge(records.into_iter().collect()) {
            let (record, inputs) = match merged {
                Ok(merged) => merged,
                Err(quarantined) => {
                    plan.quarantined.extend(quarantined);
                    continue;
                }
            };
            if !accepted.contains(record.timestamp())
                && let Err(violation) = self.policy.check(record.timestamp(), now)
            {
                plan.quarantined.push(Quarantined {
                    record,
                    inputs,
                    reason: violation.into(),
                });
                continue;
            }
            let deadline = deadlines.of(record.timestamp());
            let product = record.customer().product();
            let scope = by_scope.iter().position(|(scope, _)| match scope {
                RequestScope::Product(code) => product == Some(code),
                RequestScope::Licensed => product.is_none(),
            });
            match scope {
                Some(index) => by_scope[index].1.push((deadline, record, inputs)),
                None => {
                    by_scope.push((record.customer().scope(), vec![(deadline, record, inputs)]));
                }
            }
        }
        for (scope, mut records) in by_scope {
            if !records.is_sorted_by_key(|(deadline, ..)| *deadline) {
                records.sort_by_key(|(deadline, ..)| *deadline);
            }
            self.pack(&scope, records, &mut plan);
        }
        // Each request's records are in deadline order: its first is its most urgent.
        plan.requests
            .sort_by_cached_key(|request| deadlines.of(request.records[0].timestamp()));
        plan
    }

    fn pack(&self, scope: &RequestScope, records: Vec<Entry>, plan: &mut Plan) {
        let envelope = wire::envelope_bytes(scope);
        let mut current: Vec<UsageRecord> = Vec::new();
        let mut current_inputs: Vec<Vec<usize>> = Vec::new();
        let mut bytes = envelope;
        for (_, record, inputs) in records {
            let record_bytes = wire::entry_bytes(&record);
            if envelope + record_bytes >= self.max_bytes {
                plan.quarantined.push(Quarantined {
                    record,
                    inputs,
                    reason: QuarantineReason::TooLarge {
                        bytes: envelope + record_bytes,
                    },
                });
                continue;
            }
            if current.len() == self.max_records || bytes + record_bytes >= self.max_bytes {
                plan.requests.push(PlannedRequest {
                    scope: scope.clone(),
                    records: std::mem::take(&mut current),
                    inputs: std::mem::take(&mut current_inputs),
                    body_bytes: bytes,
                });
                bytes = envelope;
            }
            bytes += record_bytes;
            current.push(record);
            current_inputs.push(inputs);
        }
        if !current.is_empty() {
            plan.requests.push(PlannedRequest {
                scope: scope.clone(),
                records: current,
                inputs: current_inputs,
                body_bytes: bytes,
            });
        }
    }
}

/// A record to pack: its deadline, the record, and the input positions it stands for.
type Entry = (Timestamp, UsageRecord, Vec<usize>);

/// A record to plan and the input positions it stands for, or the records of one key that
/// could not be merged.
type Merged = Result<(UsageRecord, Vec<usize>), Vec<Quarantined>>;

/// Merges records of the same key into one: quantities add up, allocations with the same
/// tags add up, and the merged record keeps the latest timestamp of the hour (the one the
/// service will accept longest). Records that cannot merge are quarantined together.
///
/// Keys are borrowed from the records, not built (this runs on every submission), and
/// records come back in their order, merged ones where the key first appeared, each with
/// the positions of the input records it stands for.
fn merge(records: Vec<UsageRecord>) -> Vec<Merged> {
    // For each record, the index of the first record with its key.
    let first_of: Vec<usize> = {
        let mut first: FxHashMap<(&Customer, &DimensionKey, Timestamp), usize> =
            FxHashMap::with_capacity_and_hasher(records.len(), rustc_hash::FxBuildHasher);
        records
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let key = (r.customer(), r.dimension(), r.timestamp().hour_start());
                *first.entry(key).or_insert(index)
            })
            .collect()
    };
    if first_of
        .iter()
        .enumerate()
        .all(|(index, first)| index == *first)
    {
        return records
            .into_iter()
            .enumerate()
            .map(|(index, record)| Ok((record, vec![index])))
            .collect();
    }
    let mut groups: Vec<(Vec<UsageRecord>, Vec<usize>)> = std::iter::repeat_with(Default::default)
        .take(records.len())
        .collect();
    for (index, (record, first)) in records.into_iter().zip(first_of).enumerate() {
        groups[first].0.push(record);
        groups[first].1.push(index);
    }
    groups
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .map(
            |(group, inputs)| match <[UsageRecord; 1]>::try_from(group) {
                Ok([single]) => Ok((single, inputs)),
                Err(group) => match merge_group(&group) {
                    Ok(merged) => Ok((merged, inputs)),
                    Err(reason) => Err(group
                        .into_iter()
                        .zip(inputs)
                        .map(|(record, input)| Quarantined {
                            record,
                            inputs: vec![input],
                            reason: QuarantineReason::Unmergeable(reason),
                        })
                        .collect()),
                },
            },
        )
        .collect()
}

fn merge_group(group: &[UsageRecord]) -> Result<UsageRecord, MergeError> {
    let first = &group[0];
    let latest = group
        .iter()
        .map(UsageRecord::timestamp)
        .max()
        .unwrap_or(first.timestamp());
    let allocated = group.iter().filter(|r| r.allocations().is_some()).count();
    if allocated == 0 {
        let total = Quantity::checked_sum(group.iter().map(UsageRecord::quantity))
            .ok_or(MergeError::TotalTooLarge)?;
        return Ok(UsageRecord::new(
            first.customer().clone(),
            first.dimension().clone(),
            latest,
            total,
        ));
    }
    if allocated < group.len() {
        return Err(MergeError::MixedAllocations {
            with: allocated,
            without: group.len() - allocated,
        });
    }
    let mut by_tags: BTreeMap<Option<Tags>, Quantity> = BTreeMap::new();
    for allocation in group
        .iter()
        .flat_map(|r| r.allocations().unwrap_or_default())
    {
        let tags = allocation.tags.as_ref().map(Tags::normalized);
        let sum = by_tags.entry(tags).or_default();
        *sum = sum
            .checked_add(allocation.quantity)
            .ok_or(MergeError::TotalTooLarge)?;
    }
    if by_tags.len() > MAX_ALLOCATIONS {
        return Err(MergeError::TooManyAllocations {
            count: by_tags.len(),
        });
    }
    let allocations = by_tags
        .into_iter()
        .map(|(tags, quantity)| UsageAllocation { quantity, tags })
        .collect();
    // The count is within 1..=2500 (checked above), so only the total can be refused.
    UsageRecord::with_allocations(
        first.customer().clone(),
        first.dimension().clone(),
        latest,
        allocations,
    )
    .map_err(|_| MergeError::TotalTooLarge)
}

#[cfg(all(test, feature = "submit"))]
mod tests {
    use super::*;
    use crate::{CustomerAwsAccountId, DimensionKey, ProductCode, Quantity, Timestamp};

    /// A split never makes an empty request (the service refuses one, and it would count
    /// against the account's quota): with nothing, or everything, on one side, the request
    /// comes back whole.
    #[test]
    fn a_split_by_a_predicate_never_makes_an_empty_request() {
        let now = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
        let records = (0..3).map(|n| {
            let customer = Customer::Account {
                product: ProductCode::new("prod-a").unwrap(),
                account: CustomerAwsAccountId::new(format!("{n:012}")).unwrap(),
            };
            let dimension = DimensionKey::new("api").unwrap();
            UsageRecord::new(customer, dimension, now, Quantity::from(1_u16))
        });
        let request = || {
            Planner::default()
                .plan(records.clone(), now)
                .requests
                .remove(0)
        };
        let first = request().records()[0].clone();
        for left in [|_: &UsageRecord| false, |_: &UsageRecord| true] {
            let whole = request().split_by(left).unwrap_err();
            assert_eq!(whole, request());
        }
        let (left, right) = request().split_by(|record| *record == first).unwrap();
        assert_eq!(
            (left.records(), right.records().len()),
            ([first].as_slice(), 2)
        );
    }
}
