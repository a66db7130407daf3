//! The tower [`Layer`] that records each request's usage into a [`Meter`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Extensions, HeaderMap, Request, Response, StatusCode, header::CONTENT_LENGTH};
use http_body::Body;
use metering_core::kind::Sum;
use metering_core::{Customer, Dimension, Meter, Quantity};
use tower_layer::Layer;
use tower_service::Service;

/// What one request is charged: who, which dimension, and how its quantity is measured.
#[derive(Debug, Clone)]
pub struct Usage<D> {
    /// The customer billed.
    pub customer: Customer,
    /// The seller's dimension (a `#[derive(Dimension)]` enum).
    pub dimension: D,
    /// How the quantity is measured.
    pub measure: Measure,
}

impl<D: Dimension> Usage<D> {
    /// `customer` uses `dimension`, measured by `measure`.
    pub fn new(customer: Customer, dimension: D, measure: Measure) -> Self {
        Self {
            customer,
            dimension,
            measure,
        }
    }
}

/// How a request's quantity is measured.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Measure {
    /// A quantity known before the response: fixed (one call), or read from the request.
    Fixed(Quantity),
    /// The response body's length in bytes, from its exact size or its `Content-Length`.
    /// A streamed body of unknown length is not charged, and a warning says so.
    ResponseBytes,
    /// Read from the response's headers or extensions, e.g. an extension the handler set
    /// with the number of items it returned; `None` charges nothing.
    Response(fn(&HeaderMap, &Extensions) -> Option<Quantity>),
}

/// What a failed request (a 4xx or 5xx answer, or an error of the inner service) costs.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub enum Failures {
    /// Failed requests cost nothing (the default).
    #[default]
    Skip,
    /// Failed answers are charged like successful ones; an inner service error is not
    /// (it has no response to measure).
    Count,
    /// A failed answer is charged when the function says so for its status, e.g. client
    /// errors but not server errors.
    ByStatus(fn(StatusCode) -> bool),
}

impl Failures {
    fn charges(self, status: StatusCode) -> bool {
        if !(status.is_client_error() || status.is_server_error()) {
            return true;
        }
        match self {
            Self::Skip => false,
            Self::Count => true,
            Self::ByStatus(charged) => charged(status),
        }
    }
}

/// Where a request's [`Usage`] comes from: a closure `Fn(&Request<B>) -> Option<Usage<D>>`,
/// or [`FromExtensions`].
pub trait UsageOf<B> {
    /// The seller's dimension enum.
    type Dimension: Dimension<Kind = Sum>;
    /// What the request is charged; `None` charges nothing.
    fn usage_of(&self, request: &Request<B>) -> Option<Usage<Self::Dimension>>;
}

impl<B, D: Dimension<Kind = Sum>, F: Fn(&Request<B>) -> Option<Usage<D>>> UsageOf<B> for F {
    type Dimension = D;
    fn usage_of(&self, request: &Request<B>) -> Option<Usage<D>> {
        self(request)
    }
}

/// Charges one dimension, measured one way, to the [`Customer`] the seller's auth layer put
/// in the request's extensions; a request without one is not charged.
#[derive(Debug, Clone, Copy)]
pub struct FromExtensions<D> {
    dimension: D,
    measure: Measure,
}

impl<D: Dimension> FromExtensions<D> {
    /// Charges `dimension`, measured by `measure`.
    pub fn new(dimension: D, measure: Measure) -> Self {
        Self { dimension, measure }
    }
}

impl<B, D: Dimension<Kind = Sum>> UsageOf<B> for FromExtensions<D> {
    type Dimension = D;
    fn usage_of(&self, request: &Request<B>) -> Option<Usage<D>> {
        let customer = request.extensions().get::<Customer>()?;
        Some(Usage::new(customer.clone(), self.dimension, self.measure))
    }
}

/// What every service a [`MeterLayer`] makes shares.
struct Config<U> {
    meter: Arc<Meter>,
    usage: U,
}

/// A [`Layer`] recording each request's usage into a [`Meter`] once its response is ready.
///
/// Recording is in memory ([`Meter::record`]): no network call is added to a request. A
/// disabled layer ([`MeterLayer::enabled`]`(false)`) calls the inner service directly.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use marketplace_metering::ledger::{Ledger, LedgerInspection, SqliteLedger};
/// use marketplace_metering::{Customer, Dimension, ManualClock, Meter, MeterConfig, Quantity, Timestamp};
/// use metering_tower::{Measure, MeterLayer, Usage};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
/// enum Api {
///     #[metering(rename = "api_calls")]
///     Calls,
/// }
///
/// let at = |text| Timestamp::parse_rfc3339(text);
/// # let dir = tempfile::tempdir()?;
/// # let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
/// # let meter = Meter::builder()
/// #     .config(MeterConfig::new().with_clock(ManualClock::new(at("2026-05-12T10:05:00Z")?)))
/// #     .ledger(Arc::clone(&ledger))
/// #     .build()?;
/// let meter = Arc::new(meter); // shared by the layer and whoever closes it
/// let layer = MeterLayer::new(Arc::clone(&meter), |request: &Request<Body>| {
///     // The customer the seller's auth layer put in the request's extensions.
///     let customer = request.extensions().get::<Customer>()?.clone();
///     Some(Usage::new(customer, Api::Calls, Measure::Fixed(Quantity::new(1).ok()?)))
/// });
/// let mut service = layer.layer(Router::new().route("/", get(|| async { "hello" })));
///
/// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
/// for _ in 0..2 {
///     let mut request = Request::new(Body::empty());
///     request.extensions_mut().insert(customer.clone());
///     std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
///     assert!(service.call(request).await?.status().is_success());
/// }
/// meter.close().await?; // commits what the requests recorded
/// // Once 10:00's hour is sealed, its two calls are one record.
/// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:15:00Z")?).await?;
/// let records = ledger.records(None).await?;
/// assert_eq!(records.len(), 1);
/// assert_eq!(records[0].record.quantity(), Quantity::new(2)?);
/// # Ok(())
/// # }
/// ```
pub struct MeterLayer<U> {
    /// Shared, so that layering allocates nothing: axum layers a route's handler again for
    /// each request when its router was given no state.
    config: Arc<Config<U>>,
    failures: Failures,
    enabled: bool,
}

