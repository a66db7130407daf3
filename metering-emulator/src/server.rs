//! The HTTP side: the builder, the running server, and one request's way through it.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metering_core::{Clock, ErrorCode, TimePolicy, Timestamp, UsageRecord};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::builder::Builder;
use crate::error::{EmulatorError, ErrorKind, ServiceError};
use crate::faults::{Fault, Faults, mix, unprocessed_records};
use crate::ledger::{Billed, Ledger, LedgerEntry, SummaryRow, uuid_shaped};
use crate::quota::Bucket;
use crate::registration::{self, Registration};
use crate::request::{self, Catalog};

/// The `X-Amz-Target` of `BatchMeterUsage`.
pub const TARGET: &str = "AWSMPMeteringService.BatchMeterUsage";
/// The `X-Amz-Target` of `ResolveCustomer`.
pub const RESOLVE_CUSTOMER_TARGET: &str = "AWSMPMeteringService.ResolveCustomer";
/// The AWS JSON 1.1 content type.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
/// Bodies larger than this are not even read (the service's limit is 1 MB).
const MAX_READ_BYTES: usize = 16 << 20;
/// The header that names each answer, as AWS's do (`x-amzn-RequestId`).
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// A running emulator. Dropping it stops serving, as [`RunningEmulator::shutdown`] does
/// without waiting.
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// Serves `listener` with the settings of `builder` on the current tokio runtime.
    pub(crate) fn spawn(builder: Builder, listener: TcpListener, addr: SocketAddr) -> Self {
        let shared = Arc::new(Shared {
            clock: builder.clock,
            policy: builder.policy,
            catalog: builder.catalog,
            disabled_api: builder.disabled_api,
            request_timeout: builder.request_timeout,
            registrations: builder.registrations,
            request_ids: (RandomState::new().hash_one(0_u64), AtomicU64::new(0)),
            faults: Mutex::new(builder.faults),
            quota: builder.quota.map(|quota| Mutex::new(Bucket::new(quota))),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            state: Mutex::new(State {
                ledger: Ledger::default(),
                subscribed: builder.subscribed,
                unsubscribed: builder.unsubscribed,
                redeemed: HashSet::new(),
            }),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), stopped));
        Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give an SDK client as `endpoint_url`, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The clock its time rules are checked against (the one given to
    /// [`Builder::clock`]; clones of a `ManualClock` share its time): give it to the Meter
    /// and the submitter, so that all of them judge time alike.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.clock)
    }

    /// A snapshot of every billed entry, by hour, customer and dimension.
    #[must_use]
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.state().ledger.entries()
    }

    /// Totals billed per customer (with product or licence) and dimension.
    #[must_use]
    pub fn summary(&self) -> Vec<SummaryRow> {
        self.shared.state().ledger.summary()
    }

    /// Replaces the faults from the next request on (the sequence numbers go on).
    ///
    /// # Errors
    /// Invalid shares.
    pub fn set_faults(&self, faults: Faults) -> Result<(), EmulatorError> {
        faults.validate()?;
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = faults;
        Ok(())
    }

    /// Subscribes a customer (`CustomerIdentifier` or `CustomerAWSAccountId`).
    pub fn subscribe(&self, customer: impl Into<String>) {
        let customer = customer.into();
        let mut state = self.shared.state();
        state.unsubscribed.remove(&customer);
        if let Some(subscribed) = &mut state.subscribed {
            subscribed.insert(customer);
        }
    }

    /// Unsubscribes a customer: its records get `CustomerNotSubscribed` from now on.
    pub fn unsubscribe(&self, customer: impl Into<String>) {
        self.shared.state().unsubscribed.insert(customer.into());
    }

    /// How many `BatchMeterUsage` requests arrived (faulted ones included).
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// How many requests were answered `ThrottlingException`, injected or over the quota.
    #[must_use]
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::Relaxed)
    }

    /// How many records were answered `DuplicateRecord` (another quantity was billed for
    /// their key before).
    #[must_use]
    pub fn duplicates(&self) -> u64 {
        self.shared.duplicates.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection, and waits for the server to stop.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What every connection shares.
struct Shared {
    clock: Arc<dyn Clock>,
    policy: TimePolicy,
    catalog: Catalog,
    disabled_api: bool,
    /// How long a request's headers, and then its body, may take to arrive.
    request_timeout: Duration,
    /// Registration tokens by token.
    registrations: HashMap<String, Registration>,
    /// A seed of this run and a counter, for `x-amzn-RequestId`.
    request_ids: (u64, AtomicU64),
    faults: Mutex<Faults>,
    quota: Option<Mutex<Bucket>>,
    requests: AtomicU64,
    /// `ThrottlingException` answers, injected or by the quota.
    throttled: AtomicU64,
    /// `DuplicateRecord` answers.
    duplicates: AtomicU64,
    state: Mutex<State>,
}

/// What requests change.
struct State {
    ledger: Ledger,
    subscribed: Option<HashSet<String>>,
    unsubscribed: HashSet<String>,
    /// Registration tokens already resolved: a second submission has expired.
    redeemed: HashSet<String>,
}

impl State {
    fn is_subscribed(&self, customer: &str) -> bool {
        !self.unsubscribed.contains(customer)
            && self
                .subscribed
                .as_ref()
                .is_none_or(|subscribed| subscribed.contains(customer))
    }
}

/// The connection is to be closed without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Where connections come from: a [`TcpListener`], or in a test one that fails.
trait Accept: Send + 'static {
    fn accept(&self) -> impl Future<Output = io::Result<TcpStream>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// The first pause after a failed accept; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

async fn serve(listener: impl Accept, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    // After a failed accept (out of file descriptors, say) it fails again at once until
    // something is freed: pause, or the loop would spin a core.
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok(stream) = accepted else {
                    backoff = (backoff * 2).clamp(ACCEPT_BACKOFF, MAX_ACCEPT_BACKOFF);
                    tokio::select! {
                        _ = &mut stopped => break,
                        () = tokio::time::sleep(backoff) => continue,
                    }
                };
                backoff = Duration::ZERO;
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let timeout = shared.request_timeout;
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move {
                            let id = shared.request_id();
                            shared.handle(request).await.map(|mut response| {
                                response.headers_mut().insert(REQUEST_ID, id);
                                response
                            })
                        }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(timeout)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

/// A `BatchMeterUsage` answer, written as it is built (no intermediate JSON tree).
struct Answer {
    out: Vec<u8>,
    results: usize,
}

impl Answer {
    fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(b"{\"Results\":[");
        Self { out, results: 0 }
    }

    /// The record as it was read: the members the model defines, nothing else of the body.
    fn record(&mut self, record: &UsageRecord) {
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut self.out, &record.as_request_entry());
    }

    fn result(&mut self, record: &UsageRecord, id: Option<&str>, status: &str) {
        if self.results > 0 {
            self.out.push(b',');
        }
        self.results += 1;
        self.out.extend_from_slice(b"{\"UsageRecord\":");
        self.record(record);
        if let Some(id) = id {
            self.out.extend_from_slice(b",\"MeteringRecordId\":\"");
            self.out.extend_from_slice(id.as_bytes());
            self.out.push(b'"');
        }
        self.out.extend_from_slice(b",\"Status\":\"");
        self.out.extend_from_slice(status.as_bytes());
        self.out.extend_from_slice(b"\"}");
    }

    fn finish(mut self, unprocessed: &[UsageRecord]) -> Vec<u8> {
        self.out.extend_from_slice(b"],\"UnprocessedRecords\":[");
        for (index, record) in unprocessed.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            self.record(record);
        }
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    response
}

