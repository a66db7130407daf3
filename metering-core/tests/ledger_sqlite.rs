//! The `SQLite` ledger passes the `Ledger` conformance suite: each case on a new file, with
//! every handle a separate connection, as separate processes would hold.

use metering_core::ledger::SqliteLedger;
use metering_core::ledger::conformance::Harness;

/// A fresh ledger file in a temporary directory, removed at the end.
struct SqliteFile {
    dir: tempfile::TempDir,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

impl Harness for SqliteFile {
    type Ledger = SqliteLedger;

    fn open(&self) -> SqliteLedger {
        SqliteLedger::open(self.dir.path().join("ledger.sqlite")).expect("the ledger opens")
    }
}

metering_core::ledger_conformance_tests!(SqliteFile::new());

/// A tool's `open_existing` opens a ledger, and refuses a missing file (leaving none behind)
/// or a database no Meter made, naming the path.
#[test]
fn open_existing_opens_only_a_ledger() {
    let file = SqliteFile::new();
    let missing = file.dir.path().join("missing.sqlite");
    let error = SqliteLedger::open_existing(&missing)
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing.sqlite"), "{error}");
    assert!(!missing.exists(), "no file was created");

    let empty = file.dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let error = SqliteLedger::open_existing(&empty).unwrap_err().to_string();
    assert!(error.contains("not a ledger"), "{error}");

    drop(file.open());
    SqliteLedger::open_existing(file.dir.path().join("ledger.sqlite")).expect("a ledger opens");
}

/// A ledger shows its file in a `Debug` (a seller's log of what the Meter was opened on).
#[test]
fn a_ledger_debugs_as_its_file() {
    let shown = format!("{:?}", SqliteFile::new().open());
    assert!(
        shown.starts_with("SqliteLedger { path: ") && shown.contains("ledger.sqlite"),
        "{shown}"
    );
}

/// A shared ledger, of any store, shows as one in the `Debug` of what holds it (a Flusher,
/// a seller's state), however it was shared.
#[test]
fn a_shared_ledger_debugs_as_a_ledger() {
    use metering_core::ledger::IntoSharedLedger;

    let file = SqliteFile::new();
    let owned = file.open().into_shared();
    let from_arc = std::sync::Arc::new(file.open()).into_shared();
    assert_eq!(format!("{owned:?}"), "dyn Ledger");
    assert_eq!(format!("{:?}", from_arc.into_shared()), "dyn Ledger");
}

/// The child processes of [`processes_opening_one_new_file_at_once_all_open_it`]: the path
/// to open, and the instant (Unix milliseconds) to open it at.
const RACE_PATH: &str = "METERING_TEST_OPEN_RACE_PATH";
const RACE_AT: &str = "METERING_TEST_OPEN_RACE_AT";
/// Rounds of the race, each on a new file, and the processes racing in each.
const ROUNDS: usize = 4;
const PROCESSES: usize = 6;

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Processes opening one new file at the same moment take turns: none fails (switching a
/// new file to WAL mode does not wait for the busy timeout, so a ledger is made apart and
/// linked into place), and each one's commit is in the one ledger they share.
#[test]
fn processes_opening_one_new_file_at_once_all_open_it() {
    use metering_core::ledger::conformance::{at, checkpoint, customer, delta, key};
    use metering_core::ledger::{InstanceId, Ledger, LedgerInspection};

    if let Ok(path) = std::env::var(RACE_PATH) {
        // A child: wait for the common instant, open, commit one checkpoint.
        let start: u128 = std::env::var(RACE_AT).unwrap().parse().unwrap();
        let wait = start.saturating_sub(unix_millis());
        std::thread::sleep(std::time::Duration::from_millis(wait.try_into().unwrap()));
        let ledger = SqliteLedger::open(&path).expect("the ledger opens");
        let key = key(&customer("111111111111"), "calls", &[]);
        let deltas = vec![delta(&key, "2026-11-26T10:05:00Z", "1")];
        let now = at("2026-11-26T10:30:00Z");
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(ledger.commit(&checkpoint(InstanceId::random(), 1, deltas), now))
            .expect("the commit succeeds");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..ROUNDS {
        let path = dir.path().join(format!("new-{round}.sqlite"));
        let start = unix_millis() + 500;
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "processes_opening_one_new_file_at_once_all_open_it",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(RACE_PATH, &path)
                    .env(RACE_AT, start.to_string())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: a process failed to open the new ledger:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        let ledger = SqliteLedger::open(&path).unwrap();
        let records = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let now = at("2026-11-26T12:00:00Z");
                ledger.seal(now, now).await.unwrap();
                ledger.records(None).await.unwrap()
            });
        let total: Vec<_> = records.iter().map(|r| r.record.quantity()).collect();
        let expected = metering_core::Quantity::from(u16::try_from(PROCESSES).unwrap());
        assert_eq!(total, [expected], "one record holds every process's commit");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(files.is_empty(), "left behind: {files:?}");
    }
}

/// The child process of [`a_ledger_named_by_a_bare_file_name_is_made_in_the_working_directory`]:
/// the name to open.
const BARE_NAME: &str = "METERING_TEST_BARE_NAME";

/// A ledger named by a bare file name (`usage.sqlite`, no directory: its parent is the
/// empty path) is made in the working directory, as `Meter::open("usage.sqlite")` expects.
/// A child process opens it, so that this process's working directory stays as it is.
#[test]
fn a_ledger_named_by_a_bare_file_name_is_made_in_the_working_directory() {
    if let Ok(name) = std::env::var(BARE_NAME) {
        drop(SqliteLedger::open(&name).expect("a new ledger is made"));
        SqliteLedger::open(&name).expect("and opens again");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_ledger_named_by_a_bare_file_name_is_made_in_the_working_directory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BARE_NAME, "usage.sqlite")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the child failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    SqliteLedger::open_existing(dir.path().join("usage.sqlite")).expect("the ledger is there");
}

/// An empty file is not taken for a new ledger, by the ledger or the Meter: its history
/// would be gone without a word. Creating a ledger there is done only when asked for.
#[test]
fn an_empty_file_is_refused_unless_a_new_ledger_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("emptied.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let error = SqliteLedger::open(&empty).unwrap_err();
    assert!(
        matches!(error, metering_core::ledger::LedgerError::Config(_)),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("emptied.sqlite") && text.contains("empty (0 bytes)"),
        "{text}"
    );
    let error = metering_core::Meter::open(&empty).unwrap_err().to_string();
    assert!(error.contains("empty (0 bytes)"), "{error}");
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "left as it was"
    );

