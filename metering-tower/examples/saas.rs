//! A SaaS product sold on AWS Marketplace, as an axum service metered by `metering-tower`:
//!
//! - `POST /register` is the registration URL AWS sends a new buyer's browser to: the
//!   `Registration` extractor resolves its `x-amzn-marketplace-token` through
//!   `ResolveCustomer` and the service answers with an API key for that customer;
//! - `GET /api/search` and `GET /api/export` are the product: an auth middleware turns the
//!   API key into the `Customer`, and `MeterLayer` records each answered request into the
//!   Meter (one API call, or the bytes exported), in memory;
//! - [`Saas::on_notification`] takes a subscription notification as the SQS queue delivers
//!   it (see the `sqs_consumer` example for the receive loop): an unsubscribe-pending seals
//!   and sends that customer's usage at once, an unsubscribe-success revokes their keys;
//! - `GET /metrics` is every series the Meter publishes (the README's metrics table), in
//!   Prometheus's text format, through the recorder the seller chose here
//!   (`metrics-exporter-prometheus`; the library forces none), and `GET /healthz` is
//!   [`Meter::health`]: 200 when it records, commits and sends, 503 and the problems
//!   otherwise. A real service would serve these two on an internal port.
//!
//! The Meter keeps its ledger in an `SQLite` file and sends through the real AWS SDK client;
//! here the client points at the emulator, which stands in for AWS Marketplace. Run it with
//! `cargo run -p metering-tower --features axum --example saas`: it registers a buyer, makes
//! a few requests over HTTP, delivers their unsubscribe notification, and prints what the
//! emulator billed. `tests/saas.rs` drives it the same way, across hours, and checks every
//! record billed; `tests/saas_operate.rs` scrapes its `/metrics` and `/healthz` meanwhile.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use marketplace_metering::{Clock, Customer, Dimension, Meter, Quantity, aws_sdk, metrics};
use metering_emulator::{Emulator, Registration as Token, RunningEmulator};
use metering_tower::{
    Action, Applied, Measure, MeterLayer, Registrar, Registration, SubscriptionEvent, Usage,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[allow(dead_code, reason = "shared by the examples, each using a part")]
mod common;
pub(crate) use common::{BoxError, PRODUCT, notification};

/// The product's dimensions, as its Marketplace listing names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
pub(crate) enum Product {
    /// One per search answered.
    ApiCalls,
    /// The bytes of each export answered.
    ExportedBytes,
}

/// What `GET /api/export` answers: a report, charged by its length in bytes.
pub(crate) const EXPORT: &str = "id,name,total\n1,alpha,12\n2,beta,30\n";

/// AWS Marketplace, stood in for by the emulator on 127.0.0.1: it knows the product, its
/// dimensions, and the registration tokens AWS gave the buyers.
///
/// # Errors
/// When the emulator cannot start.
pub(crate) async fn marketplace(
    clock: impl Clock + 'static,
    tokens: impl IntoIterator<Item = Token>,
) -> Result<RunningEmulator, BoxError> {
    Ok(Emulator::builder()
        .clock(clock)
        .products([PRODUCT])
        .known_dimensions(Product::ALL.iter().map(|dimension| dimension.as_str()))
        .registrations(tokens)
        .start()
        .await?)
}

/// The buckets of the two duration histograms, in seconds: a commit or a call takes
/// milliseconds, a slow one seconds.
const DURATION_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The process's Prometheus recorder, installed at the first call: a process has one
/// `metrics` recorder, and every Meter in it reports there.
///
/// # Errors
/// When another recorder was installed first.
pub(crate) fn prometheus() -> Result<PrometheusHandle, BoxError> {
    static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = &*installed {
        return Ok(handle.clone());
    }
    let mut builder = PrometheusBuilder::new();
    // With buckets they are Prometheus histograms (`_bucket`, `_sum`, `_count`), which
    // `histogram_quantile` aggregates across instances; without, summaries.
    for histogram in [metrics::COMMIT_DURATION, metrics::REQUEST_DURATION] {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(histogram.into()), &DURATION_BUCKETS)?;
    }
    // Each render drains what the histograms took since the last: no upkeep task needed
    // while something scrapes.
    let handle = builder.install_recorder()?;
    // Each series' unit and meaning, its `# HELP` line.
    metrics::describe();
    *installed = Some(handle.clone());
    Ok(handle)
}

/// What the handlers share: the meter, the registrar, the API keys issued, and the
/// metrics recorder.
#[derive(Clone)]
struct AppState {
    meter: Arc<Meter>,
    registrar: Registrar,
    keys: Arc<Mutex<HashMap<String, Customer>>>,
    prometheus: PrometheusHandle,
}

