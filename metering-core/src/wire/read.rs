//! Reading records from the service's JSON as the service judges it: objects only (never an
//! array of members), each member once, members the model does not define ignored, and a
//! wrong JSON type named like every other error: field, rule, value. Files a person writes
//! are read strictly ([`Strictness`]): a member the model does not define is an error.
//!
//! Members are read as loose JSON values and typed here, so every message is ours; lists
//! and objects are read through [`Obj`] and [`List`], and each object's members by
//! [`members!`], which refuses a member given twice at every level and names the member
//! in an error the JSON parser raises inside its value (a number out of range).

use std::fmt;
use std::marker::PhantomData;

use metering_rules::limits::MAX_RECORDS_PER_REQUEST;
use serde::de::{self, DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::customer::{Customer, CustomerFields};
use crate::error::{Rule, ValidationError};
use crate::quantity::Quantity;
use crate::record::{Tag, Tags, UsageAllocation, UsageRecord};
use crate::strings::{
    CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode, TagKey,
    TagValue,
};
use crate::timestamp::Timestamp;

/// Declares an object of the model by its members' wire names. Its members are read by
/// hand rather than by serde's derive, so that an error the JSON parser raises inside a
/// value (a number out of range, nesting too deep) names the member, and so that the first
/// member the model does not define is kept, for a strict reader to refuse. A member given
/// twice is refused, as the derive does; `null` is absent, as it is to the service.
macro_rules! members {
    ($name:ident { $($field:ident: $ty:ty = $wire:literal,)* }) => {
        struct $name {
            $($field: Option<$ty>,)*
            /// The first member the model does not define.
            #[allow(dead_code)] // not every object is read strictly
            unknown: Option<String>,
        }

        #[allow(dead_code)]
        impl $name {
            const NAMES: &'static [&'static str] = &[$($wire),*];
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Members;
                impl<'de> de::Visitor<'de> for Members {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        $(let mut $field: Option<Option<$ty>> = None;)*
                        let mut unknown = None;
                        while let Some(name) = map.next_key_seed(Name($name::NAMES))? {
                            match name {
                                $(Member::Known($wire) => {
                                    if $field.is_some() {
                                        return Err(A::Error::duplicate_field($wire));
                                    }
                                    $field = Some(map.next_value().map_err(|e| named($wire, &e))?);
                                })*
                                Member::Known(_) => unreachable!("every name has an arm"),
                                Member::Unknown(name) => {
                                    map.next_value::<IgnoredAny>()?;
                                    unknown.get_or_insert(name);
                                }
                            }
                        }
                        Ok($name { $($field: $field.flatten(),)* unknown })
                    }
                }
                deserializer.deserialize_map(Members)
            }
        }
    };
}

impl UsageRecord {
    /// Reads one `UsageRecords` entry of a request whose `ProductCode` is `product`, as the
    /// service does: a `ProductCode` inside the entry is no member of a record and is
    /// ignored, and `Timestamp` must be epoch seconds. One entry at a time, so a JSON Lines
    /// file of entries needs no whole-file buffer.
    ///
    /// # Errors
    /// The first rule the entry breaks, as a deserializer error.
    pub fn from_request_entry<'de, D: Deserializer<'de>>(
        deserializer: D,
        product: Option<&ProductCode>,
    ) -> Result<Self, D::Error> {
        let entry = Obj::<RecordIn>::deserialize(deserializer)?;
        read_entry(entry, Context::Request(product)).map_err(D::Error::custom)
    }
}

/// Why one `UsageRecords` entry, given as JSON text, is not a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON, or JSON of the wrong shape (a string where a number belongs).
    #[error("{0}")]
    Json(#[source] serde_json::Error),
    /// A record that breaks a rule.
    #[error(transparent)]
    Invalid(ValidationError),
}

/// How a usage file's entries are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strictness {
    /// For files a person writes: a member the service model does not define is an error
    /// (with the member it probably meant), and a record must give its quantity. A typo
    /// such as `Quantiy` would otherwise send a quantity of 0, and since the service keeps
    /// the first quantity of an hour, the corrected record could never be billed.
    #[default]
    Strict,
    /// As the service reads a request, for files a program made: members it does not define
    /// are ignored, and a record without a quantity is a quantity of 0.
    Lenient,
}

