//! The embedded ledger: one `SQLite` file in WAL mode (see [`SqliteLedger`]).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use rustc_hash::FxHashMap;

use super::codec::{
    CustomerColumns, LevelRow, RecordRow, SetAsideRow, at_micros, customer_columns, hour,
    hour_seconds, identifier_columns, kind_column, micros, scope_column, seconds, tags_column,
};
use super::protocol::{
    CLAIM_SIZE, Commit, commit_usage, customer_seal, nothing_to_seal, overflow_reason,
    requeue_hour, seal_watermark, settled,
};
use super::sql::{self, CLAIMABLE, Dialect, record_columns};
use super::{
    BoxFuture, Checkpoint, Claim, ClaimedRecord, CommitReport, HourStatus, Ledger, LedgerError,
    LedgerInspection, LedgerStatus, LevelHeld, RecordId, RecordState, SealReport, SetAside,
    SetAsideId, SetAsideRequeue, SettleReport, Settlement, StoredRecord, UsageKey, add_count,
    hour_statuses, zero_counts,
};
use crate::customer::Customer;
use crate::hour::Hour;
use crate::kind::Kind;
use crate::quantity::Quantity;
use crate::timestamp::Timestamp;

mod open;
mod seal;
use open::named;
use seal::seal_rows;

/// A ledger in a `SQLite` file. Cloning shares the connection; [`SqliteLedger::open`] the same
/// file again for a handle that behaves like another process.
///
/// Every operation is one `BEGIN IMMEDIATE` transaction on a blocking thread: handles in
/// several processes on one file take turns as `SQLite`'s single writer, and a crash at any
/// moment leaves the last committed state. The file is in WAL mode with
/// `synchronous = FULL`, so a committed checkpoint survives a power cut too.
///
/// Feature `sqlite`.
///
/// # The schema
/// Read it with `sqlite3 FILE .schema`; it is applied (and later migrated) at open, and the
/// file's `user_version` counts the migrations applied. A sealed record and its state:
/// `SELECT id, datetime(hour, 'unixepoch'), account, dimension, quantity, state, detail
/// FROM records ORDER BY hour`.
#[doc = concat!("```sql\n", include_str!("../schema_v1.sql"), "```")]
#[derive(Clone)]
pub struct SqliteLedger {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    conn: Connection,
    /// Key ids and kinds never change once written, so they are cached across transactions.
    key_ids: Keys,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("SqliteLedger")
            .field("path", &inner.conn.path())
            .finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for LedgerError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Storage(Box::new(error))
    }
}

impl SqliteLedger {
    /// Runs `work` in one immediate transaction on a blocking thread.
    async fn transact<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>, &Keys) -> Result<(R, Vec<KeyId>), LedgerError>
        + Send
        + 'static,
    ) -> Result<R, LedgerError> {
        let inner = Arc::clone(&self.inner);
        let run = move || {
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            let Inner { conn, key_ids } = &mut *guard;
            let done = (|| -> Result<_, LedgerError> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let (result, new_keys) = work(&tx, key_ids)?;
                tx.commit()?;
                Ok((result, new_keys))
            })();
            let (result, new_keys) =
                done.map_err(|error| named(error, Path::new(conn.path().unwrap_or_default())))?;
            // Only ids of a committed transaction are safe to remember.
            key_ids.extend(new_keys);
            Ok(result)
        };
        tokio::task::spawn_blocking(run)
            .await
            .map_err(|error| LedgerError::Storage(Box::new(error)))?
    }
}

/// A key's id and kind.
type KeyId = (Arc<UsageKey>, (i64, Kind));
type Keys = FxHashMap<Arc<UsageKey>, (i64, Kind)>;

fn sealed_before(tx: &Transaction<'_>) -> Result<Option<i64>, LedgerError> {
    Ok(tx
        .prepare_cached(sql::WATERMARK)?
        .query_row([], |row| row.get(0))?)
}

fn customer_sealed_before(
    tx: &Transaction<'_>,
    [product, identifier, account, license]: &CustomerColumns,
) -> Result<Option<i64>, LedgerError> {
    Ok(tx
        .prepare_cached(
            "SELECT sealed_before FROM customer_seals WHERE product = ?1 AND \
             customer_identifier = ?2 AND account = ?3 AND license = ?4",
        )?
        .query_row(params![product, identifier, account, license], |row| {
            row.get(0)
        })
        .optional()?)
}

