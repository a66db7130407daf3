//! The HTTP side: the builder, the running server, and one request's way through it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metering_core::{Clock, TimePolicy, Timestamp};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::builder::Builder;
use crate::error::{EmulatorError, ErrorKind, ServiceError};
use crate::faults::{Fault, Faults, unprocessed_records};
use crate::ledger::{Billed, Ledger, LedgerEntry, SummaryRow};
use crate::quota::Bucket;
use crate::request::{self, Catalog};

/// The `X-Amz-Target` of the one operation served.
pub const TARGET: &str = "AWSMPMeteringService.BatchMeterUsage";
/// The AWS JSON 1.1 content type.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
/// Bodies larger than this are not even read (the service's limit is 1 MB).
const MAX_READ_BYTES: usize = 16 << 20;

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
            faults: Mutex::new(builder.faults),
            quota: builder.quota.map(|quota| Mutex::new(Bucket::new(quota))),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            state: Mutex::new(State {
                ledger: Ledger::default(),
                subscribed: builder.subscribed,
                unsubscribed: builder.unsubscribed,
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
    faults: Mutex<Faults>,
    quota: Option<Mutex<Bucket>>,
    requests: AtomicU64,
    /// `ThrottlingException` answers, injected or by the quota.
    throttled: AtomicU64,
    state: Mutex<State>,
}

/// What requests change.
struct State {
    ledger: Ledger,
    subscribed: Option<HashSet<String>>,
    unsubscribed: HashSet<String>,
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

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { shared.handle(request).await }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
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

    /// The record exactly as it was sent.
    fn record(&mut self, record: &RawValue) {
        self.out.extend_from_slice(record.get().as_bytes());
    }

    fn result(&mut self, record: &RawValue, id: Option<&str>, status: &str) {
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

    fn finish(mut self, unprocessed: &[&RawValue]) -> Vec<u8> {
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

fn error_response(error: &ServiceError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = respond(status, error.body());
    response.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static(error.kind.type_name()),
    );
    response
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Reply {
        if request.method() == Method::GET {
            return Ok(self.admin(request.uri().path()));
        }
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let signed = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256 "));
        let is_post = request.method() == Method::POST;
        let body = match Limited::new(request.into_body(), MAX_READ_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => return Ok(error_response(&request::too_large(MAX_READ_BYTES))),
        };
        if !is_post || target != TARGET {
            return Ok(error_response(&ServiceError::new(
                ErrorKind::UnknownOperation,
                format!(
                    "Operation {target:?} is not served; this emulator serves {TARGET} (POST /)"
                ),
            )));
        }
        if !signed {
            return Ok(error_response(&ServiceError::new(
                ErrorKind::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )));
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
                Err(ServiceError::new(ErrorKind::Throttling, "Rate exceeded"))
            }
            Some(Fault::InternalError) => Err(ServiceError::new(
                ErrorKind::InternalServiceError,
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
                ErrorKind::DisabledApi,
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
                unprocessed.push(record.raw);
                continue;
            }
            let fields = record.customer.wire_fields();
            let who = fields.customer_aws_account_id.map_or_else(
                || fields.customer_identifier.map_or("", |id| id.as_str()),
                |account| account.as_str(),
            );
            if !state.is_subscribed(who) {
                answer.result(record.raw, None, "CustomerNotSubscribed");
                continue;
            }
            let billed = state.ledger.bill(
                record.customer,
                record.dimension,
                record.timestamp,
                record.quantity,
                record.allocations,
            );
            match billed {
                Billed::Success(id) => answer.result(record.raw, Some(id), "Success"),
                Billed::Duplicate => answer.result(record.raw, None, "DuplicateRecord"),
            }
        }
        drop(state);
        Ok(answer.finish(&unprocessed))
    }

    /// `GET /_emulator/ledger` and `GET /_emulator/summary`: what was billed, as JSON.
    fn admin(&self, path: &str) -> Response<Full<Bytes>> {
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
        match body {
            Some(body) => respond(StatusCode::OK, body.to_string()),
            None => respond(StatusCode::NOT_FOUND, "{}"),
        }
    }
}
