//! Sealing: open usage of closed hours becomes immutable records, once.

use deadpool_postgres::Transaction;
use rustc_hash::FxHashSet;
use tokio_postgres::types::ToSql;

use super::{Asides, insert_set_aside};
use crate::ledger::codec::{
    CustomerColumns, OpenRow, allocations_column, at_micros, build_record, corrupt, hour,
    hour_seconds, level_change, micros, quantity_from_micros,
};
use crate::ledger::protocol::{
    double_billing_reason, level_hours, overflow_reason, unsealable_reason,
};
use crate::ledger::sql::{
    ADD_OPEN, BILLED_TWICE, COUNT_GROUPS, COUNT_IDENTIFIERS, DELETE_IDENTIFIERS_BEFORE,
    DELETE_OF_CUSTOMER, DELETE_OPEN_BEFORE, FORGET_LEVELS, KEY_OF_CUSTOMER, LEVEL_CHANGES,
    LEVEL_KEYS, LEVEL_UNTIL, OPEN_BEFORE, OPEN_OF_CUSTOMER, OPEN_ORDER, QUARANTINE_PAIR,
};
use crate::ledger::{LedgerError, SealReport};
use crate::quantity::Quantity;

/// Seals the open usage of hours starting before `before` (of one customer's keys when
/// `customer` is given) into records. The caller holds the watermark's row lock.
pub(super) async fn seal_rows(
    tx: &Transaction<'_>,
    before: i64,
    customer: Option<&CustomerColumns>,
    now: i64,
) -> Result<SealReport, LedgerError> {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&before];
    let (select, delete) = match customer {
        None => (
            format!("{OPEN_BEFORE}{OPEN_ORDER}"),
            DELETE_OPEN_BEFORE.to_owned(),
        ),
        Some(columns) => {
            params.extend(columns.iter().map(|c| c as &(dyn ToSql + Sync)));
            (
                format!("{OPEN_BEFORE}{OPEN_OF_CUSTOMER}{OPEN_ORDER}"),
                format!("{DELETE_OPEN_BEFORE}{DELETE_OF_CUSTOMER}"),
            )
        }
    };
    let mut asides = Asides::new();
    count_identifiers(tx, &params).await?;
    integrate_levels(tx, before, &params, &mut asides).await?;
    let select = tx.prepare_cached(&select).await?;
    let rows: Vec<OpenRow> = tx
        .query(&select, &params)
        .await?
        .iter()
        .map(|row| OpenRow {
            key_id: row.get(0),
            customer: [row.get(1), row.get(2), row.get(3), row.get(4)],
            dimension: row.get(5),
            tags: row.get(6),
            hour: row.get(7),
            micros: row.get(8),
            late_micros: row.get(9),
        })
        .collect();
    let mut report = SealReport::default();
    let mut new = NewRecords::default();
    let mut groups = Vec::new();
    for group in rows
        .chunk_by(|a, b| a.customer == b.customer && a.dimension == b.dimension && a.hour == b.hour)
    {
        let first = &group[0];
        match build_record(group).map_err(corrupt("open_usage", first.key_id))? {
            Ok(record) => {
                let late = group.iter().map(|row| row.late_micros).sum::<i64>();
                let late = quantity_from_micros("open_usage", first.key_id, late)?;
                new.push(
                    first,
                    record.quantity().to_string(),
                    allocations_column(&record),
                    late.to_string(),
                );
                groups.push(group);
            }
            Err(error) => set_aside_group(group, &unsealable_reason(Some(&error)), &mut asides),
        }
    }
    let inserted = new.insert(tx, now).await?;
    report.sealed = inserted.len();
    let identities: FxHashSet<&Identity> = inserted.iter().map(|(_, identity)| identity).collect();
    for group in groups {
        let first = &group[0];
        let identity = (first.customer.clone(), first.dimension.clone(), first.hour);
        if !identities.contains(&identity) {
            set_aside_group(group, &unsealable_reason(None), &mut asides);
        }
    }
    report.set_aside = asides.len();
    insert_set_aside(tx, &asides, now).await?;
    tx.execute(&tx.prepare_cached(&delete).await?, &params)
        .await?;
    let ids: Vec<i64> = inserted.iter().map(|(id, _)| *id).collect();
    report.quarantined += quarantine_double_billing(tx, &ids).await?;
    Ok(report)
}

fn set_aside_group(group: &[OpenRow], reason: &str, asides: &mut Asides) {
    asides.extend(
        group
            .iter()
            .map(|row| (row.key_id, row.hour, row.micros, reason.to_owned())),
    );
}

/// Counts the identifiers of distinct keys' hours before `params[0]` (of the customer
/// `params[1..]` when given) into their open usage.
async fn count_identifiers(
    tx: &Transaction<'_>,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(), LedgerError> {
    let of = if params.len() > 1 {
        DELETE_OF_CUSTOMER
    } else {
        ""
    };
    let count = tx
        .prepare_cached(&format!("{COUNT_IDENTIFIERS}{of}{COUNT_GROUPS}"))
        .await?;
    tx.execute(&count, params).await?;
    let delete = tx
        .prepare_cached(&format!("{DELETE_IDENTIFIERS_BEFORE}{of}"))
        .await?;
    tx.execute(&delete, params).await?;
    Ok(())
}

