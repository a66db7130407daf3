//! Sealing: open usage of closed hours becomes immutable records, once.

use rusqlite::{Row, Transaction, params};

use super::set_aside;
use crate::ledger::codec::{
    CustomerColumns, OpenRow, allocations_column, at_micros, build_record, corrupt, hour,
    hour_seconds, level_change, micros, quantity_from_micros,
};
use crate::ledger::protocol::{
    double_billing_reason, level_hours, overflow_reason, unsealable_reason,
};
use crate::ledger::sql::{
    ADD_OPEN, BILLED_TWICE, COUNT_GROUPS, COUNT_IDENTIFIERS, DELETE_IDENTIFIERS_BEFORE,
    DELETE_OF_CUSTOMER, DELETE_OPEN_BEFORE, Dialect, FORGET_LEVELS, KEY_OF_CUSTOMER, LEVEL_CHANGES,
    LEVEL_KEYS, LEVEL_UNTIL, OPEN_BEFORE, OPEN_OF_CUSTOMER, OPEN_ORDER, QUARANTINE_PAIR,
};
use crate::ledger::{LedgerError, SealReport};
use crate::quantity::Quantity;

/// Seals the open usage of hours starting before `before` (of one customer's keys when
/// `customer` is given) into records.
pub(super) fn seal_rows(
    tx: &Transaction<'_>,
    before: i64,
    customer: Option<&CustomerColumns>,
    now: i64,
) -> Result<SealReport, LedgerError> {
    let read = |row: &Row<'_>| {
        Ok(OpenRow {
            key_id: row.get(0)?,
            customer: [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
            dimension: row.get(5)?,
            tags: row.get(6)?,
            hour: row.get(7)?,
            micros: row.get(8)?,
            late_micros: row.get(9)?,
        })
    };
    let mut report = SealReport::default();
    count_identifiers(tx, before, customer)?;
    integrate_levels(tx, before, customer, now, &mut report)?;
    let rows: Vec<OpenRow> = match customer {
        None => tx
            .prepare(&Dialect::Sqlite.sql(&format!("{OPEN_BEFORE}{OPEN_ORDER}")))?
            .query_map([before], read)?
            .collect::<Result<_, _>>()?,
        Some([product, identifier, account, license]) => tx
            .prepare(&Dialect::Sqlite.sql(&format!("{OPEN_BEFORE}{OPEN_OF_CUSTOMER}{OPEN_ORDER}")))?
            .query_map(params![before, product, identifier, account, license], read)?
            .collect::<Result<_, _>>()?,
    };
    let first_new: i64 =
        tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM records", [], |row| {
            row.get(0)
        })?;
    for group in rows
        .chunk_by(|a, b| a.customer == b.customer && a.dimension == b.dimension && a.hour == b.hour)
    {
        seal_group(tx, group, now, &mut report)?;
    }
    match customer {
        None => tx.execute(&Dialect::Sqlite.sql(DELETE_OPEN_BEFORE), [before])?,
        Some([product, identifier, account, license]) => tx.execute(
            &Dialect::Sqlite.sql(&format!("{DELETE_OPEN_BEFORE}{DELETE_OF_CUSTOMER}")),
            params![before, product, identifier, account, license],
        )?,
    };
    report.quarantined += quarantine_double_billing(tx, first_new)?;
    Ok(report)
}

/// Counts the identifiers of distinct keys' hours before `before` into their open usage.
fn count_identifiers(
    tx: &Transaction<'_>,
    before: i64,
    customer: Option<&CustomerColumns>,
) -> Result<(), LedgerError> {
    let count = format!("{COUNT_IDENTIFIERS}{{of}}{COUNT_GROUPS}");
    match customer {
        None => {
            tx.execute(&Dialect::Sqlite.sql(&count.replace("{of}", "")), [before])?;
            tx.execute(&Dialect::Sqlite.sql(DELETE_IDENTIFIERS_BEFORE), [before])?;
        }
        Some([product, identifier, account, license]) => {
            let values = params![before, product, identifier, account, license];
            let count = count.replace("{of}", DELETE_OF_CUSTOMER);
            tx.execute(&Dialect::Sqlite.sql(&count), values)?;
            let delete = format!("{DELETE_IDENTIFIERS_BEFORE}{DELETE_OF_CUSTOMER}");
            tx.execute(&Dialect::Sqlite.sql(&delete), values)?;
        }
    }
    Ok(())
}

