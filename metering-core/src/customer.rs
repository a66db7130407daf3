//! Who is billed: the three ways the service identifies a customer.

use crate::error::{Rule, ValidationError};
use crate::strings::{CustomerAwsAccountId, CustomerIdentifier, LicenseArn, ProductCode};

/// The customer a record bills, in one of the service's three modes. A value holds exactly
/// one mode, so a record can never mix them.
///
/// ```
/// use metering_core::{Customer, RequestScope};
///
/// // As `ResolveCustomer` named them; each part is checked as it is parsed.
/// let customer = Customer::Account {
///     product: "prod-example123".parse()?,
///     account: "123456789012".parse()?,
/// };
/// assert_eq!(customer.product().map(|p| p.as_str()), Some("prod-example123"));
/// assert_eq!(customer.scope(), RequestScope::Product("prod-example123".parse()?));
/// // An account ID is digits: anything else is refused, naming the field.
/// let error = "1234-5678-9012".parse::<metering_core::CustomerAwsAccountId>().unwrap_err();
/// assert!(error.to_string().contains("CustomerAWSAccountId"), "{error}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

/// A customer's wire fields, borrowed: what a `UsageRecords` entry (and, for the product,
/// its request) carries. Every mode is read and written through this one view, so a new
/// mode changes [`Customer::wire_fields`] and [`Customer::from_wire_fields`] and nothing
/// else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerFields<'a> {
    /// `ProductCode` (carried by the request, once for all its records).
    pub product_code: Option<&'a ProductCode>,
    /// `CustomerIdentifier`.
    pub customer_identifier: Option<&'a CustomerIdentifier>,
    /// `CustomerAWSAccountId`.
    pub customer_aws_account_id: Option<&'a CustomerAwsAccountId>,
    /// `LicenseArn`.
    pub license_arn: Option<&'a LicenseArn>,
}

impl<'a> CustomerFields<'a> {
    /// The fields by wire name, in the order the service model lists them; absent ones
    /// are `None`.
    #[must_use]
    pub fn named(&self) -> [(&'static str, Option<&'a str>); 4] {
        [
            (
                ProductCode::FIELD,
                self.product_code.map(ProductCode::as_str),
            ),
            (
                CustomerIdentifier::FIELD,
                self.customer_identifier.map(CustomerIdentifier::as_str),
            ),
            (
                CustomerAwsAccountId::FIELD,
                self.customer_aws_account_id
                    .map(CustomerAwsAccountId::as_str),
            ),
            (LicenseArn::FIELD, self.license_arn.map(LicenseArn::as_str)),
        ]
    }

    /// The fields present, by wire name, without the product code (which the request
    /// carries, not the record).
    pub fn record_fields(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        self.named()
            .into_iter()
            .skip(1)
            .filter_map(|(name, value)| Some((name, value?)))
    }
}

/// Which combination of customer fields names no customer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerFieldsError {
    /// No `LicenseArn` and no `ProductCode`: a product mode without its product.
    #[error("ProductCode: is required for records without a LicenseArn")]
    MissingProduct,
    /// `ProductCode` with `LicenseArn`: licence-based records carry no product code.
    #[error("ProductCode: cannot be combined with LicenseArn (Concurrent Agreements)")]
    ProductWithLicense,
    /// Neither `CustomerIdentifier` nor `CustomerAWSAccountId`.
    #[error("CustomerAWSAccountId: is required (or, for legacy records, CustomerIdentifier)")]
    MissingCustomer,
    /// `LicenseArn` without `CustomerAWSAccountId`.
    #[error("CustomerAWSAccountId: is required with LicenseArn")]
    LicenseWithoutAccount,
    /// `CustomerIdentifier` with `CustomerAWSAccountId`.
    #[error("CustomerIdentifier: cannot be combined with CustomerAWSAccountId")]
    IdentifierWithAccount,
    /// `CustomerIdentifier` with `LicenseArn`.
    #[error("CustomerIdentifier: cannot be combined with LicenseArn")]
    IdentifierWithLicense,
}

