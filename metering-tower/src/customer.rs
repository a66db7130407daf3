//! The customer a notification or a `ResolveCustomer` answer names, in the mode it names.

use metering_core::{
    Customer, CustomerAwsAccountId, CustomerIdentifier, LicenseArn, ProductCode, ValidationError,
};

/// Why the members name no billable customer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerError {
    /// A member breaks the service's rule for that field.
    #[error("{0}")]
    Field(#[from] ValidationError),
    /// No combination of members names a customer the service bills.
    #[error(
        "no billable customer: it takes `CustomerAWSAccountId` with `LicenseArn` or `ProductCode`, or `ProductCode` with `CustomerIdentifier` (got: {0})"
    )]
    NoCustomer(String),
}

/// The members that may name a customer, as received.
#[derive(Debug, Default)]
pub(crate) struct Members {
    pub(crate) license: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) product: Option<String>,
    pub(crate) identifier: Option<String>,
}

impl Members {
    /// A licence with its account first (Concurrent Agreements), then an account with its
    /// product, then the legacy identifier with its product.
    pub(crate) fn customer(self) -> Result<Customer, CustomerError> {
        let described = format!("{self:?}");
        let customer = match (
            self.license,
            self.account,
            self.product.filter(|code| !code.is_empty()),
            // The Seller Guide's samples pad the identifier with a space; none has one.
            self.identifier
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty()),
        ) {
            (Some(license), Some(account), _, _) => Customer::Licensed {
                account: CustomerAwsAccountId::new(account)?,
                license: LicenseArn::new(license)?,
            },
            (None, Some(account), Some(product), _) => Customer::Account {
                product: ProductCode::new(product)?,
                account: CustomerAwsAccountId::new(account)?,
            },
            (None, None, Some(product), Some(identifier)) => Customer::Legacy {
                product: ProductCode::new(product)?,
                identifier: CustomerIdentifier::new(identifier)?,
            },
            _ => return Err(CustomerError::NoCustomer(described)),
        };
        Ok(customer)
    }
}
