//! Who is billed: the three ways the service identifies a customer.

use crate::strings::{CustomerAwsAccountId, CustomerIdentifier, LicenseArn, ProductCode};

/// The customer a record bills, in one of the service's three modes. A value holds exactly
/// one mode, so a record can never mix them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Customer {
    /// Legacy: the product and the identifier `ResolveCustomer` returned.
    Legacy {
        /// The product billed.
        product: ProductCode,
        /// The customer's legacy identifier.
        identifier: CustomerIdentifier,
    },
    /// The product and the customer's AWS account ID.
    Account {
        /// The product billed.
        product: ProductCode,
        /// The customer's AWS account.
        account: CustomerAwsAccountId,
    },
    /// Concurrent Agreements (required for software products listed since June 2026): the
    /// customer's AWS account ID and licence ARN, and no product code.
    Licensed {
        /// The customer's AWS account.
        account: CustomerAwsAccountId,
        /// The licence billed.
        license: LicenseArn,
    },
}

/// What one `BatchMeterUsage` request is about: a single product, or licence-based records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestScope {
    /// Records of one product (the request carries its `ProductCode`).
    Product(ProductCode),
    /// Licence-based records (the request carries no `ProductCode`).
    Licensed,
}

impl Customer {
    /// The product code the request must carry, if this mode has one.
    #[must_use]
    pub fn product(&self) -> Option<&ProductCode> {
        match self {
            Self::Legacy { product, .. } | Self::Account { product, .. } => Some(product),
            Self::Licensed { .. } => None,
        }
    }

    /// The request this customer's records can travel in.
    #[must_use]
    pub fn scope(&self) -> RequestScope {
        self.product().map_or(RequestScope::Licensed, |product| {
            RequestScope::Product(product.clone())
        })
    }

    /// The customer's AWS account, in the modes that name one.
    #[must_use]
    pub fn account(&self) -> Option<&CustomerAwsAccountId> {
        match self {
            Self::Account { account, .. } | Self::Licensed { account, .. } => Some(account),
            Self::Legacy { .. } => None,
        }
    }
}
