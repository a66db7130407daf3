//! The SQL the `SQLite` and `PostgreSQL` ledgers share, written once: the schema, and every
//! statement their dialects do not force apart. Statements are written with `PostgreSQL`'s
//! numbered placeholders (`$1`); [`Dialect::Sqlite`] reads them as `?1`. What stays in each
//! backend is what its dialect forces: locks (`FOR UPDATE SKIP LOCKED`), batched `unnest`
//! statements, `MAX` against `GREATEST`.

/// The SQL dialect a statement is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

impl Dialect {
    /// `sql` in this dialect: its placeholders `$n` are `?n` in `SQLite`.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sql(self, sql: &str) -> std::borrow::Cow<'_, str> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => std::borrow::Cow::Owned(sql.replace('$', "?")),
            #[cfg(feature = "postgres")]
            Self::Postgres => std::borrow::Cow::Borrowed(sql),
        }
    }

    /// `sql` with `{greatest}` as this dialect writes the larger of two values.
    pub(crate) fn greatest(self, sql: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => sql.replace("{greatest}", "MAX").replace('$', "?"),
            #[cfg(feature = "postgres")]
            Self::Postgres => sql.replace("{greatest}", "GREATEST"),
        }
    }

    /// The schema's migrations in this dialect, in order.
    pub(crate) fn migrations(self) -> Vec<String> {
        let (id, int64) = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
            #[cfg(feature = "postgres")]
            Self::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BIGINT"),
        };
        MIGRATIONS
            .iter()
            .map(|migration| migration.replace("{id}", id).replace("{int64}", int64))
            .collect()
    }
}

/// Adds usage to a key's hour: key id, hour, micros, late micros, the largest total.
/// Changes no row when the total would exceed it.
pub(crate) const ADD_OPEN: &str = "INSERT INTO open_usage (key_id, hour, micros, late_micros) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (key_id, hour) DO UPDATE \
     SET micros = open_usage.micros + excluded.micros, \
     late_micros = open_usage.late_micros + excluded.late_micros \
     WHERE open_usage.micros + excluded.micros <= $5";

/// Raises a max key's hour `$2` to `$3` (see [`Dialect::greatest`]).
pub(crate) const RAISE_MAX: &str = "INSERT INTO open_usage (key_id, hour, micros, late_micros) \
     VALUES ($1, $2, $3, 0) ON CONFLICT (key_id, hour) DO UPDATE \
     SET micros = {greatest}(open_usage.micros, excluded.micros)";

/// Stores a level change of key `$1` at `$2` (microseconds) to `$3`; at one instant the
/// larger level wins (see [`Dialect::greatest`]).
pub(crate) const SET_LEVEL: &str = "INSERT INTO level_changes (key_id, at, level) \
     VALUES ($1, $2, $3) ON CONFLICT (key_id, at) DO UPDATE \
     SET level = {greatest}(level_changes.level, excluded.level)";

/// Counts the identifiers of hours before `$1` into their keys' open usage (then
/// [`DELETE_OF_CUSTOMER`], then [`COUNT_GROUPS`]).
pub(crate) const COUNT_IDENTIFIERS: &str = "INSERT INTO open_usage (key_id, hour, micros, \
     late_micros) SELECT key_id, hour, COUNT(*) * 1000000, 0 FROM open_identifiers \
     WHERE hour < $1";
/// Ends [`COUNT_IDENTIFIERS`].
pub(crate) const COUNT_GROUPS: &str = " GROUP BY key_id, hour ON CONFLICT (key_id, hour) \
     DO UPDATE SET micros = open_usage.micros + excluded.micros";
/// Deletes the identifiers of hours before `$1` (then [`DELETE_OF_CUSTOMER`]).
pub(crate) const DELETE_IDENTIFIERS_BEFORE: &str = "DELETE FROM open_identifiers WHERE hour < $1";

/// Level keys not integrated up to hour `$1` (then [`KEY_OF_CUSTOMER`]).
pub(crate) const LEVEL_KEYS: &str = "SELECT id, level_until FROM usage_keys \
     WHERE kind = 'level' AND (level_until IS NULL OR level_until < $1)";
/// Narrows [`LEVEL_KEYS`] to the customer `$2`..`$5`.
pub(crate) const KEY_OF_CUSTOMER: &str = " AND product = $2 AND customer_identifier = $3 \
     AND account = $4 AND license = $5";
/// Key `$1`'s level changes before `$2` (microseconds), in time order.
pub(crate) const LEVEL_CHANGES: &str =
    "SELECT at, level FROM level_changes WHERE key_id = $1 AND at < $2 ORDER BY at";
/// Forgets key `$1`'s level changes before `$2` (the last change before the sealed hours
/// stays: the level carried on).
pub(crate) const FORGET_LEVELS: &str = "DELETE FROM level_changes WHERE key_id = $1 AND at < $2";
/// Key `$1` is integrated from hour `$2` on at the earliest (its hours before are sealed:
/// a late change).
pub(crate) const INTEGRATE_FROM: &str = "UPDATE usage_keys SET level_until = $2 \
     WHERE id = $1 AND (level_until IS NULL OR level_until < $2)";