impl<U> Clone for MeterLayer<U> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            failures: self.failures,
            enabled: self.enabled,
        }
    }
}

impl<U> std::fmt::Debug for MeterLayer<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterLayer")
            .field("failures", &self.failures)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl<U> MeterLayer<U> {
    /// Charges what `usage` says for each request: a closure
    /// `Fn(&Request<B>) -> Option<Usage<D>>` over the request (`None` charges nothing), or
    /// [`FromExtensions`]. The dimension is the seller's enum, so a misspelt one does not
    /// compile.
    pub fn new(meter: Arc<Meter>, usage: U) -> Self {
        Self {
            config: Arc::new(Config { meter, usage }),
            failures: Failures::default(),
            enabled: true,
        }
    }

    /// What a failed request costs (default [`Failures::Skip`]).
    #[must_use]
    pub fn failures(mut self, failures: Failures) -> Self {
        self.failures = failures;
        self
    }

    /// Turns recording off (the inner service is called directly) or back on.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}

impl<S, U> Layer<S> for MeterLayer<U> {
    type Service = MeterService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        MeterService {
            inner,
            config: self.enabled.then(|| Arc::clone(&self.config)),
            failures: self.failures,
        }
    }
}

/// The service [`MeterLayer`] makes.
pub struct MeterService<S, U> {
    inner: S,
    /// `None` when the layer is disabled.
    config: Option<Arc<Config<U>>>,
    failures: Failures,
}

impl<S: Clone, U> Clone for MeterService<S, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            failures: self.failures,
        }
    }
}

impl<S: std::fmt::Debug, U> std::fmt::Debug for MeterService<S, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterService")
            .field("inner", &self.inner)
            .field("enabled", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, U, ReqBody, ResBody> Service<Request<ReqBody>> for MeterService<S, U>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    U: UsageOf<ReqBody>,
    ResBody: Body,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, U::Dimension>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let pending = self.config.as_ref().and_then(|config| {
            Some(Pending {
                usage: config.usage.usage_of(&request)?,
                meter: Arc::clone(&config.meter),
                failures: self.failures,
            })
        });
        ResponseFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
}

/// A request's usage, waiting for its response.
struct Pending<D> {
    usage: Usage<D>,
    meter: Arc<Meter>,
    failures: Failures,
}

impl<D: Dimension<Kind = Sum>> Pending<D> {
    fn settle<B: Body>(self, response: &Response<B>) {
        if !self.failures.charges(response.status()) {
            return;
        }
        let quantity = match self.usage.measure {
            Measure::Fixed(quantity) => Some(quantity),
            Measure::ResponseBytes => response_bytes(response),
            Measure::Response(measure) => measure(response.headers(), response.extensions()),
        };
        let Some(quantity) = quantity else { return };
        if let Err(error) = self
            .meter
            .record(&self.usage.customer, self.usage.dimension, quantity)
        {
            tracing::error!(target: "metering::tower", %error, customer = %self.usage.customer, dimension = self.usage.dimension.as_str(), %quantity, "usage not recorded");
        }
    }
}

fn response_bytes<B: Body>(response: &Response<B>) -> Option<Quantity> {
    let bytes = response.body().size_hint().exact().or_else(|| {
        response
            .headers()
            .get(CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    });
    match bytes.map(Quantity::new) {
        Some(Ok(quantity)) => Some(quantity),
        Some(Err(error)) => {
            tracing::error!(target: "metering::tower", %error, "response length is no quantity");
            None
        }
        None => {
            tracing::warn!(target: "metering::tower", "a streamed response of unknown length is not charged");
            None
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`MeterService`]: the inner future, then the recording.
    pub struct ResponseFuture<Fut, D> {
        #[pin]
        inner: Fut,
        pending: Option<Pending<D>>,
    }
}

impl<Fut, D, B, E> Future for ResponseFuture<Fut, D>
where
    Fut: Future<Output = Result<Response<B>, E>>,
    D: Dimension<Kind = Sum>,
    B: Body,
{
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let (Some(pending), Ok(response)) = (this.pending.take(), &output) {
            pending.settle(response);
        }
        Poll::Ready(output)
    }
}
