//! Registration through an axum router, resolved by the real SDK client against the
//! emulator.

#[path = "../../metering-emulator/tests/common/mod.rs"]
mod sdk_client;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header::CONTENT_TYPE};
use axum::routing::post;
use http_body_util::BodyExt;
use marketplace_metering::{Customer, CustomerAwsAccountId, LicenseArn, ProductCode};
use metering_emulator::{Emulator, Registration as Seeded, RunningEmulator};
use metering_tower::{Registrar, Registration};
use tower::ServiceExt;

const ACCOUNT: &str = "123456789012";
const PRODUCT: &str = "prod-example123";
const LICENSE: &str = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef";

fn registrar(emulator: &RunningEmulator) -> Registrar {
    Registrar::new(sdk_client::client(emulator))
}

/// The seller's registration page: who registered, as text.
fn app(emulator: &RunningEmulator) -> Router {
    Router::new()
        .route(
            "/register",
            post(|Registration(registered): Registration| async move {
                format!("{} {:?}", registered.customer, registered.agreement_id)
            }),
        )
        .with_state(registrar(emulator))
}

async fn post_form(app: &Router, body: &str) -> (StatusCode, String) {
    let request = Request::post("/register")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .registrations([
            Seeded::licensed("tok-new", ACCOUNT, PRODUCT, LICENSE).with_agreement_id("agmt-1"),
            Seeded::legacy("tok-old", "210987654321", PRODUCT, "cust-legacy-1"),
        ])
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_resolves_into_the_customer_the_answer_names() {
    let emulator = emulator().await;
    let app = app(&emulator);
    let licensed = Customer::Licensed {
        account: CustomerAwsAccountId::new(ACCOUNT).unwrap(),
        license: LicenseArn::new(LICENSE).unwrap(),
    };
    assert_eq!(
        post_form(&app, "x-amzn-marketplace-token=tok-new").await,
        (StatusCode::OK, format!("{licensed} Some(\"agmt-1\")"))
    );
    // A legacy answer also names an account: the account, with the product, is the customer.
    let legacy = registrar(&emulator).resolve("tok-old").await.unwrap();
    assert_eq!(
        legacy.customer,
        Customer::Account {
            product: ProductCode::new(PRODUCT).unwrap(),
            account: CustomerAwsAccountId::new("210987654321").unwrap(),
        }
    );
}

#[tokio::test]
async fn bad_tokens_are_typed_errors_answered_400() {
    let emulator = emulator().await;
    let app = app(&emulator);
    post_form(&app, "x-amzn-marketplace-token=tok-new").await;
    for (form, expected) in [
        ("x-amzn-marketplace-token=tok-new", "ExpiredTokenException"),
        (
            "x-amzn-marketplace-token=tok-forged",
            "InvalidTokenException",
        ),
        ("other=1", "x-amzn-marketplace-token"),
        ("x-amzn-marketplace-token=", "x-amzn-marketplace-token"),
    ] {
        let (status, text) = post_form(&app, form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {text}");
        assert!(text.contains(expected), "{form}: {text}");
    }
}

#[tokio::test]
async fn a_failing_service_is_answered_503() {
    let emulator = Emulator::builder()
        .disabled_api(true)
        .start()
        .await
        .unwrap();
    let (status, text) = post_form(&app(&emulator), "x-amzn-marketplace-token=tok").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("DisabledApiException"), "{text}");
}
