//! What the emulator billed: one entry per de-duplication key, first write wins.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use metering_core::{Customer, DimensionKey, Quantity, Timestamp, UsageAllocation, UsageRecord};
use serde_json::{Value, json};

/// A share of a billed record's quantity and the tags it was attributed to (`None` for the
/// untagged bucket): the allocation as `metering-core` holds it.
pub type BilledAllocation = UsageAllocation;

/// One billed usage record: the first record accepted for its key (customer, product or
/// licence, dimension, hour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Who was billed, with the product or licence.
    pub customer: Customer,
    /// What was billed.
    pub dimension: DimensionKey,
    /// The UTC hour the record falls in (the de-duplication hour).
    pub hour: Timestamp,
    /// The record's own timestamp, as first sent.
    pub timestamp: Timestamp,
    /// The quantity billed.
    pub quantity: Quantity,
    /// The ID answered for it, the same on every idempotent resend.
    pub metering_record_id: String,
    /// The record's allocations, if it had any.
    pub allocations: Option<Vec<BilledAllocation>>,
}

/// The total billed for one customer (with product or licence) and dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// The customer, with product or licence.
    pub customer: Customer,
    /// The dimension.
    pub dimension: DimensionKey,
    /// How many hourly records were billed.
    pub records: usize,
    /// Their total quantity.
    pub total: Total,
}

/// A sum of quantities, exact, and unbounded by the service's per-record maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Total {
    micros: u128,
}

impl Total {
    /// The total in millionths of a unit.
    #[must_use]
    pub const fn micros(self) -> u128 {
        self.micros
    }

    fn add(&mut self, quantity: Quantity) {
        self.micros += u128::from(quantity.micros());
    }
}

impl From<Quantity> for Total {
    fn from(quantity: Quantity) -> Self {
        Self {
            micros: u128::from(quantity.micros()),
        }
    }
}

impl fmt::Display for Total {
    /// The decimal form: `17`, `17.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, fraction) = (self.micros / 1_000_000, self.micros % 1_000_000);
        if fraction == 0 {
            write!(f, "{units}")
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "{units}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The de-duplication key: customer (with product or licence), dimension, hour.
pub(crate) type Key = (Customer, DimensionKey, i64);

/// What a record came to.
pub(crate) enum Billed<'a> {
    /// Billed now, or an identical resend of what was billed.
    Success(&'a str),
    /// The key was billed before with another quantity.
    Duplicate,
}

/// The billed entries.
#[derive(Default)]
pub(crate) struct Ledger {
    entries: HashMap<Key, LedgerEntry>,
}

impl Ledger {
    /// Bills a record unless its key is billed already: then a resend of the same quantity
    /// is a success with the first ID, and another quantity a duplicate.
    pub(crate) fn bill(&mut self, record: &UsageRecord) -> Billed<'_> {
        let (timestamp, quantity) = (record.timestamp(), record.quantity());
        let hour = timestamp.hour_start();
        match self.entries.entry((
            record.customer().clone(),
            record.dimension().clone(),
            hour.unix_seconds(),
        )) {
            Entry::Occupied(billed) => {
                let billed = billed.into_mut();
                if billed.quantity == quantity {
                    Billed::Success(&billed.metering_record_id)
                } else {
                    Billed::Duplicate
                }
            }
            Entry::Vacant(vacant) => {
                let (customer, dimension, hour_seconds) = vacant.key();
                let entry = LedgerEntry {
                    metering_record_id: metering_record_id(customer, dimension, *hour_seconds),
                    customer: customer.clone(),
                    dimension: dimension.clone(),
                    hour,
                    timestamp,
                    quantity,
                    allocations: record.allocations().map(<[_]>::to_vec),
                };
                Billed::Success(&vacant.insert(entry).metering_record_id)
            }
        }
    }

    /// Every entry, by hour, customer and dimension.
    pub(crate) fn entries(&self) -> Vec<LedgerEntry> {
        let mut entries: Vec<LedgerEntry> = self.entries.values().cloned().collect();
        entries.sort_by(|a, b| {
            (a.hour, &a.customer, &a.dimension).cmp(&(b.hour, &b.customer, &b.dimension))
        });
        entries
    }

    /// Totals per customer and dimension.
    pub(crate) fn summary(&self) -> Vec<SummaryRow> {
        let mut rows: BTreeMap<(&Customer, &DimensionKey), (usize, Total)> = BTreeMap::new();
        for entry in self.entries.values() {
            let row = rows.entry((&entry.customer, &entry.dimension)).or_default();
            row.0 += 1;
            row.1.add(entry.quantity);
        }
        rows.into_iter()
            .map(|((customer, dimension), (records, total))| SummaryRow {
                customer: customer.clone(),
                dimension: dimension.clone(),
                records,
                total,
            })
            .collect()
    }
}

/// The customer's parts as wire fields.
fn customer_json(customer: &Customer) -> Value {
    let fields = customer.wire_fields().named();
    let present = fields
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), Value::from(value?))));
    Value::Object(present.collect())
}

