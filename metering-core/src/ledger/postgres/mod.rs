//! The fleet ledger: one `PostgreSQL` database shared by every instance of a service.
//!
//! Every instance commits its own checkpoints; any instance may seal, claim and send. Each
//! operation is one `READ COMMITTED` transaction on a pooled connection (its statements
//! prepared once per connection, then only bound and run), and every step of the protocol
//! holds under concurrency without session state (no advisory locks that would vanish with
//! a connection):
//! - **Commit** applies a checkpoint once: the instance's row is upserted only when the
//!   number is above its last one, and that row lock makes a retried commit racing its
//!   first try wait, then see it applied. Maxima, identifiers and levels are written in
//!   key and hour order (identifiers sorted), then sums in one sorted statement, so
//!   committers meeting on hot keys take row locks in one order and never deadlock.
//! - **Commit against seal**: a commit reads the seal watermark `FOR SHARE`, a seal takes it
//!   `FOR UPDATE`. Commits run side by side; a seal waits for the commits in flight and
//!   they wait for it, then read the new watermark and move their late usage on. No delta
//!   can land in an hour while it is being sealed, or be deleted with it uncounted.
//! - **Seal** runs once per hour whoever calls it: the second sealer waits on the
//!   watermark's row, then finds nothing open below it; records are unique per customer,
//!   dimension and hour besides. A seal that would leave the watermark where it is (most
//!   flushes, within an hour) reads it without a lock and ends: nothing is open below it.
//! - **Claim** takes the oldest sendable records with `FOR UPDATE SKIP LOCKED`, so flushers
//!   never wait on each other nor claim a record twice; **settle** writes an outcome only
//!   where the record is still leased to the same owner under the same attempt.
//!
//! Connect with a URL (`postgres://user:password@host:5432/db`): `sslmode=require` turns
//! TLS on (feature `postgres-tls`: rustls, verified against the system's roots). The
//! migrations below are embedded and applied at start, under a transaction-level advisory
//! lock so that instances starting at once take turns; `schema_migrations` lists those
//! applied. The schema:
#![doc = concat!("```sql\n", include_str!("../schema_v1.sql"), "```")]

mod config;
mod migrate;
mod seal;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use rustc_hash::FxHashMap;
use tokio::sync::OnceCell;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub use self::config::PostgresLedgerBuilder;
use self::migrate::migrate;
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

/// A ledger in a `PostgreSQL` database, through a pool of connections. Cloning shares the
/// pool; build another ledger on the same URL for a handle that behaves like another
/// process.
///
/// Feature `postgres`.
#[derive(Clone)]
pub struct PostgresLedger {
    pool: Pool,
    schema: Option<String>,
    /// Set once the schema is up to date: migrations run before the first operation.
    migrated: Arc<OnceCell<()>>,
    /// Key ids never change once committed, so they are cached.
    key_ids: Arc<Mutex<Keys>>,
}

impl fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl From<tokio_postgres::Error> for LedgerError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Storage(Box::new(error))
    }
}

impl From<deadpool_postgres::PoolError> for LedgerError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Storage(Box::new(error))
    }
}

impl PostgresLedger {
    /// A builder for the database at `url` (`postgres://user:password@host:port/database`,
    /// or the `key=value` form), with the pool's defaults.
    ///
    /// # Errors
    /// [`LedgerError::Config`] when the URL is not valid, or asks for TLS in a build
    /// without the `postgres-tls` feature.
    pub fn builder(url: &str) -> Result<PostgresLedgerBuilder, LedgerError> {
        PostgresLedgerBuilder::new(url)
    }

    /// Connects to the database at `url` and brings its schema up to date.
    ///
    /// # Errors
    /// When the URL is invalid, the database does not answer, or its schema was written by
    /// a newer version of this library.
    pub async fn connect(url: &str) -> Result<Self, LedgerError> {
        Self::builder(url)?.connect().await
    }

    /// The database's schema, migrated once per ledger.
    async fn client(&self) -> Result<Object, LedgerError> {
        self.migrated
            .get_or_try_init(|| migrate(&self.pool, self.schema.as_deref()))
            .await?;
        Ok(self.pool.get().await?)
    }

