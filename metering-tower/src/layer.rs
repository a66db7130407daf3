//! The tower [`Layer`] that records each request's usage into a [`Meter`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Extensions, HeaderMap, Request, Response, StatusCode, header::CONTENT_LENGTH};
use http_body::Body;
use metering_core::kind::{Distinct, Identifier, Sum};
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

/// Who made a request, counted once per hour in a distinct dimension (active users): the
/// customer billed, the seller's distinct dimension, and the identifier (a user, a device).
#[derive(Debug, Clone)]
pub struct Seen<D> {
    /// The customer billed.
    pub customer: Customer,
    /// The seller's distinct dimension (`#[metering(kind = "distinct")]`).
    pub dimension: D,
    /// Who, as the seller knows them: a user ID, a UUID, an integer.
    pub identifier: Identifier,
}

impl<D: Dimension<Kind = Distinct>> Seen<D> {
    /// `identifier` was seen using `customer`'s `dimension`.
    pub fn new(customer: Customer, dimension: D, identifier: impl Into<Identifier>) -> Self {
        Self {
            customer,
            dimension,
            identifier: identifier.into(),
        }
    }
}

/// Where a request's [`Seen`] comes from: a closure `Fn(&Request<B>) -> Option<Seen<D>>`, or
/// [`SeenFromExtensions`]; set with [`MeterLayer::distinct`].
pub trait SeenOf<B> {
    /// The seller's distinct dimension.
    type Dimension: Dimension<Kind = Distinct>;
    /// Who made the request; `None` counts no one.
    fn seen_of(&self, request: &Request<B>) -> Option<Seen<Self::Dimension>>;
}

impl<B, D: Dimension<Kind = Distinct>, F: Fn(&Request<B>) -> Option<Seen<D>>> SeenOf<B> for F {
    type Dimension = D;
    fn seen_of(&self, request: &Request<B>) -> Option<Seen<D>> {
        self(request)
    }
}

/// Counts the identifier the seller's auth layer put in the request's extensions (a value
/// of type `T`, e.g. its user ID type), for the [`Customer`] it put there beside it; a
/// request missing either counts no one.
pub struct SeenFromExtensions<D, T> {
    dimension: D,
    identifier: std::marker::PhantomData<fn() -> T>,
}

impl<D: Dimension<Kind = Distinct>, T> SeenFromExtensions<D, T> {
    /// Counts the `T` of each request in `dimension`.
    pub fn new(dimension: D) -> Self {
        Self {
            dimension,
            identifier: std::marker::PhantomData,
        }
    }
}

impl<D: Copy, T> Clone for SeenFromExtensions<D, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: Copy, T> Copy for SeenFromExtensions<D, T> {}

impl<D: std::fmt::Debug, T> std::fmt::Debug for SeenFromExtensions<D, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeenFromExtensions")
            .field("dimension", &self.dimension)
            .field("identifier", &std::any::type_name::<T>())
            .finish()
    }
}

impl<B, D, T> SeenOf<B> for SeenFromExtensions<D, T>
where
    D: Dimension<Kind = Distinct>,
    T: Clone + Into<Identifier> + Send + Sync + 'static,
{
    type Dimension = D;
    fn seen_of(&self, request: &Request<B>) -> Option<Seen<D>> {
        let extensions = request.extensions();
        let customer = extensions.get::<Customer>()?;
        let identifier = extensions.get::<T>()?.clone();
        Some(Seen::new(customer.clone(), self.dimension, identifier))
    }
}

/// No distinct dimension: the [`MeterLayer`] counts no one until [`MeterLayer::distinct`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOneSeen;

impl<B> SeenOf<B> for NoOneSeen {
    type Dimension = Nobody;
    fn seen_of(&self, _: &Request<B>) -> Option<Seen<Nobody>> {
        None
    }
}

/// The distinct dimension of [`NoOneSeen`]: it has no value, so no usage of it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nobody {}

// Not suggested in a seller's "not a dimension" error: it is no dimension of theirs.
#[diagnostic::do_not_recommend]
impl Dimension for Nobody {
    type Kind = Distinct;
    const ALL: &'static [Self] = &[];
    fn as_str(self) -> &'static str {
        match self {}
    }
}

// Sound: `Nobody` has no value, so it names no key the derive would have to check.
impl metering_core::__private::DerivedDimension for Nobody {}

