//! The embedded ledger: one `SQLite` file in WAL mode (see [`SqliteLedger`]).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use rustc_hash::FxHashMap;

use super::codec::{
    CustomerColumns, RecordRow, SetAsideRow, customer_columns, micros, place_seconds, scope_column,
    seconds, tags_column, timestamp,
};
use super::protocol::{
    CLAIM_SIZE, customer_seal, overflow_reason, requeue_hour, seal_watermark, settled,
};
use super::sql::{self, CLAIMABLE, Dialect, record_columns};
use super::{
    BoxFuture, Checkpoint, Claim, ClaimedRecord, CommitReport, HourStatus, Ledger, LedgerError,
    LedgerInspection, LedgerStatus, RecordId, RecordState, SealReport, SetAside, SetAsideId,
    SetAsideRequeue, SettleReport, Settlement, StoredRecord, UsageKey, add_count, hour_statuses,
    zero_counts,
};
use crate::customer::Customer;
use crate::quantity::Quantity;
use crate::timestamp::Timestamp;

/// How long a handle waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

mod seal;
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
    /// Key ids never change once written, so they are cached across transactions.
    key_ids: FxHashMap<Arc<UsageKey>, i64>,
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

/// Whether `error` says the file is damaged: no retry mends that.
fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// `error`, as [`LedgerError::Damaged`] naming `path` when the storage says the file is
/// damaged.
fn named(error: impl Into<LedgerError>, path: &Path) -> LedgerError {
    match error.into() {
        LedgerError::Storage(inner)
            if inner
                .downcast_ref::<rusqlite::Error>()
                .is_some_and(is_damage) =>
        {
            damaged(path, inner.to_string())
        }
        other => other,
    }
}

fn damaged(path: &Path, detail: impl Into<String>) -> LedgerError {
    LedgerError::Damaged {
        store: path.display().to_string(),
        detail: detail.into(),
    }
}

