//! The layer over a real `Meter` and `SqliteLedger`: what each request is charged, as the
//! ledger seals it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::Full;
use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, ManualClock, Meter, MeterConfig, ProductCode,
    Quantity, Timestamp,
};
use metering_core::ledger::{Ledger, LedgerInspection, SqliteLedger};
use metering_tower::{Failures, FromExtensions, Measure, MeterLayer, Usage};
use tower::{Layer, ServiceExt, service_fn};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Api {
    #[metering(rename = "calls")]
    Calls,
    #[metering(rename = "bytes")]
    Bytes,
}

/// A time inside an hour, whatever the day.
const NOW: &str = "2026-03-01T00:10:00Z";

struct Fixture {
    meter: Arc<Meter>,
    ledger: SqliteLedger,
    now: Timestamp,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("ledger.db")).unwrap();
        let now = Timestamp::parse_rfc3339(NOW).unwrap();
        let meter = Meter::builder()
            .config(MeterConfig::new().with_clock(ManualClock::new(now)))
            .ledger(ledger.clone())
            .build()
            .unwrap();
        Self {
            meter: Arc::new(meter),
            ledger,
            now,
            _dir: dir,
        }
    }

    /// `(customer, dimension, quantity)` of every record, once the hour is sealed.
    async fn billed(&self) -> Vec<(String, String, Quantity)> {
        self.meter.commit().await.unwrap();
        let later = self.now.saturating_add(Duration::from_hours(2));
        self.ledger.seal(later, later).await.unwrap();
        let mut billed: Vec<_> = self
            .ledger
            .records(None)
            .await
            .unwrap()
            .into_iter()
            .filter(|stored| !stored.record.quantity().is_zero())
            .map(|stored| {
                (
                    stored.record.customer().to_string(),
                    stored.record.dimension().as_str().to_owned(),
                    stored.record.quantity(),
                )
            })
            .collect();
        billed.sort();
        billed
    }
}

fn customer(account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-example123").unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

fn q(units: u64) -> Quantity {
    Quantity::new(units).unwrap()
}

/// Answers with the status in the `status` header and a body of `len` bytes.
async fn handler(request: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| -> u16 {
        request
            .headers()
            .get(name)
            .map_or(0, |value| value.to_str().unwrap().parse().unwrap())
    };
    let mut response = Response::new(Full::new(Bytes::from(vec![b'x'; header("len").into()])));
    *response.status_mut() = StatusCode::from_u16(header("status").max(200)).unwrap();
    Ok(response)
}

fn request(account: &str, status: u16, len: usize) -> Request<()> {
    Request::builder()
        .header("account", account)
        .header("status", status)
        .header("len", len)
        .body(())
        .unwrap()
}

/// One call and the response's bytes, to the account the `account` header names.
fn usage(request: &Request<()>, dimension: Api, measure: Measure) -> Option<Usage<Api>> {
    let account = request.headers().get("account")?.to_str().ok()?;
    Some(Usage::new(customer(account), dimension, measure))
}

#[tokio::test]
async fn each_request_is_charged_its_customer_dimension_and_quantity() {
    let fixture = Fixture::new();
    let calls = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(request, Api::Calls, Measure::Fixed(q(1)))
    });
    let bytes = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(request, Api::Bytes, Measure::ResponseBytes)
    });
    let service = calls.layer(bytes.layer(service_fn(handler)));
    for (account, len) in [
        ("111111111111", 10),
        ("111111111111", 5),
        ("222222222222", 7),
    ] {
        service
            .clone()
            .oneshot(request(account, 200, len))
            .await
            .unwrap();
    }
    // No customer: not charged.
    service.clone().oneshot(Request::new(())).await.unwrap();
    let one = customer("111111111111").to_string();
    let two = customer("222222222222").to_string();
    assert_eq!(
        fixture.billed().await,
        vec![
            (one.clone(), "bytes".to_owned(), q(15)),
            (one, "calls".to_owned(), q(2)),
            (two.clone(), "bytes".to_owned(), q(7)),
            (two, "calls".to_owned(), q(1)),
        ]
    );
}

async fn billed_with(failures: Failures) -> Quantity {
    let fixture = Fixture::new();
    let layer = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(request, Api::Calls, Measure::Fixed(q(1)))
    })
    .failures(failures);
    let service = layer.layer(service_fn(handler));
    // 1 success, 2 client errors, 4 server errors: each total tells which were charged.
    for (status, times) in [(200, 1), (404, 2), (503, 4)] {
        for _ in 0..times {
            service
                .clone()
                .oneshot(request("111111111111", status, 0))
                .await
                .unwrap();
        }
    }
    Quantity::checked_sum(
        fixture
            .billed()
            .await
            .into_iter()
            .map(|(_, _, quantity)| quantity),
    )
    .unwrap()
}

#[tokio::test]
async fn failed_requests_cost_what_the_seller_chose() {
    assert_eq!(billed_with(Failures::Skip).await, q(1));
    assert_eq!(billed_with(Failures::Count).await, q(7));
    assert_eq!(
        billed_with(Failures::ByStatus(|status| status.is_client_error())).await,
        q(3)
    );
}

