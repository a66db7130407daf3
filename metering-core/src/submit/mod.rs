//! Sending planned requests: a client-side rate limit, bounded concurrency, retries with
//! backoff and jitter, bisection of rejected requests (a dimension, customer or tag set the
//! service proves bad keeps every other record of the submission with it back, unsent),
//! and an outcome for every record.
//!
//! The transport is a trait, so the same loop drives the AWS SDK (feature `aws`) and
//! anything a test or a user plugs in.

mod config;
mod proof;
mod rate;

pub use config::SubmitConfig;
pub use rate::RateLimit;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{Instrument, error, field, info, info_span, warn};

use crate::customer::RequestScope;
pub use crate::failure::{ErrorCode, Failure, FailureKind};
use crate::outcome::{Outcome, RecordOutcome, Report};
use crate::plan::{Plan, PlannedRequest, QuarantineReason, Quarantined};
use crate::record::UsageRecord;
use proof::{Bisection, Proven};

/// What the service said about one record of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// Billed, with the metering record ID.
    Success(String),
    /// The customer is not subscribed.
    CustomerNotSubscribed,
    /// Another quantity was already billed for the key.
    DuplicateRecord,
}

/// The one reading of the service's answer: what a [`Report`] says of the record, and so
/// what the Meter's ledger stores of it.
impl From<RecordStatus> for Outcome {
    fn from(status: RecordStatus) -> Self {
        match status {
            RecordStatus::Success(metering_record_id) => Self::Success { metering_record_id },
            RecordStatus::CustomerNotSubscribed => Self::CustomerNotSubscribed,
            RecordStatus::DuplicateRecord => Self::DuplicateRecord,
        }
    }
}

/// The answer to a request that the service processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Per record, by its index in the request.
    pub results: Vec<(usize, RecordStatus)>,
    /// Records the service did not process (safe to resend), by index.
    pub unprocessed: Vec<usize>,
}

/// Every record's outcome from [`Submitter::send_keyed`], by the key the caller gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyedReport<K> {
    /// One entry per record, in the order given (two records of one key are two entries).
    pub outcomes: Vec<(K, Outcome)>,
    /// As [`Report::stopped`].
    pub stopped: Option<Failure>,
}

/// Sends one planned request and reports what the service answered.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` once (no retries: the submitter owns them).
    fn send(
        &self,
        request: &PlannedRequest,
    ) -> impl Future<Output = Result<Response, Failure>> + Send;

    /// The quota this transport's requests count against (for AWS, the account's in one
    /// region): submitters whose transports give the same key share one [`RateLimit`] by
    /// default. `None` (the default) gives each submitter a budget of its own.
    fn quota_key(&self) -> Option<String> {
        None
    }
}

impl<T: Transport> Transport for Arc<T> {
    fn send(
        &self,
        request: &PlannedRequest,
    ) -> impl Future<Output = Result<Response, Failure>> + Send {
        (**self).send(request)
    }

    fn quota_key(&self) -> Option<String> {
        (**self).quota_key()
    }
}

/// Sends records through a [`Transport`] and accounts for every one of them.
///
/// Share one submitter (it is cheap to clone) or at least one [`RateLimit`] per account
/// and region: the service's 10 requests a second are the account's, and submitters whose
/// transports name the same quota ([`Transport::quota_key`]) share one budget by default.
///
/// Feature `submit` (implied by `aws`, `meter`).
///
/// Through `AwsTransport` (feature `aws`) in production; here through a transport
/// of one's own, which bills every record it is given:
///
/// ```
/// use metering_core::submit::{RecordStatus, Response, Transport};
/// use metering_core::{
///     Customer, DimensionKey, ManualClock, Outcome, PlannedRequest, Quantity, SubmitConfig,
///     Submitter, Timestamp, UsageRecord,
/// };
///
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
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?;
/// let submitter = Submitter::with_config(
///     BillEverything,
///     SubmitConfig::default().with_clock(ManualClock::new(now)), // `Submitter::new`: the system's
/// );
/// # let customer = Customer::Account {
/// #     product: "prod-example123".parse()?,
/// #     account: "123456789012".parse()?,
/// # };
/// let record = |dimension: &'static str| -> Result<UsageRecord, metering_core::ValidationError> {
///     Ok(UsageRecord::new(customer.clone(), DimensionKey::new(dimension)?, now, Quantity::new(1)?))
/// };
/// let report = submitter.submit([record("api_calls")?, record("storage")?]).await;
/// assert_eq!(report.summary().success, 2);
/// assert!(matches!(report.outcomes[0].outcome, Outcome::Success { .. }));
/// assert!(report.stopped.is_none());
/// # Ok(())
/// # }
/// ```
pub struct Submitter<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    transport: T,
    config: SubmitConfig,
    /// Shared by every submission, and by default with every submitter of the same quota.
    limiter: RateLimit,
}