/// Key `$1`'s hours before `$2` are integrated.
pub(crate) const LEVEL_UNTIL: &str = "UPDATE usage_keys SET level_until = $2 WHERE id = $1";

/// The migrations, in order, as written (see [`Dialect::migrations`]).
pub(crate) const MIGRATIONS: &[&str] =
    &[include_str!("schema_v1.sql"), include_str!("schema_v2.sql")];

/// The columns a stored record is read from, in order; the last is the kind of the keys it
/// was sealed from ('sum' for a record of no key: a v1 ledger's keys are sums).
macro_rules! record_columns {
    () => {
        "id, product, customer_identifier, account, license, dimension, hour, quantity, \
         allocations, late, state, attempt, metering_record_id, detail, \
         COALESCE((SELECT k.kind FROM usage_keys k WHERE k.product = records.product \
         AND k.customer_identifier = records.customer_identifier \
         AND k.account = records.account AND k.license = records.license \
         AND k.dimension = records.dimension LIMIT 1), 'sum')"
    };
}
pub(crate) use record_columns;

/// Records a flusher may claim at `$1`: unsent past their backoff, or leased past expiry.
macro_rules! claimable {
    () => {
        "((state = 'unsent' AND next_attempt_at <= $1) OR (state = 'leased' AND lease_expires <= $1))"
    };
}

/// Records a flusher may claim at `$1` (see `claimable!`).
pub(crate) const CLAIMABLE: &str = claimable!();

/// The request scope of the oldest record a flusher may claim at `$1`.
macro_rules! first_claimable {
    () => {
        concat!(
            "SELECT product FROM records WHERE ",
            claimable!(),
            " ORDER BY hour, id LIMIT 1"
        )
    };
}

/// The request scope of the oldest record a flusher may claim at `$1` (see
/// `first_claimable!`).
#[cfg(feature = "sqlite")]
pub(crate) const FIRST_CLAIMABLE: &str = first_claimable!();

/// The request scope of the oldest record a flusher may claim at `$1`, locked, skipping
/// records another flusher is claiming right now.
#[cfg(feature = "postgres")]
pub(crate) const FIRST_CLAIMABLE_LOCKED: &str =
    concat!(first_claimable!(), " FOR UPDATE SKIP LOCKED");

/// Records not settled yet.
macro_rules! unsettled {
    () => {
        "state IN ('unsent', 'leased', 'quarantined')"
    };
}

/// The records in state `$1` (every record when it is null), oldest hour first.
pub(crate) const RECORDS: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE CAST($1 AS TEXT) IS NULL OR state = $1 ORDER BY hour, id"
);

/// The record `$1`.
pub(crate) const RECORD: &str =
    concat!("SELECT ", record_columns!(), " FROM records WHERE id = $1");

/// Sends quarantined record `$2` again from `$1` on.
pub(crate) const REQUEUE: &str = "UPDATE records SET state = 'unsent', next_attempt_at = $1 \
     WHERE id = $2 AND state = 'quarantined'";

/// Records per hour and state, from hour `$1` on and for every hour with one not settled.
pub(crate) const HOURS: &str = concat!(
    "SELECT hour, state, COUNT(*) FROM records WHERE hour >= $1 OR hour IN \
     (SELECT hour FROM records WHERE ",
    unsettled!(),
    ") GROUP BY hour, state ORDER BY hour"
);

/// Records not settled per hour and state, oldest hour first.
pub(crate) const UNSETTLED_HOURS: &str = concat!(
    "SELECT hour, state, COUNT(*) FROM records WHERE ",
    unsettled!(),
    " GROUP BY hour, state ORDER BY hour"
);

/// Records per state.
pub(crate) const COUNT_BY_STATE: &str = "SELECT state, COUNT(*) FROM records GROUP BY state";

/// The oldest hour with a record not settled.
pub(crate) const OLDEST_UNSETTLED: &str =
    concat!("SELECT MIN(hour) FROM records WHERE ", unsettled!());

/// Everything set aside, with its key, oldest first.
pub(crate) const SET_ASIDE: &str = "SELECT s.id, k.product, k.customer_identifier, k.account, \
     k.license, k.dimension, k.tags, s.hour, s.micros, s.reason, s.at, k.kind \
     FROM set_aside s JOIN usage_keys k ON k.id = s.key_id ORDER BY s.id";

/// Each level key's last change when not 0, with its key (see `LevelRow`).
pub(crate) const LEVELS_HELD: &str = "SELECT k.id, k.product, k.customer_identifier, \
     k.account, k.license, k.dimension, k.tags, l.at, l.level \
     FROM level_changes l JOIN usage_keys k ON k.id = l.key_id WHERE l.level > 0 \
     AND l.at = (SELECT MAX(m.at) FROM level_changes m WHERE m.key_id = l.key_id) \
     ORDER BY k.id";