impl UsageRecord {
    /// Reads one record of a usage file from JSON text: a `UsageRecords` entry with its own
    /// `ProductCode`, or else `product` (a request file's, or one given for the whole file),
    /// and its `Timestamp` as epoch seconds or RFC 3339 text. Unlike
    /// [`UsageRecord::from_request_entry`], the error keeps the field, rule and value apart,
    /// so a file can be judged one entry at a time.
    ///
    /// # Errors
    /// Malformed JSON, or the first rule the entry breaks (with [`Strictness::Strict`], an
    /// unknown member or a missing quantity too).
    pub fn from_entry_json(
        json: &str,
        product: Option<&ProductCode>,
        strictness: Strictness,
    ) -> Result<Self, EntryError> {
        entry_json(json, Context::File(product, strictness))
    }

    /// Reads one `UsageRecords` entry of a request file from JSON text, as
    /// [`UsageRecord::from_entry_json`] but with the request's `product`, as the service
    /// reads it: an entry's own `ProductCode` is refused ([`Strictness::Strict`]) or
    /// ignored ([`Strictness::Lenient`]), never billed in the request's place.
    ///
    /// # Errors
    /// As [`UsageRecord::from_entry_json`].
    pub fn from_request_file_entry_json(
        json: &str,
        product: Option<&ProductCode>,
        strictness: Strictness,
    ) -> Result<Self, EntryError> {
        entry_json(json, Context::RequestFile(product, strictness))
    }
}

impl<'de> Deserialize<'de> for UsageRecord {
    /// This library's own record form, as it serializes: an entry with its `ProductCode`
    /// beside the other members, and `Timestamp` as epoch seconds or RFC 3339.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entry = Obj::<RecordIn>::deserialize(deserializer)?;
        read_entry(entry, Context::File(None, Strictness::Lenient)).map_err(D::Error::custom)
    }
}

/// The records of a whole `BatchMeterUsage` request body: its `ProductCode` applies to
/// each of its 0..=25 `UsageRecords` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecords {
    /// The request's product code, if it has one (an empty one counts as absent).
    pub product_code: Option<ProductCode>,
    /// The records, in order.
    pub records: Vec<UsageRecord>,
}

impl<'de> Deserialize<'de> for RequestRecords {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        members!(RequestIn {
            product_code: Value = "ProductCode",
            usage_records: List<Obj<RecordIn>> = "UsageRecords",
        });
        let request = Obj::<RequestIn>::deserialize(deserializer)?
            .found("request body")
            .map_err(D::Error::custom)?;
        let read = || {
            let product = text(request.product_code, "ProductCode")?
                .filter(|code| !code.is_empty())
                .map(ProductCode::new)
                .transpose()?;
            let entries = request
                .usage_records
                .ok_or_else(|| required("UsageRecords"))?
                .found("UsageRecords")?;
            if entries.len() > MAX_RECORDS_PER_REQUEST {
                return Err(ValidationError::new(
                    "UsageRecords",
                    Rule::Count {
                        min: 0,
                        max: MAX_RECORDS_PER_REQUEST,
                        actual: entries.len(),
                    },
                    format_args!("{} records", entries.len()),
                ));
            }
            let records = entries
                .into_iter()
                .enumerate()
                .map(|(index, entry)| {
                    read_entry(entry, Context::Request(product.as_ref()))
                        .map_err(|e| e.within(format_args!("UsageRecords[{index}]")))
                })
                .collect::<Result<_, _>>()?;
            Ok(Self {
                product_code: product.clone(),
                records,
            })
        };
        read().map_err(D::Error::custom)
    }
}

/// One entry of a file from JSON text, read in `context`.
fn entry_json(json: &str, context: Context<'_>) -> Result<UsageRecord, EntryError> {
    let entry: Obj<RecordIn> = serde_json::from_str(json).map_err(EntryError::Json)?;
    read_entry(entry, context).map_err(EntryError::Invalid)
}