    /// The ids and kinds of the deltas' keys, in order. New keys are inserted first (with
    /// their delta's kind) in their own statement: a key is harmless without usage, and once
    /// committed its id can be cached.
    async fn key_ids(&self, checkpoint: &Checkpoint) -> Result<Vec<(i64, Kind)>, LedgerError> {
        let missing: BTreeMap<[String; 7], Arc<UsageKey>> = {
            let cache = self.key_ids.lock().unwrap_or_else(PoisonError::into_inner);
            checkpoint
                .deltas
                .iter()
                .filter(|delta| !cache.contains_key(&delta.key))
                .map(|delta| {
                    let [product, identifier, account, license, dimension, tags] =
                        key_columns(&delta.key);
                    let kind = delta.usage.kind().as_str().to_owned();
                    let columns = [product, identifier, account, license, dimension, tags, kind];
                    (columns, Arc::clone(&delta.key))
                })
                .collect()
        };
        if !missing.is_empty() {
            // Sorted, so that two processes inserting the same new keys lock them in one order.
            let columns: [Vec<&str>; 7] = std::array::from_fn(|column| {
                missing.keys().map(|key| key[column].as_str()).collect()
            });
            let params: Vec<&(dyn ToSql + Sync)> = columns
                .iter()
                .map(|column| column as &(dyn ToSql + Sync))
                .collect();
            let client = self.client().await?;
            let insert = client
                .prepare_cached(&format!(
                    "INSERT INTO usage_keys (product, customer_identifier, account, license, \
                     dimension, tags, kind) SELECT * FROM {KEYS} ON CONFLICT DO NOTHING"
                ))
                .await?;
            client.execute(&insert, &params).await?;
            let select = client
                .prepare_cached(&format!(
                    "SELECT k.id, k.product, k.customer_identifier, k.account, k.license, \
                     k.dimension, k.tags, k.kind FROM usage_keys k JOIN {KEYS} USING (product, \
                     customer_identifier, account, license, dimension, tags)"
                ))
                .await?;
            let rows = client.query(&select, &params).await?;
            let mut cache = self.key_ids.lock().unwrap_or_else(PoisonError::into_inner);
            for row in rows {
                let columns: [String; 7] = std::array::from_fn(|i| row.get(i + 1));
                if let Some(key) = missing.get(&columns) {
                    let id: i64 = row.get(0);
                    cache.insert(
                        Arc::clone(key),
                        (id, kind_column("usage_keys", id, &columns[6])?),
                    );
                }
            }
        }
        let cache = self.key_ids.lock().unwrap_or_else(PoisonError::into_inner);
        checkpoint
            .deltas
            .iter()
            .map(|delta| {
                cache.get(&delta.key).copied().ok_or_else(|| {
                    LedgerError::Storage(format!("no id was stored for key {:?}", delta.key).into())
                })
            })
            .collect()
    }
}

/// Key ids and kinds, which never change once written.
type Keys = FxHashMap<Arc<UsageKey>, (i64, Kind)>;

/// The keys passed as seven arrays (with the kind of a key inserted), as a table.
const KEYS: &str = "unnest($1::text[], $2::text[], $3::text[], $4::text[], \
     $5::text[], $6::text[], $7::text[]) AS n (product, customer_identifier, account, license, \
     dimension, tags, kind)";

/// A key as the six text columns of `usage_keys`.
fn key_columns(key: &UsageKey) -> [String; 6] {
    let [product, identifier, account, license] = customer_columns(key.customer());
    [
        product,
        identifier,
        account,
        license,
        key.dimension().as_str().to_owned(),
        tags_column(key.tags()),
    ]
}

/// Usage placed by a commit: one open row's addition and the deltas it came from.
#[derive(Default)]
struct Placed {
    micros: i64,
    late_micros: i64,
    /// (hour, micros) of each delta, to set aside one by one if the row cannot take them.
    deltas: Vec<(i64, i64)>,
}

/// Entries to set aside: key id, hour, micros, reason.
type Asides = Vec<(i64, i64, i64, String)>;