/// What every service a [`MeterLayer`] makes shares.
struct Config<U, S> {
    meter: Arc<Meter>,
    usage: U,
    seen: S,
}

/// A [`Layer`] recording each request's usage into a [`Meter`] once its response is ready:
/// a quantity of a sum dimension, and, with [`MeterLayer::distinct`], who made the request,
/// counted once per hour in a distinct dimension (active users).
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
pub struct MeterLayer<U, S = NoOneSeen> {
    /// Shared, so that layering allocates nothing: axum layers a route's handler again for
    /// each request when its router was given no state.
    config: Arc<Config<U, S>>,
    failures: Failures,
    enabled: bool,
}

impl<U, S> Clone for MeterLayer<U, S> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            failures: self.failures,
            enabled: self.enabled,
        }
    }
}

impl<U, S> std::fmt::Debug for MeterLayer<U, S> {
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
            config: Arc::new(Config {
                meter,
                usage,
                seen: NoOneSeen,
            }),
            failures: Failures::default(),
            enabled: true,
        }
    }
}

impl<U, S> MeterLayer<U, S> {
    /// Also counts who made each request, in a distinct dimension: what `seen` says, a
    /// closure `Fn(&Request<B>) -> Option<Seen<D>>` or [`SeenFromExtensions`]. Each
    /// identifier is billed once per hour, however many requests it made and whichever
    /// instance served them. A request charged nothing by `failures` counts no one either.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use axum::{Router, body::Body, routing::get};
    /// use http::Request;
    /// use marketplace_metering::kind::Identifier;
    /// use marketplace_metering::ledger::{Ledger, LedgerInspection, SqliteLedger};
    /// use marketplace_metering::{Customer, Dimension, ManualClock, Meter, MeterConfig, Quantity, Timestamp};
    /// use metering_tower::{FromExtensions, Measure, MeterLayer, SeenFromExtensions};
    /// use tower_layer::Layer;
    /// use tower_service::Service;
    ///
    /// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
    /// #[metering(rename_all = "snake_case")]
    /// enum Api { ApiCalls }
    ///
    /// #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
    /// #[metering(rename_all = "snake_case", kind = "distinct")]
    /// enum Users { ActiveUsers }
    ///
    /// /// The seller's user ID, which its auth layer puts in the request's extensions.
    /// #[derive(Clone)]
    /// struct UserId(u64);
    /// impl From<UserId> for Identifier {
    ///     fn from(user: UserId) -> Self { Identifier::from(user.0) }
    /// }
    ///
    /// let at = |text| Timestamp::parse_rfc3339(text);
    /// # let dir = tempfile::tempdir()?;
    /// # let ledger = Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite"))?);
    /// # let meter = Meter::builder()
    /// #     .config(MeterConfig::new().with_clock(ManualClock::new(at("2026-05-12T10:05:00Z")?)))
    /// #     .ledger(Arc::clone(&ledger))
    /// #     .build()?;
    /// let meter = Arc::new(meter);
    /// let layer = MeterLayer::new(Arc::clone(&meter), FromExtensions::new(Api::ApiCalls, Measure::Fixed(Quantity::new(1)?)))
    ///     .distinct(SeenFromExtensions::<_, UserId>::new(Users::ActiveUsers));
    /// let mut service = layer.layer(Router::new().route("/", get(|| async { "hello" })));
    ///
    /// let customer = Customer::Account { product: "prod-example123".parse()?, account: "123456789012".parse()? };
    /// for user in [7, 8, 7] {
    ///     let mut request = Request::new(Body::empty());
    ///     request.extensions_mut().insert(customer.clone());
    ///     request.extensions_mut().insert(UserId(user));
    ///     std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx)).await?;
    ///     assert!(service.call(request).await?.status().is_success());
    /// }
    /// meter.close().await?;
    /// ledger.seal(at("2026-05-12T11:00:00Z")?, at("2026-05-12T11:15:00Z")?).await?;
    /// let billed: Vec<(String, Quantity)> = ledger.records(None).await?.iter()
    ///     .map(|stored| (stored.record.dimension().to_string(), stored.record.quantity()))
    ///     .collect();
    /// // Three calls, by two users.
    /// assert_eq!(billed, [("active_users".into(), Quantity::new(2)?), ("api_calls".into(), Quantity::new(3)?)]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    /// When the layer was cloned before (the clones share its configuration): call it
    /// first.
    #[must_use]
    pub fn distinct<T>(self, seen: T) -> MeterLayer<U, T> {
        let Ok(Config { meter, usage, .. }) = Arc::try_unwrap(self.config) else {
            panic!("MeterLayer::distinct is called before the layer is cloned");
        };
        MeterLayer {
            config: Arc::new(Config { meter, usage, seen }),
            failures: self.failures,
            enabled: self.enabled,
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

impl<Svc, U, S> Layer<Svc> for MeterLayer<U, S> {
    type Service = MeterService<Svc, U, S>;

    fn layer(&self, inner: Svc) -> Self::Service {
        MeterService {
            inner,
            config: self.enabled.then(|| Arc::clone(&self.config)),
            failures: self.failures,
        }
    }
}

/// The service [`MeterLayer`] makes.
pub struct MeterService<Svc, U, S = NoOneSeen> {
    inner: Svc,
    /// `None` when the layer is disabled.
    config: Option<Arc<Config<U, S>>>,
    failures: Failures,
}

impl<Svc: Clone, U, S> Clone for MeterService<Svc, U, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            failures: self.failures,
        }
    }
}