/// Integrates level keys' hours before `before` into their open usage, hour by hour,
/// keeping per key the last change before them (the level carried on).
fn integrate_levels(
    tx: &Transaction<'_>,
    before: i64,
    customer: Option<&CustomerColumns>,
    now: i64,
    report: &mut SealReport,
) -> Result<(), LedgerError> {
    let read = |row: &Row<'_>| Ok((row.get(0)?, row.get(1)?));
    let keys: Vec<(i64, Option<i64>)> = match customer {
        None => tx
            .prepare(&Dialect::Sqlite.sql(LEVEL_KEYS))?
            .query_map([before], read)?
            .collect::<Result<_, _>>()?,
        Some([product, identifier, account, license]) => tx
            .prepare(&Dialect::Sqlite.sql(&format!("{LEVEL_KEYS}{KEY_OF_CUSTOMER}")))?
            .query_map(params![before, product, identifier, account, license], read)?
            .collect::<Result<_, _>>()?,
    };
    let until = hour("ledger", 1, before)?;
    let end = at_micros(until.start());
    let max = micros(Quantity::MAX);
    for (key_id, from) in keys {
        let stored: Vec<(i64, i64)> = tx
            .prepare_cached(&Dialect::Sqlite.sql(LEVEL_CHANGES))?
            .query_map([key_id, end], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let changes = stored
            .iter()
            .map(|&(at, level)| level_change(key_id, at, level))
            .collect::<Result<Vec<_>, _>>()?;
        let from = from.map(|h| hour("usage_keys", key_id, h)).transpose()?;
        for (hour, quantity) in level_hours(&changes, from, until) {
            let (hour, amount) = (hour_seconds(hour), micros(quantity));
            let values = params![key_id, hour, amount, 0, max];
            if tx
                .prepare_cached(&Dialect::Sqlite.sql(ADD_OPEN))?
                .execute(values)?
                == 0
            {
                set_aside(tx, key_id, hour, amount, &overflow_reason(), now)?;
                report.set_aside += 1;
            }
        }
        if let Some(&(last, _)) = stored.last() {
            tx.execute(&Dialect::Sqlite.sql(FORGET_LEVELS), [key_id, last])?;
        }
        tx.execute(&Dialect::Sqlite.sql(LEVEL_UNTIL), [key_id, before])?;
    }
    Ok(())
}

/// Makes one record of the rows of one customer, dimension and hour, or sets them aside when
/// no valid record can hold them.
fn seal_group(
    tx: &Transaction<'_>,
    group: &[OpenRow],
    now: i64,
    report: &mut SealReport,
) -> Result<(), LedgerError> {
    let first = &group[0];
    let record = build_record(group).map_err(corrupt("open_usage", first.key_id))?;
    let inserted = match &record {
        Ok(record) => {
            let late = group.iter().map(|row| row.late_micros).sum::<i64>();
            let late = quantity_from_micros("open_usage", first.key_id, late)?;
            let [product, identifier, account, license] = &first.customer;
            tx.prepare_cached(
                "INSERT INTO records (product, customer_identifier, account, license, dimension, \
                 hour, quantity, allocations, late, sealed_at, state, next_attempt_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'unsent', ?10) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                product,
                identifier,
                account,
                license,
                first.dimension,
                first.hour,
                record.quantity().to_string(),
                allocations_column(record),
                late.to_string(),
                now
            ])? == 1
        }
        Err(_) => false,
    };
    if inserted {
        report.sealed += 1;
        return Ok(());
    }
    let reason = unsealable_reason(record.err().as_deref());
    for row in group {
        set_aside(tx, row.key_id, row.hour, row.micros, &reason, now)?;
        report.set_aside += 1;
    }
    Ok(())
}

/// Quarantines both sides when one account has records under a product code and under a
/// licence in the same hour (records from `first_new` on being new): the service would bill
/// both.
fn quarantine_double_billing(tx: &Transaction<'_>, first_new: i64) -> Result<usize, LedgerError> {
    let pairs: Vec<(i64, i64, String, String, String, i64)> = tx
        .prepare(&format!("{BILLED_TWICE} AND (a.id >= ?1 OR b.id >= ?1)"))?
        .query_map([first_new], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut quarantined = 0;
    for (product_record, license_record, account, product, license, seconds) in pairs {
        let hour = hour("records", product_record, seconds)?;
        let reason = double_billing_reason(&account, &product, &license, hour);
        quarantined += tx.execute(
            &Dialect::Sqlite.sql(QUARANTINE_PAIR),
            params![reason, product_record, license_record],
        )?;
    }
    Ok(quarantined)
}