/// Where an entry is read: inside a request (whose product code it takes, as the service
/// reads it), or from a file (its own product code or else the one given; both timestamp
/// forms).
#[derive(Clone, Copy)]
enum Context<'p> {
    Request(Option<&'p ProductCode>),
    File(Option<&'p ProductCode>, Strictness),
    /// A request's entry in a file: the request's product code, both timestamp forms.
    RequestFile(Option<&'p ProductCode>, Strictness),
}

impl Context<'_> {
    fn strict(self) -> bool {
        matches!(
            self,
            Self::File(_, Strictness::Strict) | Self::RequestFile(_, Strictness::Strict)
        )
    }
}

/// A member's name: one of the model's, or another.
enum Member {
    Known(&'static str),
    Unknown(String),
}

/// Reads a member's name, knowing the model's (no allocation for those).
struct Name(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Member;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Member, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl de::Visitor<'_> for Name {
    type Value = Member;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
        Ok(match self.0.iter().find(|known| **known == name) {
            Some(known) => Member::Known(known),
            None => Member::Unknown(name.to_owned()),
        })
    }
}

/// An error raised inside `field`'s value, naming it (`serde_json` keeps the position).
fn named<E: de::Error>(field: &str, error: &E) -> E {
    E::custom(format_args!("{field}: {error}"))
}

/// With a strict reader, the first member of an object that the model does not define.
fn refuse_unknown(
    unknown: Option<String>,
    names: &'static [&'static str],
    strict: bool,
) -> Result<(), ValidationError> {
    match unknown.filter(|_| strict) {
        None => Ok(()),
        Some(name) => {
            let suggestion = metering_rules::closest(&name, names.iter().copied());
            Err(ValidationError::new(
                name,
                Rule::UnknownMember(suggestion),
                "",
            ))
        }
    }
}

members!(RecordIn {
    product_code: Value = "ProductCode",
    timestamp: Value = "Timestamp",
    customer_identifier: Value = "CustomerIdentifier",
    customer_aws_account_id: Value = "CustomerAWSAccountId",
    license_arn: Value = "LicenseArn",
    dimension: Value = "Dimension",
    quantity: Value = "Quantity",
    quantity_as_decimal: Value = "QuantityAsDecimal",
    usage_allocations: List<Obj<AllocationIn>> = "UsageAllocations",
});

members!(AllocationIn {
    allocated_usage_quantity: Value = "AllocatedUsageQuantity",
    allocated_usage_quantity_as_decimal: Value = "AllocatedUsageQuantityAsDecimal",
    tags: List<Obj<TagIn>> = "Tags",
});

members!(TagIn {
    key: Value = "Key",
    value: Value = "Value",
});

/// A JSON object read into `T`, or the JSON type found instead. (Serde's derived structs
/// also take an array of their members in order, which AWS JSON does not.)
enum Obj<T> {
    Found(T),
    Wrong(&'static str),
}

/// A JSON array of `T`, or the JSON type found instead.
enum List<T> {
    Found(Vec<T>),
    Wrong(&'static str),
}

impl<T> Obj<T> {
    fn found(self, field: &str) -> Result<T, ValidationError> {
        match self {
            Self::Found(value) => Ok(value),
            Self::Wrong(found) => Err(wrong_type(field, "a JSON object", found)),
        }
    }
}

impl<T> List<T> {
    fn found(self, field: &str) -> Result<Vec<T>, ValidationError> {
        match self {
            Self::Found(value) => Ok(value),
            Self::Wrong(found) => Err(wrong_type(field, "a JSON array", found)),
        }
    }
}

/// Visits any JSON value: `map` or `seq` reads the one shape wanted, anything else is
/// consumed and named.
struct Shape<T, F>(PhantomData<(T, F)>);

macro_rules! other_types {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("a boolean"))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("a number"))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("a number"))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("a number"))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("a string"))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::Wrong("null"))
        }
    };
}

impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Shape<T, Obj<()>> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::Wrong("a JSON array"))
    }
    other_types!();
}

impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Shape<T, List<()>> {
    type Value = List<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<List<T>, A::Error> {
        Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(List::Found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(List::Wrong("a JSON object"))
    }
    other_types!();
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Shape::<T, Obj<()>>(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Shape::<T, List<()>>(PhantomData))
    }
}