/// The id and kind of `key`, stored with `kind` when it is new.
fn key_id(
    tx: &Transaction<'_>,
    cached: &Keys,
    new: &mut Vec<KeyId>,
    key: &Arc<UsageKey>,
    kind: Kind,
) -> Result<(i64, Kind), LedgerError> {
    if let Some(&known) = cached.get(key) {
        return Ok(known);
    }
    let [product, identifier, account, license] = customer_columns(key.customer());
    let (dimension, tags) = (key.dimension().as_str(), tags_column(key.tags()));
    tx.prepare_cached(
        "INSERT INTO usage_keys (product, customer_identifier, account, license, dimension, tags, \
         kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        product,
        identifier,
        account,
        license,
        dimension,
        tags,
        kind.as_str()
    ])?;
    let (id, stored): (i64, String) = tx
        .prepare_cached(
            "SELECT id, kind FROM usage_keys WHERE product = ?1 AND customer_identifier = ?2 AND \
             account = ?3 AND license = ?4 AND dimension = ?5 AND tags = ?6",
        )?
        .query_row(
            params![product, identifier, account, license, dimension, tags],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
    let known = (id, kind_column("usage_keys", id, &stored)?);
    new.push((Arc::clone(key), known));
    Ok(known)
}

fn set_aside(
    tx: &Transaction<'_>,
    key_id: i64,
    hour: i64,
    micros: i64,
    reason: &str,
    now: i64,
) -> Result<(), LedgerError> {
    tracing::warn!(target: "metering::ledger", key_id, hour, micros, reason, "usage set aside");
    tx.prepare_cached(
        "INSERT INTO set_aside (key_id, hour, micros, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key_id, hour, micros, reason, now])?;
    Ok(())
}

fn commit(
    tx: &Transaction<'_>,
    cached: &Keys,
    checkpoint: &Checkpoint,
    now: Timestamp,
) -> Result<(CommitReport, Vec<KeyId>), LedgerError> {
    let mut report = CommitReport::default();
    let mut new_keys = Vec::new();
    let instance = checkpoint.instance.to_string();
    let number = i64::try_from(checkpoint.number).unwrap_or(i64::MAX);
    let now = seconds(now);
    let applied = tx
        .prepare_cached(&Dialect::Sqlite.sql(sql::COMMIT_INSTANCE))?
        .query_row(params![instance, number, now], |_| Ok(()))
        .optional()?
        .is_some();
    if !applied {
        return Ok((report, new_keys));
    }
    report.applied = true;
    let global = sealed_before(tx)?;
    let mut customers: FxHashMap<&Customer, Option<i64>> = FxHashMap::default();
    for delta in &checkpoint.deltas {
        let (key_id, kind) = key_id(tx, cached, &mut new_keys, &delta.key, delta.usage.kind())?;
        let customer = delta.key.customer();
        let own = if let Some(&own) = customers.get(customer) {
            own
        } else {
            let own = customer_sealed_before(tx, &customer_columns(customer))?;
            *customers.entry(customer).or_insert(own)
        };
        let sealed = global.max(own).map(|h| hour("ledger", 1, h)).transpose()?;
        for step in commit_usage(&delta.usage, kind, delta.hour, sealed) {
            let aside = apply(tx, key_id, step, &mut report)?;
            if let Some((quantity, reason)) = aside {
                let hour = hour_seconds(delta.hour);
                set_aside(tx, key_id, hour, micros(quantity), &reason, now)?;
                report.set_aside += 1;
            }
        }
    }
    Ok((report, new_keys))
}

/// Applies one step of a commit to key `key_id`; what is to be set aside instead.
fn apply(
    tx: &Transaction<'_>,
    key_id: i64,
    step: Commit<'_>,
    report: &mut CommitReport,
) -> Result<Option<(Quantity, String)>, LedgerError> {
    let max = micros(Quantity::MAX);
    match step {
        Commit::Sum {
            hour,
            quantity,
            late,
        } => {
            report.late += usize::from(late);
            let amount = micros(quantity);
            let late = if late { amount } else { 0 };
            let values = params![key_id, hour_seconds(hour), amount, late, max];
            if tx
                .prepare_cached(&Dialect::Sqlite.sql(sql::ADD_OPEN))?
                .execute(values)?
                == 0
            {
                return Ok(Some((quantity, overflow_reason())));
            }
        }
        Commit::Max { hour, quantity } => {
            let values = params![key_id, hour_seconds(hour), micros(quantity)];
            tx.prepare_cached(&Dialect::Sqlite.greatest(sql::RAISE_MAX))?
                .execute(values)?;
        }
        Commit::Distinct { hour, ids } => {
            let hour = hour_seconds(hour);
            // The open row, of 0 until sealing counts the identifiers in.
            tx.prepare_cached(&Dialect::Sqlite.sql(sql::ADD_OPEN))?
                .execute(params![key_id, hour, 0, 0, max])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO open_identifiers (key_id, hour, high, low) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
            )?;
            for &id in ids {
                let (high, low) = identifier_columns(id);
                insert.execute(params![key_id, hour, high, low])?;
            }
        }
        Commit::Level {
            changes,
            integrate_from,
        } => {
            let mut insert = tx.prepare_cached(&Dialect::Sqlite.greatest(sql::SET_LEVEL))?;
            for change in changes {
                insert.execute(params![key_id, at_micros(change.at), micros(change.level)])?;
            }
            if let Some(open) = integrate_from {
                tx.prepare_cached(&Dialect::Sqlite.sql(sql::INTEGRATE_FROM))?
                    .execute(params![key_id, hour_seconds(open)])?;
            }
        }
        Commit::SetAside { quantity, reason } => return Ok(Some((quantity, reason))),
    }
    Ok(None)
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<Result<StoredRecord, LedgerError>> {
    let row = RecordRow {
        id: row.get(0)?,
        customer: [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
        dimension: row.get(5)?,
        hour: row.get(6)?,
        quantity: row.get(7)?,
        allocations: row.get(8)?,
        late: row.get(9)?,
        state: row.get(10)?,
        attempt: row.get(11)?,
        metering_record_id: row.get(12)?,
        detail: row.get(13)?,
        kind: row.get(14)?,
    };
    Ok(row.into_stored())
}

fn query_records(
    tx: &Transaction<'_>,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<StoredRecord>, LedgerError> {
    tx.prepare_cached(sql)?
        .query_map(values, read_record)?
        .map(|row| row?)
        .collect()
}

fn claim(
    tx: &Transaction<'_>,
    owner: &str,
    now: Timestamp,
    lease: Duration,
) -> Result<Option<Claim>, LedgerError> {
    let expires = now.saturating_add(lease);
    let now = seconds(now);
    let product: Option<String> = tx
        .query_row(&Dialect::Sqlite.sql(sql::FIRST_CLAIMABLE), [now], |row| {
            row.get(0)
        })
        .optional()?;
    let Some(product) = product else {
        return Ok(None);
    };
    let scope = scope_column(&product)?;
    let sql = Dialect::Sqlite
        .sql(&format!(
            "SELECT {} FROM records WHERE product = $2 AND {CLAIMABLE} ORDER BY hour, id LIMIT $3",
            record_columns!()
        ))
        .into_owned();
    let records = query_records(
        tx,
        &sql,
        params![now, product, i64::try_from(CLAIM_SIZE).unwrap_or(i64::MAX)],
    )?;
    let mut lease = tx.prepare_cached(
        "UPDATE records SET state = 'leased', attempt = attempt + 1, lease_owner = ?1, \
         lease_expires = ?2 WHERE id = ?3",
    )?;
    let mut claimed = Vec::with_capacity(records.len());
    for stored in records {
        lease.execute(params![owner, seconds(expires), stored.id.0])?;
        claimed.push(ClaimedRecord {
            id: stored.id,
            attempt: stored.attempt + 1,
            record: stored.record,
        });
    }
    Ok(Some(Claim {
        owner: owner.to_owned(),
        expires,
        scope,
        records: claimed,
    }))
}

fn settle(
    tx: &Transaction<'_>,
    claim: &Claim,
    outcomes: &[(RecordId, Settlement)],
    now: Timestamp,
) -> Result<SettleReport, LedgerError> {
    let mut report = SettleReport::default();
    let mut update = tx.prepare_cached(
        "UPDATE records SET state = ?1, metering_record_id = ?2, detail = ?3, \
         next_attempt_at = COALESCE(?4, next_attempt_at), settled_at = ?5, \
         lease_owner = NULL, lease_expires = NULL \
         WHERE id = ?6 AND state = 'leased' AND attempt = ?7 AND lease_owner = ?8",
    )?;
    for (id, settlement) in outcomes {
        let Some(claimed) = claim.records.iter().find(|record| record.id == *id) else {
            report.fenced += 1;
            continue;
        };
        let (state, record_id, detail, retry_at) = settled(settlement);
        let changed = update.execute(params![
            state.as_str(),
            record_id,
            detail,
            retry_at.map(seconds),
            seconds(now),
            id.0,
            claimed.attempt,
            claim.owner
        ])?;
        if changed == 1 {
            report.settled += 1;
        } else {
            report.fenced += 1;
        }
    }
    Ok(report)
}

fn status(tx: &Transaction<'_>) -> Result<LedgerStatus, LedgerError> {
    let mut status = LedgerStatus {
        records: zero_counts(),
        ..LedgerStatus::default()
    };
    let counts: Vec<(String, i64)> = tx
        .prepare_cached(sql::COUNT_BY_STATE)?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (state, count) in counts {
        add_count(&mut status.records, &state, count);
    }
    let count = |table: &str| -> Result<u64, LedgerError> {
        let count: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })?;
        Ok(count.unsigned_abs())
    };
    status.open_keys = count("open_usage")?;
    status.set_aside = count("set_aside")?;
    let oldest: Option<i64> = tx.query_row(sql::OLDEST_UNSETTLED, [], |row| row.get(0))?;
    status.oldest_unsent_hour = oldest.map(|h| hour("records", 0, h)).transpose()?;
    status.sealed_before = sealed_before(tx)?
        .map(|h| hour("ledger", 1, h))
        .transpose()?;
    Ok(status)
}

