//! `ResolveCustomer`: the registration tokens the emulator knows, and its answers.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, ServiceError};

/// A registration token the emulator resolves, and what `ResolveCustomer` answers for it
/// (the `ResolveCustomerResult` members). A token resolves once: like the service, the
/// emulator answers `ExpiredTokenException` when it is submitted again, and
/// `InvalidTokenException` for a token it was not configured with.
///
/// In JSON (the `registrations` member of [`EmulatorConfig`](crate::EmulatorConfig)):
/// `{"token": "...", "customer_aws_account_id": "...", "product_code": "...",
/// "license_arn": "...", "customer_identifier": "...", "agreement_id": "...",
/// "expired": false}`, the last four optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Registration {
    /// The `x-amzn-marketplace-token` the buyer's browser brings.
    pub token: String,
    /// `CustomerAWSAccountId`.
    pub customer_aws_account_id: String,
    /// `ProductCode`.
    pub product_code: String,
    /// `LicenseArn` (absent for a legacy integration).
    #[serde(default)]
    pub license_arn: Option<String>,
    /// `CustomerIdentifier` (only legacy integrations get one).
    #[serde(default)]
    pub customer_identifier: Option<String>,
    /// `Metadata.AgreementId`.
    #[serde(default)]
    pub agreement_id: Option<String>,
    /// Answer `ExpiredTokenException` from the first submission on.
    #[serde(default)]
    pub expired: bool,
}

impl Registration {
    /// A new integration's answer: the account, the product and the licence.
    pub fn licensed(
        token: impl Into<String>,
        account: impl Into<String>,
        product: impl Into<String>,
        license: impl Into<String>,
    ) -> Self {
        Self {
            token: token.into(),
            customer_aws_account_id: account.into(),
            product_code: product.into(),
            license_arn: Some(license.into()),
            customer_identifier: None,
            agreement_id: None,
            expired: false,
        }
    }

    /// A legacy integration's answer: the account, the product and a `CustomerIdentifier`.
    pub fn legacy(
        token: impl Into<String>,
        account: impl Into<String>,
        product: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Self {
        Self {
            token: token.into(),
            customer_aws_account_id: account.into(),
            product_code: product.into(),
            license_arn: None,
            customer_identifier: Some(identifier.into()),
            agreement_id: None,
            expired: false,
        }
    }

    /// With `Metadata.AgreementId`.
    #[must_use]
    pub fn with_agreement_id(mut self, agreement: impl Into<String>) -> Self {
        self.agreement_id = Some(agreement.into());
        self
    }

    /// A token that has already expired.
    #[must_use]
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    /// The `ResolveCustomerResult` body.
    pub(crate) fn answer(&self) -> Vec<u8> {
        let mut out = Map::new();
        let mut put = |key: &str, value: Option<&String>| {
            if let Some(value) = value {
                out.insert(key.to_owned(), Value::String(value.clone()));
            }
        };
        put("CustomerAWSAccountId", Some(&self.customer_aws_account_id));
        put("ProductCode", Some(&self.product_code));
        put("LicenseArn", self.license_arn.as_ref());
        put("CustomerIdentifier", self.customer_identifier.as_ref());
        if let Some(agreement) = &self.agreement_id {
            out.insert(
                "Metadata".to_owned(),
                serde_json::json!({ "AgreementId": agreement }),
            );
        }
        Value::Object(out).to_string().into_bytes()
    }
}

/// The token of a `ResolveCustomerRequest` body.
pub(crate) fn token(body: &[u8]) -> Result<String, ServiceError> {
    #[derive(Deserialize)]
    struct Request {
        #[serde(rename = "RegistrationToken")]
        token: Option<String>,
    }
    let request: Request = serde_json::from_slice(body).map_err(|e| {
        ServiceError::new(ErrorKind::Serialization, format!("Malformed request: {e}"))
    })?;
    match request.token {
        Some(token) if !token.is_empty() => Ok(token),
        _ => Err(ServiceError::new(
            ErrorKind::Validation,
            "1 validation error detected: Value at 'registrationToken' failed to satisfy constraint: Member must not be null or empty",
        )),
    }
}

pub(crate) fn invalid() -> ServiceError {
    ServiceError::new(ErrorKind::InvalidToken, "Registration token is invalid")
}

pub(crate) fn expired() -> ServiceError {
    ServiceError::new(
        ErrorKind::ExpiredToken,
        "The submitted registration token has expired",
    )
}