fn wrong_type(field: &str, expected: &'static str, found: impl fmt::Display) -> ValidationError {
    ValidationError::new(field, Rule::JsonType(expected), found)
}

fn required(field: &'static str) -> ValidationError {
    ValidationError::new(field, Rule::Required, "")
}

/// A string member.
fn text(value: Option<Value>, field: &'static str) -> Result<Option<String>, ValidationError> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// An integer quantity member (an integer beyond `i64` breaks its range, shown as given).
fn integer(value: Option<Value>, field: &'static str) -> Result<Option<i64>, ValidationError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(Value::Number(n)) if n.is_u64() => {
            Err(ValidationError::new(field, Rule::IntegerQuantity, n))
        }
        Some(other) => Err(wrong_type(field, "an integer", other)),
    }
}

/// `Timestamp`: epoch seconds; in a file, RFC 3339 text too.
fn timestamp(value: Option<Value>, context: Context<'_>) -> Result<Timestamp, ValidationError> {
    let field = "Timestamp";
    match value.ok_or_else(|| required(field))? {
        Value::Number(seconds) => match seconds.as_i64() {
            Some(seconds) => Timestamp::from_unix_seconds(seconds),
            None => Timestamp::deserialize(Value::Number(seconds.clone()))
                .map_err(|_| ValidationError::new(field, Rule::Timestamp, seconds)),
        },
        Value::String(text) if !matches!(context, Context::Request(..)) => {
            Timestamp::parse_rfc3339(&text)
        }
        other => Err(wrong_type(field, "epoch seconds (a JSON number)", other)),
    }
}

/// Which of the two quantity forms a record or allocation used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Integer,
    Decimal,
}

/// Reads one quantity given in at most one of its two fields; absent means zero, as the
/// service treats a record without a quantity.
fn read_quantity(
    integer_value: Option<Value>,
    decimal_value: Option<Value>,
    integer_field: &'static str,
    decimal_field: &'static str,
) -> Result<(Quantity, Option<Form>), ValidationError> {
    let field = |field: &'static str| {
        move |e: ValidationError| ValidationError {
            field: field.into(),
            ..e
        }
    };
    match (
        integer(integer_value, integer_field)?,
        text(decimal_value, decimal_field)?,
    ) {
        (Some(_), Some(text)) => Err(ValidationError::new(
            decimal_field,
            Rule::Exclusive(integer_field),
            text,
        )),
        (Some(units), None) => Quantity::from_integer_field(units)
            .map(|q| (q, Some(Form::Integer)))
            .map_err(field(integer_field)),
        (None, Some(text)) => text
            .parse()
            .map(|q| (q, Some(Form::Decimal)))
            .map_err(field(decimal_field)),
        (None, None) => Ok((Quantity::ZERO, None)),
    }
}