/// The `Registration` extractor finds its registrar in the state.
impl FromRef<AppState> for Registrar {
    fn from_ref(state: &AppState) -> Self {
        state.registrar.clone()
    }
}

/// The running service.
pub(crate) struct Saas {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    state: AppState,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Saas {
    /// Starts the service on 127.0.0.1, its Meter on a temporary `SQLite` file, sending to
    /// (and resolving tokens with) the AWS endpoint `aws_endpoint`, its metrics to the
    /// process's [`prometheus`] recorder.
    ///
    /// # Errors
    /// When the recorder, the ledger file, the meter or the listener cannot be opened.
    pub(crate) async fn start(
        clock: impl Clock + Clone + 'static,
        aws_endpoint: String,
    ) -> Result<Self, BoxError> {
        let client = aws_sdk::Client::from_conf(Emulator::sdk_config_at(&aws_endpoint));
        let dir = tempfile::tempdir()?;
        let meter = common::meter(&dir.path().join("meter.sqlite"), clock, &aws_endpoint)?;
        let state = AppState {
            meter: Arc::new(meter),
            registrar: Registrar::new(client),
            keys: Arc::default(),
            prometheus: prometheus()?,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(
            axum::serve(listener, router(state.clone()))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        Ok(Self {
            addr,
            state,
            stop,
            server,
            _dir: dir,
        })
    }

    /// The Meter, e.g. to flush it now rather than at its next interval.
    #[must_use]
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "`main` does not need it; tests/saas.rs does")
    )]
    pub(crate) fn meter(&self) -> &Meter {
        &self.state.meter
    }

    /// Handles a subscription notification, the body of an SQS message: the Meter's part
    /// (an unsubscribe-pending customer's usage sealed and sent), then the seller's (an
    /// unsubscribed customer's keys revoked). Delete the message only once this succeeds.
    ///
    /// # Errors
    /// A body that is no notification, or a flush that failed (try again later).
    pub(crate) async fn on_notification(&self, sqs_body: &str) -> Result<Applied, BoxError> {
        let applied = SubscriptionEvent::from_sqs_body(sqs_body)?
            .apply(&self.state.meter)
            .await?;
        if let Applied::Seller(event) = &applied
            && event.action == Action::UnsubscribeSuccess
        {
            let mut keys = self
                .state
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            keys.retain(|_, customer| *customer != event.customer);
        }
        Ok(applied)
    }

    /// Stops serving, then commits what the Meter holds.
    ///
    /// # Errors
    /// When the server failed, or the Meter could not commit.
    pub(crate) async fn shutdown(self) -> Result<(), BoxError> {
        let _ = self.stop.send(());
        self.server.await??;
        // Through the shared reference: clones of the router may still hold the meter.
        Ok(self.state.meter.close().await?)
    }
}

fn router(state: AppState) -> Router {
    // What each request costs, by route; the dimension is the product's enum.
    let usage = |request: &Request| {
        let customer = request.extensions().get::<Customer>()?.clone();
        let (dimension, measure) = match request.uri().path() {
            "/api/search" => (Product::ApiCalls, Measure::Fixed(Quantity::from(1_u16))),
            "/api/export" => (Product::ExportedBytes, Measure::ResponseBytes),
            _ => return None,
        };
        Some(Usage::new(customer, dimension, measure))
    };
    let api = Router::new()
        .route("/api/search", get(search))
        .route("/api/export", get(|| async { EXPORT }))
        // Layers run last added first: the key is checked, then the request is metered.
        .route_layer(MeterLayer::new(Arc::clone(&state.meter), usage))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/register", post(register))
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .merge(api)
        .with_state(state)
}

/// The buyer arrives from AWS Marketplace: their customer is resolved and given an API key.
/// (A real product would create an account and show a sign-up page.)
async fn register(State(state): State<AppState>, Registration(registered): Registration) -> String {
    let key = format!("key-{:016x}", fastrand::u64(..));
    state
        .keys
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.clone(), registered.customer);
    key
}

