//! What `MeterLayer` costs a hello-world axum service: the same service without a layer,
//! with a layer that does nothing, and with `MeterLayer`, applied the two ways a seller can:
//! on the router's routes (`Router::layer`) or around the whole router (a tower service
//! wrapping it). Each is driven in-process (`tower::ServiceExt::oneshot`) and over loopback
//! HTTP/1.1 (keep-alive connections, 1 and 16 at once), in one run.
//!
//! `cargo bench -p metering-tower --bench layer`
//!
//! Every variant has the same stand-in for an auth layer, which puts the `Customer` in the
//! request's extensions; the metered ones charge it one `api_calls` per request
//! (`FromExtensions`) into a real Meter on an `SQLite` file, acknowledged in memory
//! (`Meter::record`). Its writer commits to the file every second in the background, as in
//! production; nothing is sent (no submitter).
//!
//! Criterion reports each variant's time per request (latency; over 16 connections, the
//! time per request of the whole) and requests per second. This shared machine's speed
//! drifts within a minute, which makes two benchmarks run one after the other hard to
//! compare to a few percent, so throughput ratios are also measured in alternating rounds
//! (a, b, b, a, ...) and taken round by round; they are printed last.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, Meter, ProductCode, Quantity,
};
use metering_tower::{FromExtensions, Measure, MeterLayer};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tower::layer::util::Identity;
use tower::util::MapRequestLayer;
use tower::{Layer, Service, ServiceExt};

/// One dimension per way of applying the layer, so that each is seen recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Api {
    CallsOnRoutes,
    CallsAroundRouter,
}

/// Connections of the concurrent HTTP runs.
const CONNECTIONS: usize = 16;
/// Alternating rounds for the ratios, and requests per round for each way of driving.
const ROUNDS: usize = 60;
const ONESHOT_ROUND: u64 = 20_000;
const HTTP_ROUND: u64 = 1_000;

/// The customer the auth stand-in finds.
static CUSTOMER: LazyLock<Customer> = LazyLock::new(|| Customer::Account {
    product: ProductCode::new("prod-bench").unwrap(),
    account: CustomerAwsAccountId::new("123456789012").unwrap(),
});

/// The auth stand-in: the customer, in the request's extensions (a layer around the router,
/// as an auth layer usually is).
fn authenticate(mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(CUSTOMER.clone());
    request
}

fn meter_layer(meter: &Arc<Meter>, dimension: Api) -> MeterLayer<FromExtensions<Api>> {
    MeterLayer::new(
        Arc::clone(meter),
        FromExtensions::new(dimension, Measure::Fixed(Quantity::from(1_u16))),
    )
}

/// The hello-world router, its routes made once as `axum::serve` makes them (a router
/// called as a service without `with_state` makes each handler's route, layers included,
/// again for every request).
fn hello(layered: impl FnOnce(Router) -> Router) -> Router {
    layered(Router::new().route("/", get(|| async { "Hello, World!" }))).with_state(())
}

/// A service as the benchmark drives it.
trait HelloWorld:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HelloWorld for S where
    S: Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// `count` requests through `service` in-process, one after the other.
async fn oneshot(service: &impl HelloWorld, count: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..count {
        let request = Request::get("/").body(Body::empty()).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    started.elapsed()
}

/// A keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// A served variant: its address, and its connection pools (one connection, and many).
struct Served {
    addr: SocketAddr,
    one: Vec<SendRequest<Empty<Bytes>>>,
    many: Vec<SendRequest<Empty<Bytes>>>,
}

impl Served {
    async fn start(service: impl HelloWorld) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let make = axum::ServiceExt::<Request<Body>>::into_make_service(service);
        tokio::spawn(async move { axum::serve(listener, make).await });
        let mut many = Vec::new();
        for _ in 0..CONNECTIONS {
            many.push(connect(addr).await);
        }
        Self {
            addr,
            one: vec![connect(addr).await],
            many,
        }
    }

    /// `count` requests over one connection or many, each sending its share one after the
    /// other.
    async fn run(&mut self, many: bool, count: u64) -> Duration {
        let (addr, pool) = (self.addr, if many { &mut self.many } else { &mut self.one });
        let share = count.div_ceil(pool.len() as u64);
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for mut sender in pool.drain(..) {
            tasks.spawn(async move {
                for _ in 0..share {
                    sender.ready().await.unwrap();
                    let request = Request::get(format!("http://{addr}/"))
                        .body(Empty::new())
                        .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    response.into_body().collect().await.unwrap();
                }
                sender
            });
        }
        while let Some(sender) = tasks.join_next().await {
            pool.push(sender.unwrap());
        }
        started.elapsed()
    }
}