impl<T> Clone for Submitter<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> std::fmt::Debug for Submitter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport may hold credentials: it is never printed.
        f.debug_struct("Submitter")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Submitter<T> {
    /// A submitter with the default configuration.
    pub fn new(transport: T) -> Self {
        Self::with_config(transport, SubmitConfig::default())
    }

    /// A submitter with `config`.
    pub fn with_config(transport: T, config: SubmitConfig) -> Self {
        let limiter = match (config.rate_limit(), transport.quota_key()) {
            (Some(limit), _) => limit.clone(),
            (None, Some(key)) => RateLimit::shared(&key, config.requests_per_second()),
            (None, None) => RateLimit::new(config.requests_per_second()),
        };
        Self {
            shared: Arc::new(Shared {
                transport,
                config,
                limiter,
            }),
        }
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &T {
        &self.shared.transport
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SubmitConfig {
        &self.shared.config
    }

    /// The budget of request starts this submitter draws on.
    #[must_use]
    pub fn rate_limit(&self) -> &RateLimit {
        &self.shared.limiter
    }

    /// Plans `records` as [`submit`](Self::submit) would, now, without sending anything:
    /// inspect the plan, then [`send`](Self::send) it.
    #[must_use]
    pub fn plan(&self, records: impl IntoIterator<Item = UsageRecord>) -> Plan {
        let config = &self.shared.config;
        config.planner().plan(records, config.clock().now())
    }

    /// Plans and sends `records`; every record comes back with an outcome.
    pub async fn submit(&self, records: impl IntoIterator<Item = UsageRecord>) -> Report {
        self.send(self.plan(records)).await
    }

    /// Sends a plan (from [`plan`](Self::plan), or [`Planner::plan`](crate::Planner::plan)),
    /// and accounts for each of its records: its quarantined records come back as they are,
    /// and records whose time runs out before they are sent are quarantined then.
    pub async fn send(&self, plan: Plan) -> Report {
        let records: usize = plan
            .requests
            .iter()
            .flat_map(PlannedRequest::inputs)
            .chain(plan.quarantined.iter().map(|kept| &kept.inputs))
            .map(Vec::len)
            .sum();
        let span = info_span!(target: TARGET, "submit", records);
        let kept_back = plan
            .quarantined
            .into_iter()
            .map(
                |Quarantined {
                     record,
                     inputs,
                     reason,
                 }| quarantined(record, inputs, reason),
            )
            .collect();
        self.drive(plan.requests, kept_back, Submission::new(true))
            .instrument(span)
            .await
    }

    /// Sends `records` as one request of `scope`, exactly as given, and says what happened
    /// to each by the key it came with: for records a caller has already made a request of,
    /// as a [`Flusher`](crate::ledger::Flusher) sends a ledger's claim.
    ///
    /// The caller vouches for the request: one scope, at most 25 records, and each within
    /// the service's time window for as long as the send may take. Nothing is planned,
    /// merged, reordered or checked against the time policy again, and two records of one
    /// key are two records. The rate limit, the retries (of the whole request, and of the
    /// records the service leaves unprocessed) and the bisection of a rejected request
    /// apply as for [`send`](Self::send).
    ///
    /// ```
    /// use metering_core::submit::{RecordStatus, Response, Transport};
    /// use metering_core::{
    ///     Customer, DimensionKey, Outcome, PlannedRequest, Quantity, Submitter, Timestamp,
    ///     UsageRecord,
    /// };
    ///
    /// // Bills a request's first record; the service has the others' key billed already.
    /// struct BillTheFirst;
    /// impl Transport for BillTheFirst {
    ///     async fn send(&self, request: &PlannedRequest) -> Result<Response, metering_core::Failure> {
    ///         let results = (0..request.records().len())
    ///             .map(|i| match i {
    ///                 0 => (i, RecordStatus::Success("id-0".to_owned())),
    ///                 _ => (i, RecordStatus::DuplicateRecord),
    ///             })
    ///             .collect();
    ///         Ok(Response { results, unprocessed: Vec::new() })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let customer = Customer::Account {
    ///     product: "prod-example123".parse()?,
    ///     account: "123456789012".parse()?,
    /// };
    /// let at = Timestamp::parse_rfc3339("2026-05-12T10:00:00Z")?;
    /// let record = UsageRecord::new(customer.clone(), DimensionKey::new("api_calls")?, at, Quantity::new(5)?);
    /// // Keyed by the caller's own ids (a ledger's record ids, say). Two records of one key
    /// // are sent as two, not merged; their time is not checked again (the caller vouched
    /// // for it), so this submitter on the system's clock sends a May record as given.
    /// let submitter = Submitter::new(BillTheFirst);
    /// let report = submitter
    ///     .send_keyed(customer.scope(), [(17_u64, record.clone()), (18, record)])
    ///     .await;
    /// let billed = Outcome::Success { metering_record_id: "id-0".to_owned() };
    /// assert_eq!(report.outcomes, [(17, billed), (18, Outcome::DuplicateRecord)]);
    /// assert!(report.stopped.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_keyed<K>(
        &self,
        scope: RequestScope,
        records: impl IntoIterator<Item = (K, UsageRecord)>,
    ) -> KeyedReport<K> {
        let (keys, records): (Vec<K>, Vec<UsageRecord>) = records.into_iter().unzip();
        if records.is_empty() {
            return KeyedReport {
                outcomes: Vec::new(),
                stopped: None,
            };
        }
        let span = info_span!(target: TARGET, "submit", records = records.len());
        let request = PlannedRequest::as_given(scope, records);
        let report = self
            .drive(vec![request], Vec::new(), Submission::new(false))
            .instrument(span)
            .await;
        // Outcomes are in input order, one per record (every record is accounted for).
        debug_assert!(
            report
                .outcomes
                .iter()
                .enumerate()
                .all(|(index, entry)| entry.inputs == [index])
        );
        KeyedReport {
            outcomes: keys
                .into_iter()
                .zip(report.outcomes.into_iter().map(|entry| entry.outcome))
                .collect(),
            stopped: report.stopped,
        }
    }

    /// Sends `requests` with the submission's workers; `outcomes` holds what was kept back
    /// before sending.
    async fn drive(
        &self,
        requests: Vec<PlannedRequest>,
        mut outcomes: Vec<RecordOutcome>,
        submission: Submission,
    ) -> Report {
        let shared = &self.shared;
        let submission = Arc::new(submission);
        // Workers pull requests from one queue, so a finished request is followed by the
        // next without a round trip through this task.
        let workers = shared.config.concurrency().clamp(1, requests.len().max(1));
        let planned: usize = requests.iter().map(|r| r.records().len()).sum();
        outcomes.reserve(planned);
        let queue = Arc::new(Mutex::new(requests.into_iter()));
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (shared, submission, queue) = (
                Arc::clone(shared),
                Arc::clone(&submission),
                Arc::clone(&queue),
            );
            tasks.spawn(
                async move {
                    let mut outcomes = Vec::with_capacity(planned / workers + 1);
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                        let Some(request) = next else { return outcomes };
                        shared.run(request, &submission, &mut outcomes).await;
                    }
                }
                .in_current_span(),
            );
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(done) => outcomes.extend(done),
                Err(panic) => std::panic::resume_unwind(panic.into_panic()),
            }
        }
        // Input order: a caller reading the report finds its records where it put them.
        outcomes.sort_unstable_by_key(|entry| entry.inputs.first().copied());
        let report = Report {
            outcomes,
            stopped: lock(&submission.stop).take(),
        };
        let summary = report.summary();
        info!(
            target: TARGET,
            requests = submission.requests.load(Ordering::Relaxed),
            success = summary.success,
            not_subscribed = summary.not_subscribed,
            duplicate = summary.duplicate,
            quarantined = summary.quarantined,
            pending = summary.pending,
            stopped = report.stopped.as_ref().map(field::display),
            "submission done: {summary}"
        );
        report
    }
}