/// `GET /metrics`: the process's series, in Prometheus's text format.
async fn scrape(State(state): State<AppState>) -> ([(HeaderName, &'static str); 1], String) {
    let text_format = "text/plain; version=0.0.4; charset=utf-8";
    ([(CONTENT_TYPE, text_format)], state.prometheus.render())
}

/// `GET /healthz`: what [`Meter::health`] found, 503 when anything is wrong.
async fn healthz(State(state): State<AppState>) -> (StatusCode, String) {
    let health = state.meter.health();
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, health.to_string())
}

/// `Authorization: Bearer <key>` names the customer, put in the request's extensions for
/// the meter; any other request is answered 401 and costs nothing.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let key = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok()?.strip_prefix("Bearer "));
    let customer = key.and_then(|key| {
        let keys = state.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(key).cloned()
    });
    let Some(customer) = customer else {
        let mut response = Response::new(Body::from("unknown API key"));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    };
    request.extensions_mut().insert(customer);
    next.run(request).await
}

/// A search: `?q=` is required (a request without it is answered 400, and not charged).
async fn search(request: Request) -> (StatusCode, &'static str) {
    match request.uri().query() {
        Some(query) if query.starts_with("q=") => (StatusCode::OK, "3 results"),
        _ => (StatusCode::BAD_REQUEST, "missing ?q="),
    }
}

/// A minimal HTTP/1.1 client on loopback: what the buyer's browser and programs do.
pub(crate) mod client {
    use std::net::SocketAddr;

    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpStream;

    use super::BoxError;

    /// Sends `request` on a new connection to `addr`: the answer's status and body.
    ///
    /// # Errors
    /// When the connection or the exchange fails.
    pub(crate) async fn send(
        addr: SocketAddr,
        request: Request<String>,
    ) -> Result<(StatusCode, String), BoxError> {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        drop(sender);
        connection.await??;
        Ok((status, String::from_utf8(body.to_vec())?))
    }

    /// `POST /register` with the token AWS gives the buyer's browser.
    ///
    /// # Errors
    /// As [`send`].
    pub(crate) async fn register(
        addr: SocketAddr,
        token: &str,
    ) -> Result<(StatusCode, String), BoxError> {
        let request = Request::post(format!("http://{addr}/register"))
            .header("host", addr.to_string())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("x-amzn-marketplace-token={token}"))?;
        send(addr, request).await
    }

    /// `GET path`, as a probe or a scraper does: no API key.
    ///
    /// # Errors
    /// As [`send`].
    pub(crate) async fn probe(
        addr: SocketAddr,
        path: &str,
    ) -> Result<(StatusCode, String), BoxError> {
        send(addr, get_request(addr, path).body(String::new())?).await
    }

    fn get_request(addr: SocketAddr, path: &str) -> axum::http::request::Builder {
        Request::get(format!("http://{addr}{path}")).header("host", addr.to_string())
    }

    /// `GET path` with an API key.
    ///
    /// # Errors
    /// As [`send`].
    pub(crate) async fn get(
        addr: SocketAddr,
        path: &str,
        key: &str,
    ) -> Result<(StatusCode, String), BoxError> {
        let request = get_request(addr, path)
            .header("authorization", format!("Bearer {key}"))
            .body(String::new())?;
        send(addr, request).await
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    const ACCOUNT: &str = "111122223333";
    const LICENSE: &str = "arn:aws:license-manager::111122223333:license:l-0123456789abcdef";
    let clock = marketplace_metering::SystemClock;
    let aws = marketplace(
        clock,
        [Token::licensed("tok-buyer", ACCOUNT, PRODUCT, LICENSE)],
    )
    .await?;
    let saas = Saas::start(clock, aws.endpoint_url()).await?;
    let addr = saas.addr;

    let (status, key) = client::register(addr, "tok-buyer").await?;
    println!("POST /register -> {status} {key}");
    for path in [
        "/api/search?q=rust",
        "/api/search?q=tower",
        "/api/search",
        "/api/export",
    ] {
        let (status, _) = client::get(addr, path, &key).await?;
        println!("GET {path} -> {status}");
    }
    let (status, _) = client::get(addr, "/api/search?q=x", "key-forged").await?;
    println!("GET /api/search?q=x with a forged key -> {status}");

    let applied = saas
        .on_notification(&notification("unsubscribe-pending", ACCOUNT, LICENSE))
        .await?;
    println!("unsubscribe-pending -> {applied:?}");
    let (status, health) = client::probe(addr, "/healthz").await?;
    println!("GET /healthz -> {status}\n{health}");
    let (status, scraped) = client::probe(addr, "/metrics").await?;
    println!("GET /metrics -> {status}, the records' series:");
    for line in scraped
        .lines()
        .filter(|line| line.starts_with("metering_records"))
    {
        println!("  {line}");
    }
    saas.shutdown().await?;

    println!("billed by the emulator:");
    for entry in aws.ledger() {
        println!(
            "  {} {} {} {}",
            entry.customer, entry.hour, entry.dimension, entry.quantity
        );
    }
    Ok(())
}