/// Throughput of `b` over throughput of `a`: the median of round-by-round ratios, with the
/// quartiles.
fn ratio(mut run: impl FnMut(usize) -> Duration, a: usize, b: usize) -> [f64; 3] {
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always follows the other.
        let (a_time, b_time) = if round % 2 == 0 {
            (run(a), run(b))
        } else {
            let b_time = run(b);
            (run(a), b_time)
        };
        ratios.push(a_time.as_secs_f64() / b_time.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    [ROUNDS / 4, ROUNDS / 2, 3 * ROUNDS / 4].map(|index| ratios[index])
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let meter =
        runtime.block_on(async { Arc::new(Meter::open(dir.path().join("meter.sqlite")).unwrap()) });

    let names = ["bare", "identity", "metered_routes", "metered_router"];
    let (bare, identity, on_routes, around) = (0, 1, 2, 3);
    // The same auth stand-in in front of each.
    let auth = MapRequestLayer::new(authenticate as fn(_) -> _);
    let services = (
        auth.layer(hello(|router| router)),
        auth.layer(hello(|router| router.layer(Identity::new()))),
        auth.layer(hello(|router| {
            router.layer(meter_layer(&meter, Api::CallsOnRoutes))
        })),
        auth.layer(meter_layer(&meter, Api::CallsAroundRouter).layer(hello(|router| router))),
    );
    let in_process = |variant: usize, count: u64| match variant {
        0 => runtime.block_on(oneshot(&services.0, count)),
        1 => runtime.block_on(oneshot(&services.1, count)),
        2 => runtime.block_on(oneshot(&services.2, count)),
        _ => runtime.block_on(oneshot(&services.3, count)),
    };
    let mut served = runtime.block_on(async {
        [
            Served::start(services.0.clone()).await,
            Served::start(services.1.clone()).await,
            Served::start(services.2.clone()).await,
            Served::start(services.3.clone()).await,
        ]
    });

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut group = criterion.benchmark_group("hello_world");
    group.throughput(Throughput::Elements(1));
    for (variant, name) in names.iter().enumerate() {
        group.bench_function(format!("oneshot/{name}"), |b| {
            b.iter_custom(|count| in_process(variant, count));
        });
        for (many, connections) in [(false, 1), (true, CONNECTIONS)] {
            group.bench_function(format!("http_{connections}/{name}"), |b| {
                b.iter_custom(|count| runtime.block_on(served[variant].run(many, count)));
            });
        }
    }
    group.finish();

    println!("\nthroughput ratios, {ROUNDS} alternating rounds: median (quartiles)");
    let print = |what: &str, [low, median, high]: [f64; 3]| {
        println!(
            "  {what:<44} {median:.3} ({low:.3} to {high:.3}): {:+.1}% of throughput",
            (median - 1.0) * 100.0
        );
    };
    for (a, b) in [
        (bare, identity),
        (bare, on_routes),
        (identity, on_routes),
        (bare, around),
    ] {
        let what = format!("oneshot, {} / {}", names[b], names[a]);
        print(
            &what,
            ratio(|variant| in_process(variant, ONESHOT_ROUND), a, b),
        );
    }
    for (many, connections) in [(false, 1), (true, CONNECTIONS)] {
        for b in [on_routes, around] {
            let what = format!("http {connections}, {} / bare", names[b]);
            let run = |variant: usize| runtime.block_on(served[variant].run(many, HTTP_ROUND));
            print(&what, ratio(run, bare, b));
        }
    }
    // Both metered services did record, each into its key, and the writer kept committing.
    runtime.block_on(meter.commit()).unwrap();
    let status = runtime.block_on(meter.status()).unwrap();
    assert_eq!(status.open_keys, 2, "{status:?}");
    println!("meter: {status:?}");
    criterion.final_summary();
}