async fn insert_set_aside(
    tx: &deadpool_postgres::Transaction<'_>,
    asides: &Asides,
    now: i64,
) -> Result<(), LedgerError> {
    if asides.is_empty() {
        return Ok(());
    }
    for (key_id, hour, micros, reason) in asides {
        tracing::warn!(target: "metering::ledger", key_id, hour, micros, reason, "usage set aside");
    }
    let key_ids: Vec<i64> = asides.iter().map(|a| a.0).collect();
    let hours: Vec<i64> = asides.iter().map(|a| a.1).collect();
    let amounts: Vec<i64> = asides.iter().map(|a| a.2).collect();
    let reasons: Vec<&str> = asides.iter().map(|a| a.3.as_str()).collect();
    let statement = tx
        .prepare_cached(
            "INSERT INTO set_aside (key_id, hour, micros, reason, at) \
             SELECT *, $5 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])",
        )
        .await?;
    tx.execute(&statement, &[&key_ids, &hours, &amounts, &reasons, &now])
        .await?;
    Ok(())
}

impl PostgresLedger {
    async fn commit_checkpoint(
        &self,
        checkpoint: &Checkpoint,
        now: Timestamp,
    ) -> Result<CommitReport, LedgerError> {
        let mut report = CommitReport::default();
        let key_ids = self.key_ids(checkpoint).await?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let number = i64::try_from(checkpoint.number).unwrap_or(i64::MAX);
        let now = seconds(now);
        // The instance's row lock orders retries of one checkpoint: the second waits, then
        // finds the number applied.
        let commit_instance = tx.prepare_cached(sql::COMMIT_INSTANCE).await?;
        let applied = tx
            .query_opt(
                &commit_instance,
                &[&checkpoint.instance.to_string(), &number, &now],
            )
            .await?
            .is_some();
        if !applied {
            // Ended here rather than by a drop, which would leave the rollback to the
            // connection's task.
            tx.commit().await?;
            return Ok(report);
        }
        report.applied = true;
        let global = sealed_before(&tx, sql::WATERMARK_FOR_SHARE).await?;
        let own = customer_seals(&tx, checkpoint).await?;
        let mut placed: BTreeMap<(i64, i64), Placed> = BTreeMap::new();
        let mut others = Vec::new();
        let mut asides = Asides::new();
        let max = micros(Quantity::MAX);
        for (delta, (key_id, kind)) in checkpoint.deltas.iter().zip(key_ids) {
            let hour = hour_seconds(delta.hour);
            let own = own.get(&customer_columns(delta.key.customer())).copied();
            let sealed = global
                .max(own)
                .map(|h| self::hour("ledger", 1, h))
                .transpose()?;
            for step in commit_usage(&delta.usage, kind, delta.hour, sealed) {
                let (quantity, reason) = match step {
                    Commit::Sum {
                        hour: target,
                        quantity,
                        late,
                    } => {
                        report.late += usize::from(late);
                        let amount = micros(quantity);
                        let row = placed.entry((key_id, hour_seconds(target))).or_default();
                        if row.micros + amount <= max {
                            row.micros += amount;
                            row.late_micros += if late { amount } else { 0 };
                            row.deltas.push((hour, amount));
                            continue;
                        }
                        (quantity, overflow_reason())
                    }
                    Commit::SetAside { quantity, reason } => (quantity, reason),
                    other => {
                        others.push((key_id, other));
                        continue;
                    }
                };
                asides.push((key_id, hour, micros(quantity), reason));
                report.set_aside += 1;
            }
        }
        // Then the sums in one statement, rows in (key, hour) order: concurrent commits
        // lock in one order.
        apply_in_key_order(&tx, others).await?;
        let key_ids: Vec<i64> = placed.keys().map(|k| k.0).collect();
        let hours: Vec<i64> = placed.keys().map(|k| k.1).collect();
        let amounts: Vec<i64> = placed.values().map(|p| p.micros).collect();
        let late: Vec<i64> = placed.values().map(|p| p.late_micros).collect();
        let upsert = tx
            .prepare_cached(
                "INSERT INTO open_usage AS o (key_id, hour, micros, late_micros) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                 ON CONFLICT (key_id, hour) DO UPDATE SET micros = o.micros + excluded.micros, \
                 late_micros = o.late_micros + excluded.late_micros \
                 WHERE o.micros + excluded.micros <= $5 RETURNING key_id, hour",
            )
            .await?;
        let written: Vec<(i64, i64)> = tx
            .query(&upsert, &[&key_ids, &hours, &amounts, &late, &max])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for (key, row) in &placed {
            if !written.contains(key) {
                for &(hour, amount) in &row.deltas {
                    asides.push((key.0, hour, amount, overflow_reason()));
                    report.set_aside += 1;
                }
            }
        }
        insert_set_aside(&tx, &asides, now).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// Applies a maximum, identifiers or level changes of key `key_id`.
/// Applies maxima, identifiers and levels in (key, hour) order: concurrent commits lock
/// their rows in one order.
async fn apply_in_key_order(
    tx: &deadpool_postgres::Transaction<'_>,
    mut steps: Vec<(i64, Commit<'_>)>,
) -> Result<(), LedgerError> {
    steps.sort_by_key(|(key_id, step)| match step {
        Commit::Max { hour, .. } | Commit::Distinct { hour, .. } => (*key_id, Some(*hour)),
        _ => (*key_id, None),
    });
    for (key_id, step) in steps {
        apply(tx, key_id, step).await?;
    }
    Ok(())
}

async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    key_id: i64,
    step: Commit<'_>,
) -> Result<(), LedgerError> {
    match step {
        Commit::Max { hour, quantity } => {
            let statement = tx
                .prepare_cached(&Dialect::Postgres.greatest(sql::RAISE_MAX))
                .await?;
            let values: [&(dyn ToSql + Sync); 3] =
                [&key_id, &hour_seconds(hour), &micros(quantity)];
            tx.execute(&statement, &values).await?;
        }
        Commit::Distinct { hour, ids } => {
            let hour = hour_seconds(hour);
            // The open row, of 0 until sealing counts the identifiers in.
            let add = tx.prepare_cached(sql::ADD_OPEN).await?;
            let max = micros(Quantity::MAX);
            tx.execute(&add, &[&key_id, &hour, &0_i64, &0_i64, &max])
                .await?;
            // In one order, as every lock a commit takes.
            let mut columns: Vec<(i64, i64)> =
                ids.iter().map(|&id| identifier_columns(id)).collect();
            columns.sort_unstable();
            let (high, low): (Vec<i64>, Vec<i64>) = columns.into_iter().unzip();
            let insert = tx
                .prepare_cached(
                    "INSERT INTO open_identifiers (key_id, hour, high, low) \
                     SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[]) \
                     ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(&insert, &[&key_id, &hour, &high, &low]).await?;
        }
        Commit::Level {
            changes,
            integrate_from,
        } => {
            let insert = tx
                .prepare_cached(&Dialect::Postgres.greatest(sql::SET_LEVEL))
                .await?;
            for change in changes {
                let values: [&(dyn ToSql + Sync); 3] =
                    [&key_id, &at_micros(change.at), &micros(change.level)];
                tx.execute(&insert, &values).await?;
            }
            if let Some(open) = integrate_from {
                let from = tx.prepare_cached(sql::INTEGRATE_FROM).await?;
                tx.execute(&from, &[&key_id, &hour_seconds(open)]).await?;
            }
        }
        Commit::Sum { .. } | Commit::SetAside { .. } => {}
    }
    Ok(())
}

/// The seal watermark, read by `watermark`: [`sql::WATERMARK_FOR_SHARE`] (commits, which
/// run side by side) or [`sql::WATERMARK_FOR_UPDATE`] (a seal, which waits for them and they
/// for it).
async fn sealed_before(
    tx: &deadpool_postgres::Transaction<'_>,
    watermark: &str,
) -> Result<Option<i64>, LedgerError> {
    let statement = tx.prepare_cached(watermark).await?;
    Ok(tx.query_one(&statement, &[]).await?.get(0))
}

/// The hours sealed ahead for the checkpoint's customers who unsubscribed.
async fn customer_seals(
    tx: &deadpool_postgres::Transaction<'_>,
    checkpoint: &Checkpoint,
) -> Result<FxHashMap<CustomerColumns, i64>, LedgerError> {
    let customers: BTreeSet<CustomerColumns> = checkpoint
        .deltas
        .iter()
        .map(|delta| customer_columns(delta.key.customer()))
        .collect();
    let columns: [Vec<&str>; 4] =
        std::array::from_fn(|i| customers.iter().map(|c| c[i].as_str()).collect());
    let statement = tx
        .prepare_cached(
            "SELECT product, customer_identifier, account, license, sealed_before \
             FROM customer_seals JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             AS c (product, customer_identifier, account, license) \
             USING (product, customer_identifier, account, license)",
        )
        .await?;
    let rows = tx
        .query(
            &statement,
            &[&columns[0], &columns[1], &columns[2], &columns[3]],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| (std::array::from_fn(|i| row.get(i)), row.get(4)))
        .collect())
}

fn read_record(row: &Row) -> Result<StoredRecord, LedgerError> {
    RecordRow {
        id: row.get(0),
        customer: [row.get(1), row.get(2), row.get(3), row.get(4)],
        dimension: row.get(5),
        hour: row.get(6),
        quantity: row.get(7),
        allocations: row.get(8),
        late: row.get(9),
        state: row.get(10),
        attempt: row.get::<_, i32>(11).into(),
        metering_record_id: row.get(12),
        detail: row.get(13),
        kind: row.get(14),
    }
    .into_stored()
}

impl Ledger for PostgresLedger {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        Box::pin(async move { self.commit_checkpoint(checkpoint, now).await })
    }

    fn seal(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(async move {
            let read = |sealed: Option<i64>| sealed.map(|h| hour("ledger", 1, h)).transpose();
            let mut client = self.client().await?;
            // Most flushes find the hour unchanged: read without a lock, they end at once,
            // neither waiting for the commits in flight nor making them wait.
            let watermark = client.prepare_cached(sql::WATERMARK).await?;
            let sealed = read(client.query_one(&watermark, &[]).await?.get(0))?;
            if nothing_to_seal(until, sealed) {
                return Ok(SealReport::default());
            }
            let tx = client.transaction().await?;
            // Waits for the commits in flight; a second sealer waits here for the first.
            let sealed = read(sealed_before(&tx, sql::WATERMARK_FOR_UPDATE).await?)?;
            let before = hour_seconds(seal_watermark(until, sealed));
            let report = seal::seal_rows(&tx, before, None, seconds(now)).await?;
            let set_watermark = tx.prepare_cached(sql::SET_WATERMARK).await?;
            tx.execute(&set_watermark, &[&before]).await?;
            tx.commit().await?;
            Ok(report)
        })
    }

    fn seal_customer<'a>(
        &'a self,
        customer: &'a Customer,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        Box::pin(async move {
            let columns = customer_columns(customer);
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // As a seal: waits for the commits in flight, and they for it.
            sealed_before(&tx, sql::WATERMARK_FOR_UPDATE).await?;
            let before = hour_seconds(customer_seal(now));
            let report = seal::seal_rows(&tx, before, Some(&columns), seconds(now)).await?;
            let [product, identifier, account, license] = &columns;
            tx.execute(
                "INSERT INTO customer_seals AS s (product, customer_identifier, account, license, \
             sealed_before) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (product, customer_identifier, account, license) DO UPDATE \
             SET sealed_before = GREATEST(s.sealed_before, excluded.sealed_before)",
                &[product, identifier, account, license, &before],
            )
            .await?;
            tx.commit().await?;
            Ok(report)
        })
    }

    fn claim<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        Box::pin(async move {
            let expires = now.saturating_add(lease);
            let now = seconds(now);
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // Records another flusher is claiming right now are skipped, not waited for.
            let first = tx.prepare_cached(sql::FIRST_CLAIMABLE_LOCKED).await?;
            let first = tx.query_opt(&first, &[&now]).await?;
            let Some(first) = first else {
                tx.commit().await?;
                return Ok(None);
            };
            let product: String = first.get(0);
            let scope = scope_column(&product)?;
            let statement = tx
                .prepare_cached(&format!(
                    "UPDATE records SET state = 'leased', attempt = attempt + 1, lease_owner = $3, \
                 lease_expires = $4 WHERE id IN (SELECT id FROM records WHERE product = $2 \
                 AND {CLAIMABLE} ORDER BY hour, id LIMIT {CLAIM_SIZE} FOR UPDATE SKIP LOCKED) \
                 RETURNING {}",
                    record_columns!()
                ))
                .await?;
            let rows = tx
                .query(&statement, &[&now, &product, &owner, &seconds(expires)])
                .await?;
            tx.commit().await?;
            let mut records = rows
                .iter()
                .map(read_record)
                .collect::<Result<Vec<_>, _>>()?;
            records.sort_by_key(|stored| (stored.record.timestamp(), stored.id));
            Ok(Some(Claim {
                owner: owner.to_owned(),
                expires,
                scope,
                records: records
                    .into_iter()
                    .map(|stored| ClaimedRecord {
                        id: stored.id,
                        attempt: stored.attempt,
                        record: stored.record,
                    })
                    .collect(),
            }))
        })
    }

    fn settle<'a>(
        &'a self,
        claim: &'a Claim,
        outcomes: &'a [(RecordId, Settlement)],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        Box::pin(async move {
            let held: Vec<_> = outcomes
                .iter()
                .filter_map(|(id, settlement)| {
                    let claimed = claim.records.iter().find(|record| record.id == *id)?;
                    Some((id.0, i64::from(claimed.attempt), settled(settlement)))
                })
                .collect();
            let ids: Vec<i64> = held.iter().map(|h| h.0).collect();
            let attempts: Vec<i64> = held.iter().map(|h| h.1).collect();
            let states: Vec<&str> = held.iter().map(|h| h.2.0.as_str()).collect();
            let record_ids: Vec<Option<&str>> = held.iter().map(|h| h.2.1).collect();
            let details: Vec<Option<&str>> = held.iter().map(|h| h.2.2).collect();
            let retry_at: Vec<Option<i64>> = held.iter().map(|h| h.2.3.map(seconds)).collect();
            let client = self.client().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE records r SET state = s.state, metering_record_id = s.record_id, \
                 detail = s.detail, next_attempt_at = COALESCE(s.retry_at, r.next_attempt_at), \
                 settled_at = $1, lease_owner = NULL, lease_expires = NULL \
                 FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
                 $7::bigint[]) AS s (id, attempt, state, record_id, detail, retry_at) \
                 WHERE r.id = s.id AND r.state = 'leased' AND r.attempt = s.attempt \
                 AND r.lease_owner = $8",
                )
                .await?;
            let settled = client
                .execute(
                    &statement,
                    &[
                        &seconds(now),
                        &ids,
                        &attempts,
                        &states,
                        &record_ids,
                        &details,
                        &retry_at,
                        &claim.owner,
                    ],
                )
                .await?;
            let settled = usize::try_from(settled).unwrap_or(usize::MAX);
            Ok(SettleReport {
                settled,
                fenced: outcomes.len().saturating_sub(settled),
            })
        })
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            // One snapshot for every count.
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let mut status = LedgerStatus {
                records: zero_counts(),
                ..LedgerStatus::default()
            };
            for row in tx.query(sql::COUNT_BY_STATE, &[]).await? {
                add_count(&mut status.records, row.get(0), row.get(1));
            }
            let row = tx
                .query_one(
                    &format!(
                        "SELECT (SELECT COUNT(*) FROM open_usage), \
                         (SELECT COUNT(*) FROM set_aside), ({}), \
                         (SELECT sealed_before FROM ledger WHERE id = 1)",
                        sql::OLDEST_UNSETTLED
                    ),
                    &[],
                )
                .await?;
            status.open_keys = row.get::<_, i64>(0).unsigned_abs();
            status.set_aside = row.get::<_, i64>(1).unsigned_abs();
            let read = |column: usize, table| {
                row.get::<_, Option<i64>>(column)
                    .map(|h| hour(table, 0, h))
                    .transpose()
            };
            status.oldest_unsent_hour = read(2, "records")?;
            status.sealed_before = read(3, "ledger")?;
            tx.commit().await?;
            Ok(status)
        })
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let unsettled = client.prepare_cached(sql::UNSETTLED_HOURS).await?;
            let rows = client.query(&unsettled, &[]).await?;
            hour_statuses(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))))
        })
    }
}