    SqliteLedger::create(&empty).expect("a new ledger is made when asked for");
    SqliteLedger::open(&empty).expect("and opens");
    let error = SqliteLedger::create(&empty).unwrap_err().to_string();
    assert!(error.contains("a file is there already"), "{error}");
}

/// A damaged page is found at open, and reported as such with the file's name, as an error
/// no retry mends (not as storage that failed for a moment).
#[test]
fn a_damaged_page_is_reported_at_open() {
    use metering_core::ledger::conformance::{at, checkpoint, customer, delta, key};
    use metering_core::ledger::{InstanceId, Ledger, LedgerError};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.sqlite");
    {
        let ledger = SqliteLedger::open(&path).unwrap();
        let deltas = (0..400)
            .map(|n| {
                let key = key(&customer(&format!("{n:012}")), "calls", &[]);
                delta(&key, "2026-11-26T10:05:00Z", "1")
            })
            .collect();
        let checkpoint = checkpoint(InstanceId::random(), 1, deltas);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(ledger.commit(&checkpoint, at("2026-11-26T10:30:00Z")))
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(
        bytes.len() >= 6 * page,
        "{} bytes: too few pages",
        bytes.len()
    );
    // A page in the middle of the file, past the schema's first page: its header and the
    // start of its cells overwritten.
    let middle = bytes.len() / page / 2 * page;
    bytes[middle..middle + 512].fill(0x5a);
    std::fs::write(&path, &bytes).unwrap();

    let error = SqliteLedger::open(&path).unwrap_err();
    let LedgerError::Damaged { store, .. } = &error else {
        panic!("not reported as damaged: {error:?}");
    };
    assert!(store.ends_with("damaged.sqlite"), "{store}");
    assert!(error.to_string().contains("no retry mends this"), "{error}");
}

/// A ledger file made before the schema was written once for both backends (its schema
/// applied from the `SQLite` text of version 1, 2.5 calls open at 10:00) opens, keeps its
/// history and seals it as before.
#[test]
fn a_ledger_file_of_the_first_schema_opens_and_keeps_its_history() {
    use metering_core::ledger::conformance::{at, quantity};
    use metering_core::ledger::{Ledger, LedgerInspection};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ledger-v1.sqlite"
        ),
        &path,
    )
    .unwrap();
    let ledger = SqliteLedger::open(&path).expect("the existing ledger opens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = at("2026-11-26T12:00:00Z");
        assert_eq!(ledger.status().await.unwrap().open_keys, 1);
        assert_eq!(ledger.seal(now, now).await.unwrap().sealed, 1);
        let records = ledger.records(None).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].record.quantity(), quantity("2.5"));
        assert_eq!(records[0].record.timestamp(), at("2026-11-26T10:00:00Z"));
    });
}

