//! Sealing: open usage of closed hours becomes immutable records, once.

use rusqlite::{Row, Transaction, params};

use super::set_aside;
use crate::ledger::codec::{
    CustomerColumns, OpenRow, allocations_column, build_record, corrupt, hour, quantity_from_micros,
};
use crate::ledger::protocol::{double_billing_reason, unsealable_reason};
use crate::ledger::sql::{
    BILLED_TWICE, DELETE_OF_CUSTOMER, DELETE_OPEN_BEFORE, Dialect, OPEN_BEFORE, OPEN_OF_CUSTOMER,
    OPEN_ORDER, QUARANTINE_PAIR,
};
use crate::ledger::{LedgerError, SealReport};

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
    let mut report = SealReport::default();
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
