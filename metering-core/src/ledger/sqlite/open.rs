//! Opening a ledger file: a new one made whole beside its path and linked into place, an
//! empty file refused, the file checked (`PRAGMA quick_check`) and its schema migrated; a
//! damaged file reported as [`LedgerError::Damaged`], naming it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use rustc_hash::FxHashMap;

use super::{Inner, SqliteLedger};
use crate::ledger::LedgerError;
use crate::ledger::sql::Dialect;

/// How long a handle waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `error` says the file is damaged: no retry mends that.
fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// `error`, as [`LedgerError::Damaged`] naming `path` when the storage says the file is
/// damaged.
pub(super) fn named(error: impl Into<LedgerError>, path: &Path) -> LedgerError {
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
}

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