/// Integrates level keys' hours before `before` (`params[0]`; of the customer
/// `params[1..]` when given) into their open usage, hour by hour, keeping per key the last change before
/// them (the level carried on).
async fn integrate_levels(
    tx: &Transaction<'_>,
    before: i64,
    params: &[&(dyn ToSql + Sync)],
    asides: &mut Asides,
) -> Result<(), LedgerError> {
    let of = if params.len() > 1 {
        KEY_OF_CUSTOMER
    } else {
        ""
    };
    let keys = tx.prepare_cached(&format!("{LEVEL_KEYS}{of}")).await?;
    let keys = tx.query(&keys, params).await?;
    let until = hour("ledger", 1, before)?;
    let end = at_micros(until.start());
    let (changes_of, add, forget, done) = (
        tx.prepare_cached(LEVEL_CHANGES).await?,
        tx.prepare_cached(ADD_OPEN).await?,
        tx.prepare_cached(FORGET_LEVELS).await?,
        tx.prepare_cached(LEVEL_UNTIL).await?,
    );
    let max = micros(Quantity::MAX);
    for key in keys {
        let (key_id, from): (i64, Option<i64>) = (key.get(0), key.get(1));
        let stored = tx.query(&changes_of, &[&key_id, &end]).await?;
        let changes = stored
            .iter()
            .map(|row| level_change(key_id, row.get(0), row.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        let from = from.map(|h| hour("usage_keys", key_id, h)).transpose()?;
        for (hour, quantity) in level_hours(&changes, from, until) {
            let (hour, amount) = (hour_seconds(hour), micros(quantity));
            let values: [&(dyn ToSql + Sync); 5] = [&key_id, &hour, &amount, &0_i64, &max];
            if tx.execute(&add, &values).await? == 0 {
                asides.push((key_id, hour, amount, overflow_reason()));
            }
        }
        if let Some(last) = stored.last() {
            tx.execute(&forget, &[&key_id, &last.get::<_, i64>(0)])
                .await?;
        }
        tx.execute(&done, &[&key_id, &before]).await?;
    }
    Ok(())
}

/// A record's identity: customer, dimension, hour.
type Identity = (CustomerColumns, String, i64);

/// The columns of the records a seal makes, inserted in one statement.
#[derive(Default)]
struct NewRecords {
    customer: [Vec<String>; 4],
    dimension: Vec<String>,
    hour: Vec<i64>,
    quantity: Vec<String>,
    allocations: Vec<Option<String>>,
    late: Vec<String>,
}

impl NewRecords {
    fn push(&mut self, row: &OpenRow, quantity: String, allocations: Option<String>, late: String) {
        for (column, value) in self.customer.iter_mut().zip(&row.customer) {
            column.push(value.clone());
        }
        self.dimension.push(row.dimension.clone());
        self.hour.push(row.hour);
        self.quantity.push(quantity);
        self.allocations.push(allocations);
        self.late.push(late);
    }

    /// Inserts the records; those whose identity was sealed already are left out. Returns
    /// the ids and identities inserted.
    async fn insert(
        &self,
        tx: &Transaction<'_>,
        now: i64,
    ) -> Result<Vec<(i64, Identity)>, LedgerError> {
        if self.hour.is_empty() {
            return Ok(Vec::new());
        }
        let statement = tx
            .prepare_cached(
                "INSERT INTO records (product, customer_identifier, account, license, dimension, \
                 hour, quantity, allocations, late, sealed_at, state, next_attempt_at) \
                 SELECT *, $10, 'unsent', $10 FROM unnest($1::text[], $2::text[], $3::text[], \
                 $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[]) \
                 ON CONFLICT DO NOTHING \
                 RETURNING id, product, customer_identifier, account, license, dimension, hour",
            )
            .await?;
        let [product, identifier, account, license] = &self.customer;
        let rows = tx
            .query(
                &statement,
                &[
                    product,
                    identifier,
                    account,
                    license,
                    &self.dimension,
                    &self.hour,
                    &self.quantity,
                    &self.allocations,
                    &self.late,
                    &now,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let customer = [row.get(1), row.get(2), row.get(3), row.get(4)];
                (row.get(0), (customer, row.get(5), row.get(6)))
            })
            .collect())
    }
}

/// Quarantines both sides when one account has records under a product code and under a
/// licence in the same hour (one of them among `new`): the service would bill both.
async fn quarantine_double_billing(
    tx: &Transaction<'_>,
    new: &[i64],
) -> Result<usize, LedgerError> {
    if new.is_empty() {
        return Ok(0);
    }
    let pairs = tx
        .prepare_cached(&format!(
            "{BILLED_TWICE} AND (a.id = ANY($1) OR b.id = ANY($1))"
        ))
        .await?;
    let pairs = tx.query(&pairs, &[&new]).await?;
    let quarantine = tx.prepare_cached(QUARANTINE_PAIR).await?;
    let mut quarantined = 0;
    for pair in pairs {
        let (product_record, license_record): (i64, i64) = (pair.get(0), pair.get(1));
        let (account, product, license): (String, String, String) =
            (pair.get(2), pair.get(3), pair.get(4));
        let hour = hour("records", product_record, pair.get(5))?;
        let reason = double_billing_reason(&account, &product, &license, hour);
        quarantined += tx
            .execute(&quarantine, &[&reason, &product_record, &license_record])
            .await?;
    }
    Ok(usize::try_from(quarantined).unwrap_or(usize::MAX))
}