fn read_entry(entry: Obj<RecordIn>, context: Context<'_>) -> Result<UsageRecord, ValidationError> {
    let entry = entry.found("UsageRecords entry")?;
    let strict = context.strict();
    refuse_unknown(entry.unknown, RecordIn::NAMES, strict)?;
    let product = match context {
        // Not a member of a request's record: never honoured (it would bill another
        // product), and in a file read strictly refused below.
        Context::Request(product) | Context::RequestFile(product, Strictness::Lenient) => {
            product.cloned()
        }
        Context::RequestFile(product, Strictness::Strict) => {
            if let Some(own) = text(entry.product_code, "ProductCode")? {
                return Err(ValidationError::new(
                    "ProductCode",
                    Rule::RequestMember,
                    own,
                ));
            }
            product.cloned()
        }
        // The file's product is for records of the product modes: a licensed one has none.
        Context::File(product, _) => match text(entry.product_code, "ProductCode")? {
            Some(own) => Some(ProductCode::new(own)?),
            None => product.filter(|_| entry.license_arn.is_none()).cloned(),
        },
    };
    let customer = customer(
        product.as_ref(),
        // The Rust SDK 1.124 sends an empty identifier on every record.
        text(entry.customer_identifier, "CustomerIdentifier")?.filter(|id| !id.is_empty()),
        text(entry.customer_aws_account_id, "CustomerAWSAccountId")?,
        text(entry.license_arn, "LicenseArn")?,
    )?;
    let dimension = text(entry.dimension, "Dimension")?.ok_or_else(|| required("Dimension"))?;
    let dimension = DimensionKey::new(dimension)?;
    let timestamp = timestamp(entry.timestamp, context)?;
    let (quantity, form) = read_quantity(
        entry.quantity,
        entry.quantity_as_decimal,
        "Quantity",
        "QuantityAsDecimal",
    )?;
    if strict && form.is_none() {
        return Err(ValidationError::new("Quantity", Rule::QuantityRequired, ""));
    }
    let Some(wire_allocations) = entry.usage_allocations else {
        return Ok(UsageRecord::new(customer, dimension, timestamp, quantity));
    };
    let wire_allocations = wire_allocations.found("UsageAllocations")?;
    let mut forms = Vec::from_iter(form);
    let mut allocations = Vec::with_capacity(wire_allocations.len());
    for (index, wire) in wire_allocations.into_iter().enumerate() {
        let allocation = read_allocation(wire, &mut forms, strict)
            .map_err(|e| e.within(format_args!("UsageAllocations[{index}]")))?;
        allocations.push(allocation);
    }
    if forms.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(ValidationError::new(
            "UsageAllocations",
            Rule::MixedQuantityKinds,
            "",
        ));
    }
    let record = UsageRecord::with_allocations(customer, dimension, timestamp, allocations)?;
    if record.quantity() != quantity {
        return Err(ValidationError::new(
            "UsageAllocations",
            Rule::AllocationSum {
                expected: quantity,
                actual: record.quantity(),
            },
            record.quantity(),
        ));
    }
    Ok(record)
}

fn read_allocation(
    wire: Obj<AllocationIn>,
    forms: &mut Vec<Form>,
    strict: bool,
) -> Result<UsageAllocation, ValidationError> {
    let wire = wire.found("UsageAllocations entry")?;
    refuse_unknown(wire.unknown, AllocationIn::NAMES, strict)?;
    let (quantity, form) = read_quantity(
        wire.allocated_usage_quantity,
        wire.allocated_usage_quantity_as_decimal,
        "AllocatedUsageQuantity",
        "AllocatedUsageQuantityAsDecimal",
    )?;
    // Unlike a record's, an allocation's quantity has no default: exactly one is required.
    forms.push(form.ok_or_else(|| required("AllocatedUsageQuantity"))?);
    let Some(wire_tags) = wire.tags else {
        return Ok(UsageAllocation::untagged(quantity));
    };
    let mut tags = Vec::new();
    for (index, tag) in wire_tags.found("Tags")?.into_iter().enumerate() {
        let tag = read_tag(tag, strict).map_err(|e| e.within(format_args!("Tags[{index}]")))?;
        tags.push(tag);
    }
    Ok(UsageAllocation::new(quantity, Tags::new(tags)?))
}

fn read_tag(tag: Obj<TagIn>, strict: bool) -> Result<Tag, ValidationError> {
    let tag = tag.found("Tags entry")?;
    refuse_unknown(tag.unknown, TagIn::NAMES, strict)?;
    let key = text(tag.key, "Key")?.ok_or_else(|| required("Key"))?;
    let value = text(tag.value, "Value")?.ok_or_else(|| required("Value"))?;
    Ok(Tag::new(TagKey::new(key)?, TagValue::new(value)?))
}

/// Validates each customer field, then resolves the mode they name.
fn customer(
    product: Option<&ProductCode>,
    identifier: Option<String>,
    account: Option<String>,
    license: Option<String>,
) -> Result<Customer, ValidationError> {
    let identifier = identifier.map(CustomerIdentifier::new).transpose()?;
    let account = account.map(CustomerAwsAccountId::new).transpose()?;
    let license = license.map(LicenseArn::new).transpose()?;
    let fields = CustomerFields {
        product_code: product,
        customer_identifier: identifier.as_ref(),
        customer_aws_account_id: account.as_ref(),
        license_arn: license.as_ref(),
    };
    Customer::from_wire_fields(fields).map_err(|e| e.to_validation_error(&fields))
}