impl LedgerInspection for PostgresLedger {
    fn records(
        &self,
        state: Option<RecordState>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql::RECORDS).await?;
            client
                .query(&statement, &[&state.map(RecordState::as_str)])
                .await?
                .iter()
                .map(read_record)
                .collect()
        })
    }

    fn set_aside(&self) -> BoxFuture<'_, Result<Vec<SetAside>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client.query(sql::SET_ASIDE, &[]).await?;
            rows.iter()
                .map(|row| {
                    SetAsideRow {
                        id: row.get(0),
                        customer: [row.get(1), row.get(2), row.get(3), row.get(4)],
                        dimension: row.get(5),
                        tags: row.get(6),
                        hour: row.get(7),
                        micros: row.get(8),
                        reason: row.get(9),
                        at: row.get(10),
                        kind: row.get(11),
                    }
                    .into_set_aside()
                })
                .collect()
        })
    }

    fn requeue(&self, id: RecordId, now: Timestamp) -> BoxFuture<'_, Result<bool, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let changed = client
                .execute(sql::REQUEUE, &[&seconds(now), &id.0])
                .await?;
            Ok(changed == 1)
        })
    }

    fn record(&self, id: RecordId) -> BoxFuture<'_, Result<Option<StoredRecord>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql::RECORD).await?;
            client
                .query_opt(&statement, &[&id.0])
                .await?
                .as_ref()
                .map(read_record)
                .transpose()
        })
    }

    fn hours(&self, since: Hour) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client.query(sql::HOURS, &[&hour_seconds(since)]).await?;
            hour_statuses(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))))
        })
    }

    fn requeue_set_aside(
        &self,
        id: SetAsideId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SetAsideRequeue, LedgerError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // As a commit: the watermark FOR SHARE keeps a seal from closing the hour meanwhile.
            let global = sealed_before(&tx, sql::WATERMARK_FOR_SHARE).await?;
            let entry = tx
            .query_opt(
                "DELETE FROM set_aside s USING usage_keys k WHERE s.id = $1 AND k.id = s.key_id \
                 RETURNING s.key_id, s.micros, \
                 (SELECT c.sealed_before FROM customer_seals c WHERE c.product = k.product \
                  AND c.customer_identifier = k.customer_identifier AND c.account = k.account \
                  AND c.license = k.license)",
                &[&id.0],
            )
            .await?;
            let Some(entry) = entry else {
                tx.commit().await?;
                return Ok(SetAsideRequeue::NotFound);
            };
            let (key_id, amount, own): (i64, i64, Option<i64>) =
                (entry.get(0), entry.get(1), entry.get(2));
            let sealed = global.max(own);
            let target = hour_seconds(requeue_hour(
                now,
                sealed.map(|h| hour("ledger", 1, h)).transpose()?,
            ));
            let added = tx
                .execute(
                    "INSERT INTO open_usage AS o (key_id, hour, micros, late_micros) \
                 VALUES ($1, $2, $3, $3) ON CONFLICT (key_id, hour) DO UPDATE \
                 SET micros = o.micros + excluded.micros, \
                 late_micros = o.late_micros + excluded.late_micros \
                 WHERE o.micros + excluded.micros <= $4",
                    &[&key_id, &target, &amount, &micros(Quantity::MAX)],
                )
                .await?;
            if added == 0 {
                // The entry stays: its deletion is rolled back.
                tx.rollback().await?;
                return Ok(SetAsideRequeue::TooLarge);
            }
            tx.commit().await?;
            Ok(SetAsideRequeue::Requeued {
                hour: hour("open_usage", key_id, target)?,
            })
        })
    }

    fn levels(&self) -> BoxFuture<'_, Result<Vec<LevelHeld>, LedgerError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client.query(sql::LEVELS_HELD, &[]).await?;
            rows.iter()
                .map(|row| {
                    LevelRow {
                        key_id: row.get(0),
                        customer: [row.get(1), row.get(2), row.get(3), row.get(4)],
                        dimension: row.get(5),
                        tags: row.get(6),
                        at: row.get(7),
                        level: row.get(8),
                    }
                    .into_held()
                })
                .collect()
        })
    }
}