impl<Svc: std::fmt::Debug, U, S> std::fmt::Debug for MeterService<Svc, U, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterService")
            .field("inner", &self.inner)
            .field("enabled", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

impl<Svc, U, S, ReqBody, ResBody> Service<Request<ReqBody>> for MeterService<Svc, U, S>
where
    Svc: Service<Request<ReqBody>, Response = Response<ResBody>>,
    U: UsageOf<ReqBody>,
    S: SeenOf<ReqBody>,
    ResBody: Body,
{
    type Response = Svc::Response;
    type Error = Svc::Error;
    type Future = ResponseFuture<Svc::Future, U::Dimension, S::Dimension>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let pending = self.config.as_ref().and_then(|config| {
            let usage = config.usage.usage_of(&request);
            let seen = config.seen.seen_of(&request);
            (usage.is_some() || seen.is_some()).then(|| Pending {
                usage,
                seen,
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

/// A request's usage and who made it, waiting for its response.
struct Pending<D, E> {
    usage: Option<Usage<D>>,
    seen: Option<Seen<E>>,
    meter: Arc<Meter>,
    failures: Failures,
}

impl<D: Dimension<Kind = Sum>, E: Dimension<Kind = Distinct>> Pending<D, E> {
    fn settle<B: Body>(self, response: &Response<B>) {
        if !self.failures.charges(response.status()) {
            return;
        }
        if let Some(seen) = self.seen {
            let marked = self
                .meter
                .usage(&seen.customer, seen.dimension)
                .mark(seen.identifier);
            if let Err(error) = marked {
                tracing::error!(target: "metering::tower", %error, customer = %seen.customer, dimension = seen.dimension.as_str(), "identifier not counted");
            }
        }
        if let Some(usage) = self.usage {
            charge(&self.meter, &usage, response);
        }
    }
}

/// Records `usage`'s quantity, measured on `response`.
fn charge<D: Dimension<Kind = Sum>, B: Body>(
    meter: &Meter,
    usage: &Usage<D>,
    response: &Response<B>,
) {
    let quantity = match usage.measure {
        Measure::Fixed(quantity) => Some(quantity),
        Measure::ResponseBytes => response_bytes(response),
        Measure::Response(measure) => measure(response.headers(), response.extensions()),
    };
    let Some(quantity) = quantity else { return };
    if let Err(error) = meter.record(&usage.customer, usage.dimension, quantity) {
        tracing::error!(target: "metering::tower", %error, customer = %usage.customer, dimension = usage.dimension.as_str(), %quantity, "usage not recorded");
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
    pub struct ResponseFuture<Fut, D, E = Nobody> {
        #[pin]
        inner: Fut,
        pending: Option<Pending<D, E>>,
    }
}

impl<Fut, D, E, B, Error> Future for ResponseFuture<Fut, D, E>
where
    Fut: Future<Output = Result<Response<B>, Error>>,
    D: Dimension<Kind = Sum>,
    E: Dimension<Kind = Distinct>,
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