fn list_set_aside(tx: &Transaction<'_>) -> Result<Vec<SetAside>, LedgerError> {
    let read = |row: &Row<'_>| -> rusqlite::Result<Result<SetAside, LedgerError>> {
        let row = SetAsideRow {
            id: row.get(0)?,
            customer: [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
            dimension: row.get(5)?,
            tags: row.get(6)?,
            hour: row.get(7)?,
            micros: row.get(8)?,
            reason: row.get(9)?,
            at: row.get(10)?,
            kind: row.get(11)?,
        };
        Ok(row.into_set_aside())
    };
    tx.prepare_cached(sql::SET_ASIDE)?
        .query_map([], read)?
        .map(|row| row?)
        .collect()
}

/// Per-hour counts from `sql` (`HOURS` or `UNSETTLED_HOURS`) with `params`.
fn hours(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<HourStatus>, LedgerError> {
    let rows: Vec<(i64, String, i64)> = tx
        .prepare_cached(&Dialect::Sqlite.sql(sql))?
        .query_map(params, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    hour_statuses(rows)
}

fn requeue_set_aside(
    tx: &Transaction<'_>,
    id: SetAsideId,
    now: Timestamp,
) -> Result<SetAsideRequeue, LedgerError> {
    let entry: Option<(i64, i64, CustomerColumns)> = tx
        .query_row(
            "SELECT s.key_id, s.micros, k.product, k.customer_identifier, k.account, \
             k.license FROM set_aside s JOIN usage_keys k ON k.id = s.key_id WHERE s.id = ?1",
            [id.0],
            |row| {
                let customer = [row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?];
                Ok((row.get(0)?, row.get(1)?, customer))
            },
        )
        .optional()?;
    let Some((key_id, amount, customer)) = entry else {
        return Ok(SetAsideRequeue::NotFound);
    };
    let sealed = sealed_before(tx)?.max(customer_sealed_before(tx, &customer)?);
    let target = hour_seconds(requeue_hour(
        now,
        sealed.map(|h| hour("ledger", 1, h)).transpose()?,
    ));
    let max = micros(Quantity::MAX);
    let added = tx
        .prepare_cached(&Dialect::Sqlite.sql(sql::ADD_OPEN))?
        .execute(params![key_id, target, amount, amount, max])?;
    if added == 0 {
        return Ok(SetAsideRequeue::TooLarge);
    }
    tx.execute("DELETE FROM set_aside WHERE id = ?1", [id.0])?;
    Ok(SetAsideRequeue::Requeued {
        hour: hour("open_usage", key_id, target)?,
    })
}

impl Ledger for SqliteLedger {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        let checkpoint = checkpoint.clone();
        Box::pin(self.transact(move |tx, cached| commit(tx, cached, &checkpoint, now)))
    }

    fn seal(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(self.transact(move |tx, _| {
            let sealed = sealed_before(tx)?
                .map(|h| hour("ledger", 1, h))
                .transpose()?;
            // Most flushes, within an hour: nothing is written.
            if nothing_to_seal(until, sealed) {
                return Ok((SealReport::default(), Vec::new()));
            }
            let before = seal_watermark(until, sealed);
            let report = seal_rows(tx, hour_seconds(before), None, seconds(now))?;
            tx.execute(
                &Dialect::Sqlite.sql(sql::SET_WATERMARK),
                [hour_seconds(before)],
            )?;
            Ok((report, Vec::new()))
        }))
    }

    fn seal_customer<'a>(
        &'a self,
        customer: &'a Customer,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        let columns = customer_columns(customer);
        Box::pin(self.transact(move |tx, _| {
            let before = hour_seconds(customer_seal(now));
            let report = seal_rows(tx, before, Some(&columns), seconds(now))?;
            let [product, identifier, account, license] = &columns;
            tx.execute(
                "INSERT INTO customer_seals (product, customer_identifier, account, license, \
                 sealed_before) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (product, customer_identifier, account, license) DO UPDATE \
                 SET sealed_before = MAX(sealed_before, excluded.sealed_before)",
                params![product, identifier, account, license, before],
            )?;
            Ok((report, Vec::new()))
        }))
    }

    fn claim<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        let owner = owner.to_owned();
        Box::pin(self.transact(move |tx, _| Ok((claim(tx, &owner, now, lease)?, Vec::new()))))
    }

    fn settle<'a>(
        &'a self,
        claim: &'a Claim,
        outcomes: &'a [(RecordId, Settlement)],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        let (claim, outcomes) = (claim.clone(), outcomes.to_vec());
        Box::pin(self.transact(move |tx, _| Ok((settle(tx, &claim, &outcomes, now)?, Vec::new()))))
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(self.transact(|tx, _| Ok((status(tx)?, Vec::new()))))
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(self.transact(|tx, _| Ok((hours(tx, sql::UNSETTLED_HOURS, [])?, Vec::new()))))
    }
}