#[tokio::test]
async fn the_customer_can_come_from_the_auth_layers_extension() {
    let fixture = Fixture::new();
    let layer = MeterLayer::new(
        Arc::clone(&fixture.meter),
        FromExtensions::new(Api::Calls, Measure::Fixed(q(3))),
    );
    let service = layer.layer(service_fn(handler));
    let mut authed = request("ignored", 200, 0);
    authed.extensions_mut().insert(customer("333333333333"));
    service.clone().oneshot(authed).await.unwrap();
    service
        .clone()
        .oneshot(request("ignored", 200, 0))
        .await
        .unwrap();
    assert_eq!(
        fixture.billed().await,
        vec![(
            customer("333333333333").to_string(),
            "calls".to_owned(),
            q(3)
        )]
    );
}

#[derive(Clone, Copy)]
struct Items(u64);

#[tokio::test]
async fn the_quantity_can_come_from_the_response() {
    let fixture = Fixture::new();
    let layer = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(
            request,
            Api::Calls,
            Measure::Response(|_, extensions| extensions.get::<Items>().map(|items| q(items.0))),
        )
    });
    let service = layer.layer(service_fn(|request: Request<()>| async move {
        let mut response = handler(request).await?;
        response.extensions_mut().insert(Items(12));
        Ok::<_, Infallible>(response)
    }));
    service
        .oneshot(request("111111111111", 200, 0))
        .await
        .unwrap();
    assert_eq!(fixture.billed().await[0].2, q(12));
}

/// A body whose length is not known in advance.
struct Streamed;

impl Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(None)
    }
}

#[tokio::test]
async fn a_streamed_body_of_unknown_length_is_not_charged_by_bytes() {
    let fixture = Fixture::new();
    let layer = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(request, Api::Bytes, Measure::ResponseBytes)
    });
    let service = layer.layer(service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Streamed))
    }));
    service
        .oneshot(request("111111111111", 200, 0))
        .await
        .unwrap();
    assert!(fixture.billed().await.is_empty());
}

#[tokio::test]
async fn a_disabled_layer_charges_nothing() {
    let fixture = Fixture::new();
    let layer = MeterLayer::new(Arc::clone(&fixture.meter), |request: &Request<()>| {
        usage(request, Api::Calls, Measure::Fixed(q(1)))
    })
    .enabled(false);
    let service = layer.layer(service_fn(handler));
    service
        .oneshot(request("111111111111", 200, 0))
        .await
        .unwrap();
    assert!(fixture.billed().await.is_empty());
}

/// Billed once per hour per user, however many requests each made.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "distinct")]
enum Users {
    #[metering(rename = "active_users")]
    Active,
}

/// The seller's user ID, put in the request's extensions by its auth layer.
#[derive(Clone)]
struct UserId(String);

impl From<UserId> for marketplace_metering::kind::Identifier {
    fn from(user: UserId) -> Self {
        Self::from(user.0.as_str())
    }
}

/// Over real HTTP on 127.0.0.1: an axum server whose auth layer puts the customer and the
/// user in each request's extensions, and the meter layer charges a call and counts the
/// user. Alice's account: 3 requests by user 1, one by user 2, a failed one by user 3 (not
/// charged, not counted); Bob's account: one request by user 1 (another customer's key).
#[tokio::test]
async fn distinct_users_per_hour_over_http() {
    use axum::body::Body as AxumBody;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::TokioIo;
    use metering_tower::SeenFromExtensions;

    let fixture = Fixture::new();
    let layer = MeterLayer::new(
        Arc::clone(&fixture.meter),
        FromExtensions::new(Api::Calls, Measure::Fixed(q(1))),
    )
    .distinct(SeenFromExtensions::<Users, UserId>::new(Users::Active));
    let authenticate = |mut request: Request<AxumBody>| {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let (account, user) = (header("x-account"), header("x-user"));
        if let (Some(account), Some(user)) = (account, user) {
            request.extensions_mut().insert(customer(&account));
            request.extensions_mut().insert(UserId(user));
        }
        request
    };
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .route(
            "/fail",
            axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .layer(layer)
        .layer(tower::util::MapRequestLayer::new(authenticate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (alice, bob) = ("111111111111", "222222222222");
    for (path, account, user, status) in [
        ("/", alice, "user-1", 200),
        ("/", alice, "user-1", 200),
        ("/", alice, "user-2", 200),
        ("/", alice, "user-1", 200),
        ("/fail", alice, "user-3", 500),
        ("/", bob, "user-1", 200),
    ] {
        let request = Request::get(path)
            .header("host", addr.to_string())
            .header("x-account", account)
            .header("x-user", user)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        response.into_body().collect().await.unwrap();
    }
    let (alice, bob) = (customer(alice).to_string(), customer(bob).to_string());
    assert_eq!(
        fixture.billed().await,
        [
            (alice.clone(), "active_users".to_owned(), q(2)),
            (alice, "calls".to_owned(), q(4)),
            (bob.clone(), "active_users".to_owned(), q(1)),
            (bob, "calls".to_owned(), q(1)),
        ]
    );
}