impl SqliteLedger {
    /// Opens the ledger file at `path`, creating a new ledger when there is no file there,
    /// and brings its schema up to date.
    ///
    /// A new ledger is made whole beside `path` and then linked into place, so processes
    /// opening one new path at the same moment all open the same ledger, and a file found
    /// at `path` is always a ledger someone made. An empty (0-byte) file there is refused:
    /// it is what is left of a ledger whose history is gone, not a new one
    /// ([`SqliteLedger::create`] replaces it when a new ledger is what is wanted).
    ///
    /// The file is checked at open (`PRAGMA quick_check`, which reads every page: about 3 s
    /// for a 230 MB file of a million records on a busy 2-core machine), so that a damaged
    /// store is reported before it acknowledges new usage.
    ///
    /// ```
    /// use metering_core::ledger::{LedgerError, SqliteLedger};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("usage.sqlite");
    /// let ledger = SqliteLedger::open(&path)?; // a new ledger: there was no file
    /// drop(ledger);
    /// SqliteLedger::open(&path)?; // the same ledger again
    /// // A new ledger is not made over an existing one...
    /// assert!(matches!(SqliteLedger::create(&path), Err(LedgerError::Config(_))));
    /// // ...and an empty file is not taken for a new ledger.
    /// let empty = dir.path().join("empty.sqlite");
    /// std::fs::File::create(&empty)?;
    /// let error = SqliteLedger::open(&empty).unwrap_err();
    /// assert!(error.to_string().contains("empty"), "{error}");
    /// SqliteLedger::create(&empty)?; // unless a new one is what is asked for
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LedgerError::Damaged`] when the file is not a readable ledger (a damaged page, not
    /// a database); [`LedgerError::Config`] for an empty file; else when the file cannot be
    /// opened or migrated, or was written by a newer version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.len() == 0 => Err(LedgerError::Config(format!(
                "{}: the file is empty (0 bytes), not a ledger: a ledger's history is not \
                 there to read. Remove the file, or call SqliteLedger::create, for a new ledger",
                path.display()
            ))),
            Ok(_) => Self::open_file(path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                make_new(path, false)?;
                Self::open_file(path)
            }
            Err(error) => Err(LedgerError::Config(format!(
                "{}: cannot read the ledger file: {error}",
                path.display()
            ))),
        }
    }

    /// Creates a new ledger at `path`, where there must be no file or an empty one (a
    /// temporary file just made, say), and opens it.
    ///
    /// # Errors
    /// [`LedgerError::Config`] when a file with content is at `path`; else as
    /// [`SqliteLedger::open`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.len() > 0 => {
                return Err(LedgerError::Config(format!(
                    "{}: a file is there already ({} bytes): a new ledger is not made over it",
                    path.display(),
                    metadata.len()
                )));
            }
            Ok(_) => make_new(path, true)?,
            Err(_) => make_new(path, false)?,
        }
        Self::open_file(path)
    }

    /// Opens the ledger file at `path`, which must exist and be a ledger already (for tools
    /// that inspect one: a wrong path must not leave a new, empty ledger behind), and brings
    /// its schema up to date.
    ///
    /// # Errors
    /// [`LedgerError::Config`] when there is no file at `path` or it is not a ledger; else
    /// as [`SqliteLedger::open`].
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(path, existing_flags()).map_err(|error| {
            LedgerError::Config(format!(
                "{}: cannot open the ledger file: {error}",
                path.display()
            ))
        })?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|error| named(error, path))?;
        if version == 0 {
            return Err(LedgerError::Config(format!(
                "{}: not a ledger (its schema version is 0: no Meter has opened it)",
                path.display()
            )));
        }
        Self::with_connection(conn, path)
    }

    /// Opens the existing file at `path`.
    fn open_file(path: &Path) -> Result<Self, LedgerError> {
        let conn = Connection::open_with_flags(path, existing_flags())
            .map_err(|error| named(error, path))?;
        Self::with_connection(conn, path)
    }

    fn with_connection(mut conn: Connection, path: &Path) -> Result<Self, LedgerError> {
        prepare(&mut conn).map_err(|error| named(error, path))?;
        let problems: Vec<String> = conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut check| check.query_map([], |row| row.get(0))?.collect())
            .map_err(|error| named(error, path))?;
        if problems.iter().any(|line| line != "ok") {
            return Err(damaged(path, problems.join("; ")));
        }
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                key_ids: FxHashMap::default(),
            })),
        })
    }

    /// Runs `work` in one immediate transaction on a blocking thread.
    async fn transact<R: Send + 'static>(
        &self,
        work: impl FnOnce(
            &Transaction<'_>,
            &FxHashMap<Arc<UsageKey>, i64>,
        ) -> Result<(R, Vec<KeyId>), LedgerError>
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

type KeyId = (Arc<UsageKey>, i64);

/// Flags for a file that must exist: nothing is created by mistake.
fn existing_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The connection's settings, and the schema brought up to date.
fn prepare(conn: &mut Connection) -> Result<(), LedgerError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(conn)
}

/// Makes a new ledger at `path`: whole in a file of its own beside it (WAL mode, schema
/// applied, closed), then linked into place, so nobody ever opens a half-made ledger and
/// processes making one at the same moment do not race for its first lock (switching a
/// new file to WAL mode does not wait for the busy timeout). When another process linked
/// its ledger first, that one is kept. `replace` puts it over whatever file is there.
fn make_new(path: &Path, replace: bool) -> Result<(), LedgerError> {
    let name = path.file_name().map_or_else(
        || std::borrow::Cow::Borrowed("ledger"),
        |name| name.to_string_lossy(),
    );
    let new = path.with_file_name(format!(".{name}.{:016x}.new", fastrand::u64(..)));
    let config = |error: std::io::Error| {
        LedgerError::Config(format!(
            "{}: cannot make a new ledger: {error}",
            path.display()
        ))
    };
    let made = (|| {
        let flags = existing_flags() | OpenFlags::SQLITE_OPEN_CREATE;
        let mut conn = Connection::open_with_flags(&new, flags)?;
        prepare(&mut conn)?;
        // The last connection's close checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, error)| error)?;
        if replace {
            std::fs::rename(&new, path).map_err(config)
        } else {
            match std::fs::hard_link(&new, path) {
                Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                    Err(config(error))
                }
                _ => Ok(()),
            }
        }
    })();
    for suffix in ["", "-wal", "-shm"] {
        let mut leftover = new.clone().into_os_string();
        leftover.push(suffix);
        let _ = std::fs::remove_file(leftover);
    }
    made?;
    // The new name is durable only once its directory is.
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(config)?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), LedgerError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // The file's `user_version` counts the migrations applied.
    let migrations = Dialect::Sqlite.migrations();
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(LedgerError::SchemaTooNew {
            found: version,
            known,
        });
    }
    for migration in migrations
        .iter()
        .skip(usize::try_from(version).unwrap_or_default())
    {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

fn sealed_before(tx: &Transaction<'_>) -> Result<Option<i64>, LedgerError> {
    Ok(
        tx.query_row("SELECT sealed_before FROM ledger WHERE id = 1", [], |row| {
            row.get(0)
        })?,
    )
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

fn key_id(
    tx: &Transaction<'_>,
    cached: &FxHashMap<Arc<UsageKey>, i64>,
    new: &mut Vec<KeyId>,
    key: &Arc<UsageKey>,
) -> Result<i64, LedgerError> {
    if let Some(&id) = cached.get(key) {
        return Ok(id);
    }
    let [product, identifier, account, license] = customer_columns(key.customer());
    let values = params![
        product,
        identifier,
        account,
        license,
        key.dimension().as_str(),
        tags_column(key.tags())
    ];
    tx.prepare_cached(
        "INSERT INTO usage_keys (product, customer_identifier, account, license, dimension, tags) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute(values)?;
    let id = tx
        .prepare_cached(
            "SELECT id FROM usage_keys WHERE product = ?1 AND customer_identifier = ?2 AND \
             account = ?3 AND license = ?4 AND dimension = ?5 AND tags = ?6",
        )?
        .query_row(values, |row| row.get(0))?;
    new.push((Arc::clone(key), id));
    Ok(id)
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

/// Adds usage to a key's hour: key id, hour, micros, late micros, the largest total. Changes
/// no row when the total would exceed it.
const ADD_OPEN_USAGE: &str = "INSERT INTO open_usage (key_id, hour, micros, late_micros) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key_id, hour) DO UPDATE \
     SET micros = micros + excluded.micros, late_micros = late_micros + excluded.late_micros \
     WHERE micros + excluded.micros <= ?5";

fn commit(
    tx: &Transaction<'_>,
    cached: &FxHashMap<Arc<UsageKey>, i64>,
    checkpoint: &Checkpoint,
    now: Timestamp,
) -> Result<(CommitReport, Vec<KeyId>), LedgerError> {
    let mut report = CommitReport::default();
    let mut new_keys = Vec::new();
    let instance = checkpoint.instance.to_string();
    let number = i64::try_from(checkpoint.number).unwrap_or(i64::MAX);
    let last: Option<i64> = tx
        .query_row(
            "SELECT last_checkpoint FROM instances WHERE instance = ?1",
            [&instance],
            |row| row.get(0),
        )
        .optional()?;
    if last.is_some_and(|last| number <= last) {
        return Ok((report, new_keys));
    }
    let now = seconds(now);
    tx.execute(
        "INSERT INTO instances (instance, last_checkpoint, committed_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (instance) DO UPDATE SET last_checkpoint = excluded.last_checkpoint, \
         committed_at = excluded.committed_at",
        params![instance, number, now],
    )?;
    report.applied = true;
    let global = sealed_before(tx)?;
    let mut customers: FxHashMap<&Customer, Option<i64>> = FxHashMap::default();
    let mut upsert = tx.prepare_cached(ADD_OPEN_USAGE)?;
    for delta in &checkpoint.deltas {
        let key_id = key_id(tx, cached, &mut new_keys, &delta.key)?;
        let hour = seconds(delta.hour.hour_start());
        let amount = micros(delta.quantity);
        let customer = delta.key.customer();
        let own = if let Some(&own) = customers.get(customer) {
            own
        } else {
            let own = customer_sealed_before(tx, &customer_columns(customer))?;
            *customers.entry(customer).or_insert(own)
        };
        let (target, late) = match place_seconds(key_id, hour, global.max(own))? {
            Ok(placed) => placed,
            Err(reason) => {
                set_aside(tx, key_id, hour, amount, &reason, now)?;
                report.set_aside += 1;
                continue;
            }
        };
        report.late += usize::from(late);
        let late = if late { amount } else { 0 };
        let max = micros(Quantity::MAX);
        if upsert.execute(params![key_id, target, amount, late, max])? == 0 {
            set_aside(tx, key_id, hour, amount, &overflow_reason(), now)?;
            report.set_aside += 1;
        }
    }
    Ok((report, new_keys))
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
    status.oldest_unsent_hour = oldest.map(|h| timestamp("records", 0, h)).transpose()?;
    status.sealed_before = sealed_before(tx)?
        .map(|h| timestamp("ledger", 1, h))
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
        };
        Ok(row.into_set_aside())
    };
    tx.prepare_cached(sql::SET_ASIDE)?
        .query_map([], read)?
        .map(|row| row?)
        .collect()
}

fn hours(tx: &Transaction<'_>, since: Timestamp) -> Result<Vec<HourStatus>, LedgerError> {
    let rows: Vec<(i64, String, i64)> = tx
        .prepare_cached(&Dialect::Sqlite.sql(sql::HOURS))?
        .query_map([seconds(since)], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
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
    let hour = seconds(requeue_hour(
        now,
        sealed.map(|h| timestamp("ledger", 1, h)).transpose()?,
    ));
    let max = micros(Quantity::MAX);
    let added = tx
        .prepare_cached(ADD_OPEN_USAGE)?
        .execute(params![key_id, hour, amount, amount, max])?;
    if added == 0 {
        return Ok(SetAsideRequeue::TooLarge);
    }
    tx.execute("DELETE FROM set_aside WHERE id = ?1", [id.0])?;
    Ok(SetAsideRequeue::Requeued {
        hour: timestamp("open_usage", key_id, hour)?,
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
            let before = seal_watermark(
                until,
                sealed_before(tx)?
                    .map(|h| timestamp("ledger", 1, h))
                    .transpose()?,
            );
            let report = seal_rows(tx, seconds(before), None, seconds(now))?;
            tx.execute(&Dialect::Sqlite.sql(sql::SET_WATERMARK), [seconds(before)])?;
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
            let before = seconds(customer_seal(now));
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

    fn hours(&self, since: Timestamp) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(self.transact(move |tx, _| Ok((hours(tx, since)?, Vec::new()))))
    }

    fn requeue_set_aside(
        &self,
        id: SetAsideId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SetAsideRequeue, LedgerError>> {
        Box::pin(self.transact(move |tx, _| Ok((requeue_set_aside(tx, id, now)?, Vec::new()))))
    }
}