impl CustomerFieldsError {
    /// The wire field at fault and the rule it breaks.
    #[must_use]
    pub fn field_and_rule(self) -> (&'static str, Rule) {
        match self {
            Self::MissingProduct => (ProductCode::FIELD, Rule::Required),
            Self::ProductWithLicense => (ProductCode::FIELD, Rule::Exclusive(LicenseArn::FIELD)),
            Self::MissingCustomer | Self::LicenseWithoutAccount => {
                (CustomerAwsAccountId::FIELD, Rule::Required)
            }
            Self::IdentifierWithAccount => (
                CustomerIdentifier::FIELD,
                Rule::Exclusive(CustomerAwsAccountId::FIELD),
            ),
            Self::IdentifierWithLicense => (
                CustomerIdentifier::FIELD,
                Rule::Exclusive(LicenseArn::FIELD),
            ),
        }
    }

    /// This error as a [`ValidationError`], with the offending value taken from `fields`.
    #[must_use]
    pub fn to_validation_error(self, fields: &CustomerFields<'_>) -> ValidationError {
        let (field, rule) = self.field_and_rule();
        let value = fields
            .named()
            .into_iter()
            .find_map(|(name, value)| (name == field).then_some(value).flatten())
            .unwrap_or_default();
        ValidationError::new(field, rule, value)
    }
}

impl Customer {
    /// This customer's wire fields.
    #[must_use]
    pub fn wire_fields(&self) -> CustomerFields<'_> {
        match self {
            Self::Legacy {
                product,
                identifier,
            } => CustomerFields {
                product_code: Some(product),
                customer_identifier: Some(identifier),
                ..CustomerFields::default()
            },
            Self::Account { product, account } => CustomerFields {
                product_code: Some(product),
                customer_aws_account_id: Some(account),
                ..CustomerFields::default()
            },
            Self::Licensed { account, license } => CustomerFields {
                customer_aws_account_id: Some(account),
                license_arn: Some(license),
                ..CustomerFields::default()
            },
        }
    }

    /// The customer that wire fields name. An empty `ProductCode` counts as absent, as the
    /// model lets it be empty. (An empty `CustomerIdentifier`, which the Rust SDK 1.124 sends
    /// on every record, is no [`CustomerIdentifier`]: readers drop it before this.)
    ///
    /// # Errors
    /// The first combination rule the fields break, checked in the service's order: the
    /// product code first, then the customer.
    pub fn from_wire_fields(fields: CustomerFields<'_>) -> Result<Self, CustomerFieldsError> {
        use CustomerFieldsError as E;
        let product = fields.product_code.filter(|p| !p.as_str().is_empty());
        let identifier = fields.customer_identifier;
        let account = fields.customer_aws_account_id;
        match (product, identifier, account, fields.license_arn) {
            (None, _, _, None) => Err(E::MissingProduct),
            (Some(_), _, _, Some(_)) => Err(E::ProductWithLicense),
            (_, Some(_), Some(_), None) => Err(E::IdentifierWithAccount),
            (_, Some(_), _, Some(_)) => Err(E::IdentifierWithLicense),
            (_, None, None, None) => Err(E::MissingCustomer),
            (_, None, None, Some(_)) => Err(E::LicenseWithoutAccount),
            (Some(product), Some(identifier), None, None) => Ok(Self::Legacy {
                product: product.clone(),
                identifier: identifier.clone(),
            }),
            (Some(product), None, Some(account), None) => Ok(Self::Account {
                product: product.clone(),
                account: account.clone(),
            }),
            (None, None, Some(account), Some(license)) => Ok(Self::Licensed {
                account: account.clone(),
                license: license.clone(),
            }),
        }
    }
}

/// `account 123456789012 of product prod-x`, `account 123456789012 under licence arn:…`, or
/// `customer cust-1 of product prod-x` (legacy).
impl std::fmt::Display for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Legacy {
                product,
                identifier,
            } => write!(f, "customer {identifier} of product {product}"),
            Self::Account { product, account } => {
                write!(f, "account {account} of product {product}")
            }
            Self::Licensed { account, license } => {
                write!(f, "account {account} under licence {license}")
            }
        }
    }
}