/// Merges `extra` into the customer's fields.
fn with_customer(customer: &Customer, extra: Value) -> Value {
    let mut value = customer_json(customer);
    if let (Value::Object(map), Value::Object(extra)) = (&mut value, extra) {
        map.extend(extra);
    }
    value
}

impl LedgerEntry {
    /// The entry as JSON, with the service's field names; quantities as decimal strings.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let allocations = self.allocations.as_ref().map(|allocations| {
            allocations
                .iter()
                .map(|allocation| {
                    let tags = allocation.tags.as_ref().map(|tags| {
                        tags.as_slice()
                            .iter()
                            .map(|tag| json!({ "Key": tag.key.as_str(), "Value": tag.value.as_str() }))
                            .collect::<Vec<_>>()
                    });
                    json!({ "Quantity": allocation.quantity.to_string(), "Tags": tags })
                })
                .collect::<Vec<_>>()
        });
        with_customer(
            &self.customer,
            json!({
                "Dimension": self.dimension.as_str(),
                "Hour": self.hour.unix_seconds(),
                "Timestamp": self.timestamp,
                "Quantity": self.quantity.to_string(),
                "MeteringRecordId": self.metering_record_id,
                "UsageAllocations": allocations,
            }),
        )
    }
}

impl SummaryRow {
    /// The row as JSON, with the service's field names; the total as a decimal string.
    #[must_use]
    pub fn to_json(&self) -> Value {
        with_customer(
            &self.customer,
            json!({
                "Dimension": self.dimension.as_str(),
                "Records": self.records,
                "Total": self.total.to_string(),
            }),
        )
    }
}

/// A UUID-shaped ID derived from the key alone, so an idempotent resend (even to a
/// restarted emulator) gets the same ID.
pub(crate) fn metering_record_id(
    customer: &Customer,
    dimension: &DimensionKey,
    hour: i64,
) -> String {
    // Each wire field in its place, absent ones empty: the mode shows in which are present.
    let fields = customer
        .wire_fields()
        .named()
        .map(|(_, value)| value.unwrap_or(""));
    let hour = hour.to_string();
    let parts = fields
        .iter()
        .copied()
        .chain([dimension.as_str(), hour.as_str()]);
    let hash = |basis: u64| {
        parts.clone().fold(basis, |acc, part| {
            // FNV-1a over each part and a separator no valid part contains.
            part.bytes().chain([0xff]).fold(acc, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
        })
    };
    uuid_shaped(hash(0xcbf2_9ce4_8422_2325), hash(0x6c62_272e_07bb_0142))
}

/// 128 bits written as a UUID: version nibble 8 (custom), RFC 4122 variant.
pub(crate) fn uuid_shaped(high: u64, low: u64) -> String {
    let bits = (u128::from(high) << 64 | u128::from(low)) & !(0xf << 76) & !(0b11 << 62)
        | (0x8 << 76)
        | (0b10 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use metering_core::{CustomerAwsAccountId, ProductCode};

    fn customer(account: &'static str) -> Customer {
        Customer::Account {
            product: ProductCode::new("prod-1").unwrap(),
            account: CustomerAwsAccountId::new(account).unwrap(),
        }
    }

    #[test]
    fn ids_are_uuid_shaped_and_keyed() {
        let dim = DimensionKey::new("api").unwrap();
        let id = metering_record_id(&customer("1"), &dim, 3600);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, metering_record_id(&customer("1"), &dim, 3600));
        assert_ne!(id, metering_record_id(&customer("1"), &dim, 7200));
        assert_ne!(id, metering_record_id(&customer("2"), &dim, 3600));
    }

    #[test]
    fn totals_print_exactly() {
        let mut total = Total::from("0.5".parse::<Quantity>().unwrap());
        total.add(Quantity::MAX);
        total.add(Quantity::MAX);
        assert_eq!(total.to_string(), "20000000000.499998");
    }
}
