//! Sending planned requests: a client-side rate limit, bounded concurrency, retries with
//! backoff and jitter, bisection of rejected requests, and an outcome for every record.
//!
//! The transport is a trait, so the same loop drives the AWS SDK (feature `aws`) and
//! anything a test or a user plugs in.

mod config;
mod rate;

pub use config::SubmitConfig;
pub use rate::RateLimit;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};

pub use crate::failure::{ErrorCode, Failure, FailureKind};
use crate::outcome::{Outcome, RecordOutcome, Report};
use crate::plan::{Plan, PlannedRequest, QuarantineReason, Quarantined};
use crate::record::UsageRecord;

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

/// The answer to a request that the service processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Per record, by its index in the request.
    pub results: Vec<(usize, RecordStatus)>,
    /// Records the service did not process (safe to resend), by index.
    pub unprocessed: Vec<usize>,
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

/// The error that stopped one submission, seen by all its requests.
type Stop = Arc<Mutex<Option<Failure>>>;

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
        let shared = &self.shared;
        let stop = Stop::default();
        let mut outcomes: Vec<RecordOutcome> = plan
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

        // Workers pull requests from one queue, so a finished request is followed by the
        // next without a round trip through this task.
        let workers = shared
            .config
            .concurrency()
            .clamp(1, plan.requests.len().max(1));
        let planned: usize = plan.requests.iter().map(|r| r.records().len()).sum();
        outcomes.reserve(planned);
        let queue = Arc::new(Mutex::new(plan.requests.into_iter()));
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (shared, stop, queue) = (Arc::clone(shared), Arc::clone(&stop), Arc::clone(&queue));
            tasks.spawn(async move {
                let mut outcomes = Vec::with_capacity(planned / workers + 1);
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some(request) = next else { return outcomes };
                    shared.run(request, &stop, &mut outcomes).await;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(done) => outcomes.extend(done),
                Err(panic) => std::panic::resume_unwind(panic.into_panic()),
            }
        }
        // Input order: a caller reading the report finds its records where it put them.
        outcomes.sort_unstable_by_key(|entry| entry.inputs.first().copied());
        Report {
            outcomes,
            stopped: stop.lock().unwrap_or_else(PoisonError::into_inner).take(),
        }
    }
}

fn quarantined(record: UsageRecord, inputs: Vec<usize>, reason: QuarantineReason) -> RecordOutcome {
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
struct Progress<'o> {
    /// Requests still to send (pieces after bisection or partial processing) and the
    /// attempts each has had.
    work: VecDeque<(PlannedRequest, u32)>,
    outcomes: &'o mut Vec<RecordOutcome>,
}

impl<T: Transport> Shared<T> {
    /// Drives one planned request, and the pieces bisection or partial processing leave,
    /// to an outcome for each of its records.
    async fn run(&self, request: PlannedRequest, stop: &Stop, outcomes: &mut Vec<RecordOutcome>) {
        let mut progress = Progress {
            work: VecDeque::from([(request, 0)]),
            outcomes,
        };
        while let Some((request, attempt)) = progress.work.pop_front() {
            let stopped = stop.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if let Some(stopped) = stopped {
                progress
                    .outcomes
                    .extend(pending(request, attempt, &stopped));
                continue;
            }
            // Time passes while retrying: re-check the window before every attempt.
            let now = self.config.clock().now();
            let planner = self.config.planner();
            let policy = planner.policy();
            let accepted = policy.accepted_at(now);
            let (expired, request) =
                request.partition(|_, record| !accepted.contains(record.timestamp()));
            for (record, inputs) in expired {
                if let Err(violation) = policy.check(record.timestamp(), now) {
                    progress
                        .outcomes
                        .push(quarantined(record, inputs, violation.into()));
                }
            }
            let Some(request) = request else {
                continue;
            };

            self.limiter.acquire().await;
            let span = info_span!(
                "batch_meter_usage",
                scope = ?request.scope(),
                records = request.records().len(),
                attempt
            );
            match self.transport.send(&request).instrument(span).await {
                Ok(response) => self.settle(request, response, attempt, &mut progress).await,
                Err(failure) => {
                    self.fail(request, failure, attempt, stop, &mut progress)
                        .await;
                }
            }
        }
    }

    /// Records what the service said of each record; the unprocessed ones, and any the
    /// answer did not mention, go again unchanged.
    async fn settle(
        &self,
        request: PlannedRequest,
        response: Response,
        attempt: u32,
        progress: &mut Progress<'_>,
    ) {
        let mut statuses = vec![None; request.records().len()];
        for (index, status) in response.results {
            if let Some(slot) = statuses.get_mut(index) {
                slot.get_or_insert(status);
            }
        }
        let (settled, rest) = request.partition(|index, _| statuses[index].is_some());
        let outcomes = settled.into_iter().zip(statuses.into_iter().flatten());
        progress
            .outcomes
            .extend(outcomes.map(|((record, inputs), status)| RecordOutcome {
                inputs,
                record,
                outcome: match status {
                    RecordStatus::Success(metering_record_id) => {
                        Outcome::Success { metering_record_id }
                    }
                    RecordStatus::CustomerNotSubscribed => Outcome::CustomerNotSubscribed,
                    RecordStatus::DuplicateRecord => Outcome::DuplicateRecord,
                },
            }));
        if let Some(rest) = rest {
            let error = Failure::new(FailureKind::Retry, "unprocessed by the service");
            self.retry_or_give_up(rest, attempt, &error, progress).await;
        }
    }

    async fn fail(
        &self,
        request: PlannedRequest,
        failure: Failure,
        attempt: u32,
        stop: &Stop,
        progress: &mut Progress<'_>,
    ) {
        match failure.kind() {
            FailureKind::RejectedRecords => {
                if let Some((left, right)) = request.split() {
                    progress.work.push_front((right, 0));
                    progress.work.push_front((left, 0));
                } else if let Some((record, inputs)) = request.into_records().next() {
                    let reason = QuarantineReason::Rejected(failure.about_input(&inputs));
                    progress.outcomes.push(quarantined(record, inputs, reason));
                }
            }
            FailureKind::Stop => {
                warn!(%failure, "submission stopped");
                stop.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(|| failure.clone());
                progress
                    .outcomes
                    .extend(pending(request, attempt + 1, &failure));
            }
            // A kind this loop does not know yet is retried: resending is always safe.
            _ => {
                warn!(%failure, attempt, "request failed; retrying");
                self.retry_or_give_up(request, attempt, &failure, progress)
                    .await;
            }
        }
    }

    async fn retry_or_give_up(
        &self,
        request: PlannedRequest,
        attempt: u32,
        error: &Failure,
        progress: &mut Progress<'_>,
    ) {
        let next = attempt + 1;
        if next >= self.config.max_attempts() {
            progress.outcomes.extend(pending(request, next, error));
            return;
        }
        tokio::time::sleep(self.backoff(attempt)).await;
        progress.work.push_front((request, next));
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