/// The target of every event and span of the submitter (see the crate docs).
const TARGET: &str = "metering::submit";

/// One submission's state, seen by all its workers.
struct Submission {
    /// Whether records are checked against the time policy before each attempt (not when
    /// the caller vouched for their window: [`Submitter::send_keyed`]).
    check_time: bool,
    /// The error that stopped it.
    stop: Mutex<Option<Failure>>,
    /// Values the service proved bad: records that have one are kept back unsent.
    proven: Mutex<Vec<Proven>>,
    /// Held while a rejected request is taken apart: one bisection at a time spends
    /// requests, and what it proves spares the others theirs.
    bisecting: tokio::sync::Mutex<()>,
    /// Requests sent.
    requests: AtomicUsize,
}

impl Submission {
    fn new(check_time: bool) -> Self {
        Self {
            check_time,
            stop: Mutex::default(),
            proven: Mutex::default(),
            bisecting: tokio::sync::Mutex::default(),
            requests: AtomicUsize::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The product a request is for, for logs: its code, or `licensed` for licence-based
/// records (each names its licence).
fn product(scope: &RequestScope) -> &str {
    match scope {
        RequestScope::Product(code) => code.as_str(),
        RequestScope::Licensed => "licensed",
    }
}

/// A request's distinct dimensions, for logs: `api_calls,storage`.
struct Dimensions<'a>(&'a [UsageRecord]);

impl fmt::Display for Dimensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dimensions: BTreeSet<&str> = self.0.iter().map(|r| r.dimension().as_str()).collect();
        for (index, dimension) in dimensions.into_iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(dimension)?;
        }
        Ok(())
    }
}

