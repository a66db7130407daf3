//! `ResolveCustomer` through the real `aws-sdk-marketplacemetering` client: the answer's
//! members, a token resolving once, and the model's errors as the SDK types them.

mod common;

use aws_sdk_marketplacemetering as sdk;
use common::client;
use metering_emulator::{Emulator, EmulatorConfig, Registration, RunningEmulator};
use sdk::error::SdkError;
use sdk::operation::resolve_customer::{ResolveCustomerError, ResolveCustomerOutput};

const ACCOUNT: &str = "123456789012";
const PRODUCT: &str = "prod-example123";
const LICENSE: &str = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef";

async fn resolve(
    emulator: &RunningEmulator,
    token: &str,
) -> Result<ResolveCustomerOutput, SdkError<ResolveCustomerError>> {
    client(emulator)
        .resolve_customer()
        .registration_token(token)
        .send()
        .await
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .registrations([
            Registration::licensed("tok-new", ACCOUNT, PRODUCT, LICENSE)
                .with_agreement_id("agmt-1"),
            Registration::legacy("tok-old", "210987654321", PRODUCT, "cust-legacy-1"),
            Registration::licensed("tok-late", ACCOUNT, PRODUCT, LICENSE).expired(),
        ])
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_licensed_registration_answers_account_product_licence_and_agreement() {
    let emulator = emulator().await;
    let answer = resolve(&emulator, "tok-new").await.unwrap();
    assert_eq!(answer.customer_aws_account_id(), Some(ACCOUNT));
    assert_eq!(answer.product_code(), Some(PRODUCT));
    assert_eq!(answer.license_arn(), Some(LICENSE));
    assert_eq!(answer.customer_identifier(), None);
    assert_eq!(
        answer.metadata().and_then(|m| m.agreement_id()),
        Some("agmt-1")
    );
}

#[tokio::test]
async fn a_legacy_registration_answers_its_identifier_and_no_licence() {
    let emulator = emulator().await;
    let answer = resolve(&emulator, "tok-old").await.unwrap();
    assert_eq!(answer.customer_identifier(), Some("cust-legacy-1"));
    assert_eq!(answer.customer_aws_account_id(), Some("210987654321"));
    assert_eq!(answer.license_arn(), None);
    assert!(answer.metadata().is_none());
}

#[tokio::test]
async fn unknown_resubmitted_and_expired_tokens_get_the_models_exceptions() {
    let emulator = emulator().await;
    resolve(&emulator, "tok-new").await.unwrap();
    let again = resolve(&emulator, "tok-new")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(again.is_expired_token_exception(), "{again:?}");
    let late = resolve(&emulator, "tok-late")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(late.is_expired_token_exception(), "{late:?}");
    let unknown = resolve(&emulator, "tok-forged")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(unknown.is_invalid_token_exception(), "{unknown:?}");
}

#[tokio::test]
async fn a_disabled_api_refuses_resolving_too() {
    let emulator = Emulator::builder()
        .registrations([Registration::licensed("tok", ACCOUNT, PRODUCT, LICENSE)])
        .disabled_api(true)
        .start()
        .await
        .unwrap();
    let error = resolve(&emulator, "tok")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_disabled_api_exception(), "{error:?}");
}

#[tokio::test]
async fn registrations_read_from_the_configuration_resolve() {
    let config = EmulatorConfig::from_json(&format!(
        r#"{{"registrations": [{{"token": "tok-json", "customer_aws_account_id": "{ACCOUNT}",
             "product_code": "{PRODUCT}", "license_arn": "{LICENSE}"}}]}}"#
    ))
    .unwrap();
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let answer = resolve(&emulator, "tok-json").await.unwrap();
    assert_eq!(answer.license_arn(), Some(LICENSE));
}