/// Asks the client to close the connection after this answer (its request was not read to
/// the end, so the connection cannot carry another).
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn error_response(error: &ServiceError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = respond(status, error.body());
    // Every name the emulator answers with is a valid header value.
    if let Ok(name) = HeaderValue::from_str(error.kind.type_name()) {
        response.headers_mut().insert("x-amzn-ErrorType", name);
    }
    response
}

impl Shared {
    /// A new UUID-shaped request ID.
    fn request_id(&self) -> HeaderValue {
        let (seed, counter) = &self.request_ids;
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let id = uuid_shaped(mix(seed ^ mix(n)), mix(n));
        HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("0"))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Reply {
        let path = request.uri().path();
        if request.method() == Method::GET
            && let Some(response) = self.admin(path)
        {
            return Ok(response);
        }
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let resolve = target == RESOLVE_CUSTOMER_TARGET;
        if request.method() != Method::POST || path != "/" || !(resolve || target == TARGET) {
            let method = request.method();
            return Ok(error_response(&ServiceError::new(
                ErrorKind::UnknownOperation,
                format!(
                    "{method} {path:.100} with X-Amz-Target {target:.100?} is not an operation; this endpoint serves {TARGET} and {RESOLVE_CUSTOMER_TARGET} (POST /)"
                ),
            )));
        }
        let signed = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256 "));
        let body = Limited::new(request.into_body(), MAX_READ_BYTES).collect();
        let body = match tokio::time::timeout(self.request_timeout, body).await {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                return Ok(error_response(&request::too_large(MAX_READ_BYTES)));
            }
            Ok(Err(error)) => {
                return Ok(closing(error_response(&ServiceError::new(
                    ErrorKind::Serialization,
                    format!("The request body could not be read: {error}"),
                ))));
            }
            Err(_) => {
                return Ok(closing(error_response(&ServiceError::new(
                    ErrorKind::RequestTimeout,
                    format!(
                        "The request body did not arrive within {} ms",
                        self.request_timeout.as_millis()
                    ),
                ))));
            }
        };
        if !signed {
            return Ok(error_response(&ServiceError::new(
                ErrorKind::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )));
        }
        if resolve {
            return Ok(match self.resolve_customer(&body) {
                Ok(body) => respond(StatusCode::OK, body),
                Err(error) => error_response(&error),
            });
        }
        let sequence = self.requests.fetch_add(1, Ordering::Relaxed);
        // The quota counts arrivals, so it is taken before any injected delay.
        let over_quota = self
            .quota
            .as_ref()
            .is_some_and(|bucket| !bucket.lock().unwrap_or_else(PoisonError::into_inner).take());
        let faults = *self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let (fault, delay) = faults.draw(sequence);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let fault = if over_quota {
            Some(Fault::Throttle)
        } else {
            fault
        };
        let answer = match fault {
            Some(Fault::DropConnection) => return Err(Dropped),
            Some(Fault::Throttle) => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                Err(ServiceError::new(ErrorCode::Throttling, "Rate exceeded"))
            }
            Some(Fault::InternalError) => Err(ServiceError::new(
                ErrorCode::InternalServiceError,
                "An internal error has occurred (injected fault)",
            )),
            Some(Fault::Unprocessed(draw)) => self.meter(&body, Some(draw)),
            None => self.meter(&body, None),
        };
        Ok(match answer {
            Ok(body) => respond(StatusCode::OK, body),
            Err(error) => error_response(&error),
        })
    }

    /// Checks and bills one request body; `unprocessed` picks records to leave out.
    fn meter(&self, body: &[u8], unprocessed: Option<u64>) -> Result<Vec<u8>, ServiceError> {
        if self.disabled_api {
            return Err(ServiceError::new(
                ErrorCode::DisabledApi,
                "The BatchMeterUsage API is disabled in this Region",
            ));
        }
        if body.len() >= metering_core::limits::MAX_REQUEST_BYTES {
            return Err(request::too_large(body.len()));
        }
        let now: Timestamp = self.clock.now();
        let records = request::check_request(body, &self.catalog, &self.policy, now)?;
        let left_out = unprocessed.map(|draw| unprocessed_records(draw, records.len()));
        let mut answer = Answer::with_capacity(body.len() + 96 * records.len());
        let mut unprocessed = Vec::new();
        let mut state = self.state();
        for (index, record) in records.into_iter().enumerate() {
            if left_out.as_ref().is_some_and(|left_out| left_out[index]) {
                unprocessed.push(record);
                continue;
            }
            let fields = record.customer().wire_fields();
            let who = fields.customer_aws_account_id.map_or_else(
                || fields.customer_identifier.map_or("", |id| id.as_str()),
                |account| account.as_str(),
            );
            if !state.is_subscribed(who) {
                answer.result(&record, None, "CustomerNotSubscribed");
                continue;
            }
            match state.ledger.bill(&record) {
                Billed::Success(id) => answer.result(&record, Some(id), "Success"),
                Billed::Duplicate => {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                    answer.result(&record, None, "DuplicateRecord");
                }
            }
        }
        drop(state);
        Ok(answer.finish(&unprocessed))
    }

    /// Resolves a registration token, once.
    fn resolve_customer(&self, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
        if self.disabled_api {
            return Err(ServiceError::new(
                ErrorCode::DisabledApi,
                "The ResolveCustomer API is disabled in this Region",
            ));
        }
        let token = registration::token(body)?;
        let registration = self
            .registrations
            .get(&token)
            .ok_or_else(registration::invalid)?;
        if registration.expired || !self.state().redeemed.insert(token) {
            return Err(registration::expired());
        }
        Ok(registration.answer())
    }

    /// `GET /_emulator/ledger` and `GET /_emulator/summary`: what was billed, as JSON.
    fn admin(&self, path: &str) -> Option<Response<Full<Bytes>>> {
        let body: Option<Value> = match path {
            "/_emulator/ledger" => Some(
                self.state()
                    .ledger
                    .entries()
                    .iter()
                    .map(LedgerEntry::to_json)
                    .collect(),
            ),
            "/_emulator/summary" => Some(
                self.state()
                    .ledger
                    .summary()
                    .iter()
                    .map(SummaryRow::to_json)
                    .collect(),
            ),
            _ => None,
        };
        body.map(|body| respond(StatusCode::OK, body.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Fails every accept, as a process out of file descriptors does, and counts them.
    struct Exhausted(Arc<AtomicUsize>);

    impl Accept for Exhausted {
        async fn accept(&self) -> io::Result<TcpStream> {
            self.0.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
            Err(io::Error::other("Too many open files"))
        }
    }

    #[tokio::test]
    async fn failing_accepts_back_off_instead_of_spinning() {
        let builder = Builder::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let running = RunningEmulator::spawn(builder, listener, addr);
        let shared = Arc::clone(&running.shared);
        let attempts = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(serve(Exhausted(Arc::clone(&attempts)), shared, stopped));
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(()).unwrap();
        server.await.unwrap();
        // 5, 10, 20, 40, 80 ms: about six attempts; a spinning loop makes thousands.
        let attempts = attempts.load(Ordering::Relaxed);
        assert!((2..=10).contains(&attempts), "{attempts} accepts in 200 ms");
    }
}