impl LedgerInspection for SqliteLedger {
    fn records(
        &self,
        state: Option<RecordState>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, LedgerError>> {
        Box::pin(self.transact(move |tx, _| {
            let sql = Dialect::Sqlite.sql(sql::RECORDS);
            Ok((
                query_records(tx, &sql, [state.map(RecordState::as_str)])?,
                Vec::new(),
            ))
        }))
    }

    fn set_aside(&self) -> BoxFuture<'_, Result<Vec<SetAside>, LedgerError>> {
        Box::pin(self.transact(|tx, _| Ok((list_set_aside(tx)?, Vec::new()))))
    }

    fn requeue(&self, id: RecordId, now: Timestamp) -> BoxFuture<'_, Result<bool, LedgerError>> {
        Box::pin(self.transact(move |tx, _| {
            let changed = tx.execute(
                &Dialect::Sqlite.sql(sql::REQUEUE),
                params![seconds(now), id.0],
            )?;
            Ok((changed == 1, Vec::new()))
        }))
    }

    fn record(&self, id: RecordId) -> BoxFuture<'_, Result<Option<StoredRecord>, LedgerError>> {
        Box::pin(self.transact(move |tx, _| {
            let sql = Dialect::Sqlite.sql(sql::RECORD);
            Ok((query_records(tx, &sql, [id.0])?.pop(), Vec::new()))
        }))
    }

    fn hours(&self, since: Hour) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(
            self.transact(move |tx, _| {
                Ok((hours(tx, sql::HOURS, [hour_seconds(since)])?, Vec::new()))
            }),
        )
    }

    fn requeue_set_aside(
        &self,
        id: SetAsideId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SetAsideRequeue, LedgerError>> {
        Box::pin(self.transact(move |tx, _| Ok((requeue_set_aside(tx, id, now)?, Vec::new()))))
    }

    fn levels(&self) -> BoxFuture<'_, Result<Vec<LevelHeld>, LedgerError>> {
        Box::pin(self.transact(|tx, _| {
            let read = |row: &Row<'_>| -> rusqlite::Result<Result<LevelHeld, LedgerError>> {
                let row = LevelRow {
                    key_id: row.get(0)?,
                    customer: [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
                    dimension: row.get(5)?,
                    tags: row.get(6)?,
                    at: row.get(7)?,
                    level: row.get(8)?,
                };
                Ok(row.into_held())
            };
            let held = tx
                .prepare_cached(sql::LEVELS_HELD)?
                .query_map([], read)?
                .map(|row| row?)
                .collect::<Result<_, _>>()?;
            Ok((held, Vec::new()))
        }))
    }
}