/// A record kept back, said in the log.
fn quarantined(record: UsageRecord, inputs: Vec<usize>, reason: QuarantineReason) -> RecordOutcome {
    warn!(
        target: TARGET,
        product = product(&record.customer().scope()),
        dimension = record.dimension().as_str(),
        customer = %record.customer(),
        hour = %record.timestamp().hour_start(),
        ?inputs,
        %reason,
        "record quarantined"
    );
    RecordOutcome {
        inputs,
        record,
        outcome: Outcome::Quarantined(reason),
    }
}

fn pending(
    request: PlannedRequest,
    attempts: u32,
    last_error: &Failure,
) -> impl Iterator<Item = RecordOutcome> {
    request
        .into_records()
        .map(move |(record, inputs)| RecordOutcome {
            inputs,
            record,
            outcome: Outcome::Pending {
                attempts,
                last_error: last_error.clone(),
            },
        })
}

/// The work left for one planned request, and where its outcomes go.
struct Progress<'s, 'o> {
    /// Requests still to send (pieces after bisection or partial processing) and the
    /// attempts each has had.
    work: VecDeque<(PlannedRequest, u32)>,
    outcomes: &'o mut Vec<RecordOutcome>,
    submission: &'s Submission,
    /// Held from this request's first rejection until its pieces are settled.
    bisecting: Option<tokio::sync::MutexGuard<'s, ()>>,
}