/// A file that is not a database at all is reported as damaged, naming it; a path that is
/// no file (a directory) or cannot be looked at (under a file) is a storage or
/// configuration error, not damage.
#[test]
fn only_a_damaged_file_is_called_damaged() {
    use metering_core::ledger::LedgerError;

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a_u8; 8192]).unwrap();
    let error = SqliteLedger::open(&garbage).unwrap_err();
    let LedgerError::Damaged { store, .. } = &error else {
        panic!("not reported as damaged: {error:?}");
    };
    assert!(store.ends_with("garbage.sqlite"), "{store}");

    let error = SqliteLedger::open(dir.path()).unwrap_err();
    assert!(matches!(error, LedgerError::Storage(_)), "{error:?}");

    let under_a_file = garbage.join("ledger.sqlite");
    let error = SqliteLedger::open(&under_a_file).unwrap_err();
    assert!(
        error.to_string().contains("cannot read the ledger file"),
        "{error}"
    );
}

/// A new ledger that cannot be put in place (here its path ends in `/`: the ledger made
/// beside it cannot be linked there) is refused as a configuration error naming the path,
/// not as storage failing for a moment, and leaves nothing behind.
#[test]
fn a_new_ledger_that_cannot_be_put_in_place_is_a_configuration_error() {
    use metering_core::ledger::LedgerError;

    let dir = tempfile::tempdir().unwrap();
    let path = format!("{}/ledger.sqlite/", dir.path().display());
    let error = SqliteLedger::open(&path).unwrap_err();
    let LedgerError::Config(message) = &error else {
        panic!("not a configuration error: {error:?}");
    };
    assert!(
        message.contains("ledger.sqlite/: cannot make a new ledger"),
        "{message}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A level's hour past the largest quantity: a late change of the largest level, set aside
/// and requeued into the hour it then holds through, leaves that hour's integral nowhere to
/// go. The seal sets the integral aside with the reason and counts it; the requeued level
/// stays the hour's record.
#[test]
fn a_levels_hour_past_the_largest_quantity_is_set_aside_at_seal() {
    use metering_core::Quantity;
    use metering_core::ledger::conformance::{at, checkpoint, customer, hour, key, usage_delta};
    use metering_core::ledger::{
        InstanceId, Ledger, LedgerInspection, LevelChange, SetAsideRequeue, Usage,
    };

    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite")).unwrap();
    let stored = key(&customer("111111111111"), "gb_stored", &[]);
    let largest_at = |instant: &str| {
        let change = LevelChange {
            at: at(instant),
            level: Quantity::MAX,
        };
        checkpoint(
            InstanceId::random(),
            1,
            vec![usage_delta(&stored, instant, Usage::Level(vec![change]))],
        )
    };
    let eleven = hour("2026-11-26T11:00:00Z");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let now = at("2026-11-26T10:30:00Z");
            ledger
                .commit(&largest_at("2026-11-26T10:00:00Z"), now)
                .await
                .unwrap();
            ledger.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
            let now = at("2026-11-26T11:30:00Z");
            let late = ledger
                .commit(&largest_at("2026-11-26T10:30:00Z"), now)
                .await
                .unwrap();
            assert_eq!(late.set_aside, 1, "a change of the sealed 10:00");
            let entry = ledger.set_aside().await.unwrap()[0].id;
            assert_eq!(
                ledger.requeue_set_aside(entry, now).await.unwrap(),
                SetAsideRequeue::Requeued { hour: eleven }
            );

            let report = ledger.seal(at("2026-11-26T12:00:00Z"), now).await.unwrap();
            assert_eq!((report.sealed, report.set_aside), (1, 1));
            let aside = ledger.set_aside().await.unwrap();
            assert_eq!(
                aside
                    .iter()
                    .map(|entry| (entry.hour, entry.quantity))
                    .collect::<Vec<_>>(),
                [(eleven, Quantity::MAX)]
            );
            assert!(
                aside[0].reason.contains("exceed the largest quantity"),
                "{}",
                aside[0].reason
            );
        });
}