/// Applies checkpoint `$2` of instance `$1` at `$3` (seconds): a row is returned only when
/// the number is above the instance's last one. In `PostgreSQL` the row lock it takes makes
/// a retry racing its first try wait, then find the number applied.
pub(crate) const COMMIT_INSTANCE: &str = "INSERT INTO instances (instance, last_checkpoint, \
     committed_at) VALUES ($1, $2, $3) ON CONFLICT (instance) DO UPDATE \
     SET last_checkpoint = excluded.last_checkpoint, committed_at = excluded.committed_at \
     WHERE instances.last_checkpoint < excluded.last_checkpoint RETURNING 1";

/// The seal watermark: every hour before it is sealed (null before the first seal).
macro_rules! watermark {
    () => {
        "SELECT sealed_before FROM ledger WHERE id = 1"
    };
}

/// The seal watermark (see `watermark!`).
pub(crate) const WATERMARK: &str = watermark!();

/// [`WATERMARK`] as a commit reads it: share-locked, so commits run side by side and a seal
/// waits for them.
#[cfg(feature = "postgres")]
pub(crate) const WATERMARK_FOR_SHARE: &str = concat!(watermark!(), " FOR SHARE");

/// [`WATERMARK`] as a seal reads it: locked for update, so it waits for the commits in flight
/// and they, then another seal, for it.
#[cfg(feature = "postgres")]
pub(crate) const WATERMARK_FOR_UPDATE: &str = concat!(watermark!(), " FOR UPDATE");

/// Moves the seal watermark to `$1`.
pub(crate) const SET_WATERMARK: &str = "UPDATE ledger SET sealed_before = $1 WHERE id = 1";

/// The open usage of hours before `$1`, with its key (then [`OPEN_OF_CUSTOMER`], then
/// [`OPEN_ORDER`]): one group per customer, dimension and hour, in order.
pub(crate) const OPEN_BEFORE: &str = "SELECT k.id, k.product, k.customer_identifier, \
     k.account, k.license, k.dimension, k.tags, o.hour, o.micros, o.late_micros \
     FROM open_usage o JOIN usage_keys k ON k.id = o.key_id WHERE o.hour < $1";
/// Narrows [`OPEN_BEFORE`] to the customer `$2`..`$5`.
pub(crate) const OPEN_OF_CUSTOMER: &str = " AND k.product = $2 AND k.customer_identifier = $3 \
     AND k.account = $4 AND k.license = $5";
/// Orders [`OPEN_BEFORE`].
pub(crate) const OPEN_ORDER: &str = " ORDER BY k.product, k.customer_identifier, k.account, \
     k.license, k.dimension, o.hour, k.tags";
/// Deletes the open usage of hours before `$1` (then [`DELETE_OF_CUSTOMER`]).
pub(crate) const DELETE_OPEN_BEFORE: &str = "DELETE FROM open_usage WHERE hour < $1";
/// Narrows [`DELETE_OPEN_BEFORE`] to the customer `$2`..`$5`.
pub(crate) const DELETE_OF_CUSTOMER: &str = " AND key_id IN (SELECT id FROM usage_keys \
     WHERE product = $2 AND customer_identifier = $3 AND account = $4 AND license = $5)";

/// Pairs of records that bill one account twice in an hour (one under a product, the other
/// under a licence); the backend adds which of them are new.
pub(crate) const BILLED_TWICE: &str = "SELECT a.id, b.id, a.account, a.product, b.license, \
     a.hour FROM records a JOIN records b ON b.account = a.account AND b.hour = a.hour \
     WHERE a.account != '' AND a.license = '' AND b.license != ''";

/// Quarantines records `$2` and `$3` with reason `$1`, where not sent yet.
pub(crate) const QUARANTINE_PAIR: &str = "UPDATE records SET state = 'quarantined', \
     detail = $1 WHERE id IN ($2, $3) AND state = 'unsent'";

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_reads_numbered_placeholders_and_its_own_types() {
        assert_eq!(
            Dialect::Sqlite.sql(REQUEUE),
            REQUEUE.replace("$1", "?1").replace("$2", "?2")
        );
        let schema = &Dialect::Sqlite.migrations()[0];
        assert!(
            schema.contains("id                  INTEGER PRIMARY KEY,"),
            "{schema}"
        );
        assert!(
            !schema.contains("{id}") && !schema.contains("{int64}"),
            "{schema}"
        );
        let mut statements = schema.lines().filter(|line| !line.starts_with("--"));
        assert!(statements.all(|line| !line.contains("BIGINT")), "{schema}");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_keeps_the_statements_and_takes_its_own_types() {
        assert_eq!(Dialect::Postgres.sql(REQUEUE), REQUEUE);
        let schema = &Dialect::Postgres.migrations()[0];
        assert!(schema.contains("id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"));
        assert!(
            !schema.contains("{id}") && !schema.contains("{int64}"),
            "{schema}"
        );
    }
}
