//! Registration: the buyer's `x-amzn-marketplace-token`, resolved through `ResolveCustomer`
//! into the library's [`Customer`], as an axum extractor.

use axum::extract::{Form, FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use metering_core::Customer;
use metering_core::aws_sdk::Client;
use metering_core::aws_sdk::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use metering_core::aws_sdk::operation::resolve_customer::ResolveCustomerError;
use serde::Deserialize;

use crate::customer::{CustomerError, Members};

/// The form field AWS posts to the seller's registration URL.
pub const TOKEN_FIELD: &str = "x-amzn-marketplace-token";

/// Resolves registration tokens through `ResolveCustomer` with an AWS SDK client (the
/// seller's account's credentials). Put it in the router's state for [`Registration`].
#[derive(Debug, Clone)]
pub struct Registrar {
    client: Client,
}

/// A resolved registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registered {
    /// The customer, in the mode the answer names: account and licence when it has a
    /// licence, else account and product, else the legacy identifier and product.
    pub customer: Customer,
    /// `Metadata.AgreementId`, when the answer has one.
    pub agreement_id: Option<String>,
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The request is no form with a non-empty `x-amzn-marketplace-token`.
    #[error("the registration request has no `{TOKEN_FIELD}` form field: {0}")]
    MissingToken(String),
    /// `InvalidTokenException`: the token was never issued for this seller's product.
    #[error("InvalidTokenException: the registration token is invalid: {0}")]
    InvalidToken(String),
    /// `ExpiredTokenException`: the token expired or was already used; the buyer should
    /// register again from AWS Marketplace.
    #[error("ExpiredTokenException: the registration token has expired or was already used: {0}")]
    ExpiredToken(String),
    /// Throttling, an internal error, a disabled API or no answer: worth retrying later.
    #[error("ResolveCustomer failed: {}", DisplayErrorContext(.0))]
    Service(Box<SdkError<ResolveCustomerError>>),
    /// The answer names no billable customer.
    #[error("ResolveCustomer answered {0}")]
    Customer(#[from] CustomerError),
}

impl Registrar {
    /// Resolves through `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Resolves `token` (once: the service expires a token it has resolved).
    ///
    /// # Errors
    /// See [`RegistrationError`].
    pub async fn resolve(&self, token: &str) -> Result<Registered, RegistrationError> {
        if token.is_empty() {
            return Err(RegistrationError::MissingToken("it is empty".to_owned()));
        }
        let answer = self
            .client
            .resolve_customer()
            .registration_token(token)
            .send()
            .await
            .map_err(|error| {
                let message = || error.message().unwrap_or_default().to_owned();
                match error.as_service_error() {
                    Some(e) if e.is_invalid_token_exception() => {
                        RegistrationError::InvalidToken(message())
                    }
                    Some(e) if e.is_expired_token_exception() => {
                        RegistrationError::ExpiredToken(message())
                    }
                    _ => RegistrationError::Service(Box::new(error)),
                }
            })?;
        let customer = Members {
            license: answer.license_arn,
            account: answer.customer_aws_account_id,
            product: answer.product_code,
            identifier: answer.customer_identifier,
        }
        .customer()?;
        Ok(Registered {
            customer,
            agreement_id: answer.metadata.and_then(|metadata| metadata.agreement_id),
        })
    }
}

/// The token form AWS posts.
#[derive(Deserialize)]
struct TokenForm {
    #[serde(rename = "x-amzn-marketplace-token")]
    token: String,
}

/// An axum extractor: the registration form's token, resolved by the state's [`Registrar`].
/// Its rejection is the [`RegistrationError`], answered 400 for a missing, invalid or
/// expired token, 502 for an answer naming no customer, 503 when the service failed.
#[derive(Debug, Clone)]
pub struct Registration(pub Registered);

impl<S> FromRequest<S> for Registration
where
    S: Send + Sync,
    Registrar: FromRef<S>,
{
    type Rejection = RegistrationError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Form(form) = Form::<TokenForm>::from_request(request, state)
            .await
            .map_err(|rejection| RegistrationError::MissingToken(rejection.body_text()))?;
        Registrar::from_ref(state)
            .resolve(&form.token)
            .await
            .map(Registration)
    }
}

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::MissingToken(_) | Self::InvalidToken(_) | Self::ExpiredToken(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Customer(_) => StatusCode::BAD_GATEWAY,
            Self::Service(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, self.to_string()).into_response()
    }
}