impl Progress<'_, '_> {
    /// Keeps back the records of `request` that cannot be sent now: those the service
    /// would no longer accept (time passes while retrying) and those with a value the
    /// service proved bad. Gives back the rest, if any.
    fn withhold(
        &mut self,
        request: PlannedRequest,
        config: &SubmitConfig,
    ) -> Option<PlannedRequest> {
        let now = config.clock().now();
        let planner = config.planner();
        let policy = self.submission.check_time.then(|| planner.policy());
        let proven = lock(&self.submission.proven).clone();
        let (withheld, request) = request.partition(|(_, record)| {
            match proven.iter().find(|proven| proven.holds_for(record)) {
                Some(proven) => Some(Err(proven)),
                None => policy?.check(record.timestamp(), now).err().map(Ok),
            }
        });
        for (record, inputs, reason) in withheld {
            let reason = match reason {
                Ok(violation) => violation.into(),
                Err(proven) => QuarantineReason::Rejected(proven.reason_for(&inputs)),
            };
            self.outcomes.push(quarantined(record, inputs, reason));
        }
        request
    }

    /// Splits a rejected request in two for the work queue, or quarantines its records
    /// when it is one record or proves a value bad (then remembered for the submission).
    fn take_apart(&mut self, request: PlannedRequest, failure: &Failure) {
        let request = match proof::bisect(request, failure.code()) {
            Bisection::Halves(left, right) => {
                info!(
                    target: TARGET,
                    product = product(left.scope()),
                    dimension = %Dimensions(&[left.records(), right.records()].concat()),
                    records = left.records().len() + right.records().len(),
                    reason = %failure,
                    "request rejected; bisecting"
                );
                self.work.push_front((right, 0));
                self.work.push_front((left, 0));
                return;
            }
            Bisection::Alone(request) => request,
            Bisection::Proven(suspect, request) => {
                let mut proof: Vec<usize> = request.inputs().iter().flatten().copied().collect();
                proof.sort_unstable();
                warn!(
                    target: TARGET,
                    product = product(request.scope()),
                    dimension = %Dimensions(request.records()),
                    field = suspect.field(),
                    reason = %failure,
                    "the service proved a {} bad: every record of the submission with it is kept back",
                    suspect.field()
                );
                lock(&self.submission.proven).push(Proven::new(suspect, failure.clone(), proof));
                request
            }
        };
        for (record, inputs) in request.into_records() {
            let reason = QuarantineReason::Rejected(failure.clone().about_input(&inputs));
            self.outcomes.push(quarantined(record, inputs, reason));
        }
    }
}

impl<T: Transport> Shared<T> {
    /// Drives one planned request, and the pieces bisection or partial processing leave,
    /// to an outcome for each of its records.
    async fn run(
        &self,
        request: PlannedRequest,
        submission: &Submission,
        outcomes: &mut Vec<RecordOutcome>,
    ) {
        let mut progress = Progress {
            work: VecDeque::from([(request, 0)]),
            outcomes,
            submission,
            bisecting: None,
        };
        while let Some((request, attempt)) = progress.work.pop_front() {
            let stopped = lock(&submission.stop).clone();
            if let Some(stopped) = stopped {
                progress
                    .outcomes
                    .extend(pending(request, attempt, &stopped));
                continue;
            }
            let Some(request) = progress.withhold(request, &self.config) else {
                continue;
            };
            self.limiter.acquire().await;
            // What the wait for a slot let expire or another request prove stays back too.
            let Some(request) = progress.withhold(request, &self.config) else {
                continue;
            };
            let span = info_span!(
                target: TARGET,
                "batch_meter_usage",
                product = product(request.scope()),
                records = request.records().len(),
                attempt = attempt + 1,
            );
            self.attempt(request, attempt, &mut progress)
                .instrument(span)
                .await;
        }
    }

    /// Sends `request` once and handles the answer.
    async fn attempt(
        &self,
        request: PlannedRequest,
        attempt: u32,
        progress: &mut Progress<'_, '_>,
    ) {
        progress.submission.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let sent = self.transport.send(&request).await;
        let outcome = match &sent {
            Ok(_) => "ok",
            Err(failure) => match failure.kind() {
                FailureKind::RejectedRecords => "rejected",
                FailureKind::Stop => "stopped",
                _ => "failed",
            },
        };
        crate::metrics::request(request.records().len(), started.elapsed(), outcome);
        match sent {
            Ok(response) => self.settle(request, response, attempt, progress).await,
            Err(failure) => match failure.kind() {
                FailureKind::RejectedRecords => {
                    self.bisect(request, failure, progress).await;
                }
                FailureKind::Stop => {
                    error!(
                        target: TARGET,
                        product = product(request.scope()),
                        dimension = %Dimensions(request.records()),
                        reason = %failure,
                        "submission stopped; its records are left pending"
                    );
                    lock(&progress.submission.stop).get_or_insert_with(|| failure.clone());
                    progress
                        .outcomes
                        .extend(pending(request, attempt + 1, &failure));
                }
                // A kind this loop does not know yet is retried: resending is always safe.
                _ => {
                    self.retry_or_give_up(request, attempt, &failure, progress)
                        .await;
                }
            },
        }
    }

    /// Records what the service said of each record; the unprocessed ones, and any the
    /// answer did not mention, go again unchanged.
    async fn settle(
        &self,
        request: PlannedRequest,
        response: Response,
        attempt: u32,
        progress: &mut Progress<'_, '_>,
    ) {
        let mut statuses = vec![None; request.records().len()];
        for (index, status) in response.results {
            if let Some(slot) = statuses.get_mut(index) {
                slot.get_or_insert(status);
            }
        }
        let (settled, rest) = request.partition(|(index, _)| statuses[index].take());
        progress
            .outcomes
            .extend(
                settled
                    .into_iter()
                    .map(|(record, inputs, status)| RecordOutcome {
                        inputs,
                        record,
                        outcome: status.into(),
                    }),
            );
        if let Some(rest) = rest {
            let error = Failure::new(FailureKind::Retry, "unprocessed by the service");
            self.retry_or_give_up(rest, attempt, &error, progress).await;
        }
    }

    /// Takes apart a request the service rejected as a whole, one such request of the
    /// submission at a time: what the pieces prove bad (see [`proof`]) keeps the same
    /// value back everywhere else in the submission, unsent.
    async fn bisect(
        &self,
        request: PlannedRequest,
        failure: Failure,
        progress: &mut Progress<'_, '_>,
    ) {
        let request = if progress.bisecting.is_some() {
            request
        } else {
            progress.bisecting = Some(progress.submission.bisecting.lock().await);
            // While this waited, another bisection may have proven what sank this request.
            let before = request.records().len();
            let Some(request) = progress.withhold(request, &self.config) else {
                return;
            };
            if request.records().len() < before {
                progress.work.push_front((request, 0));
                return;
            }
            request
        };
        progress.take_apart(request, &failure);
    }

    /// Sends `request` again after a backoff, or leaves its records `Pending` once its
    /// attempts are spent. `attempt` counts the attempts before the one that failed.
    async fn retry_or_give_up(
        &self,
        request: PlannedRequest,
        attempt: u32,
        error: &Failure,
        progress: &mut Progress<'_, '_>,
    ) {
        // Counted from 1, as `Pending` counts them.
        let failed = attempt + 1;
        let (product, records) = (product(request.scope()), request.records().len());
        if failed >= self.config.max_attempts() {
            warn!(
                target: TARGET,
                product, records, attempt = failed, reason = %error,
                "request failed; out of attempts, its records are left pending"
            );
            progress.outcomes.extend(pending(request, failed, error));
            return;
        }
        let backoff = self.backoff(attempt);
        warn!(
            target: TARGET,
            product, records, attempt = failed, reason = %error, ?backoff,
            "request failed; retrying"
        );
        tokio::time::sleep(backoff).await;
        progress.work.push_front((request, failed));
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .config
            .initial_backoff()
            .saturating_mul(1 << attempt.min(20))
            .min(self.config.max_backoff());
        ceiling.mul_f64(fastrand::f64())
    }
}
