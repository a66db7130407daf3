//! The `PostgreSQL` ledger against a real server (`METERING_TEST_POSTGRES_URL`): the `Ledger`
//! conformance suite, and what only a shared database shows (instances starting at once,
//! commits racing seals, a database that goes away). Each test works in its own schema, so
//! tests run in parallel; without the variable, every test passes and one line says they
//! were skipped.

use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use metering_core::ledger::conformance::{Harness, at, customer, delta, key};
use metering_core::ledger::{Checkpoint, InstanceId, Ledger, LedgerError, PostgresLedger};

const VARIABLE: &str = "METERING_TEST_POSTGRES_URL";

/// The server's URL, or `None` (said once) when the tests are to be skipped.
fn server() -> Option<String> {
    static SKIPPED: Once = Once::new();
    let url = std::env::var(VARIABLE).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        // Straight to the standard error, past the test harness's capture: one line.
        SKIPPED.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL ledger tests skipped: set {VARIABLE}=postgres://postgres@127.0.0.1:5432/test to run them"
            );
        });
    }
    url
}

/// A schema of its own on the test server, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new() -> Option<Self> {
        Some(Self {
            url: server()?,
            name: format!("ledger_test_{:016x}", fastrand::u64(..)),
        })
    }

    fn ledger(&self) -> PostgresLedger {
        PostgresLedger::builder(&self.url)
            .expect("a valid URL")
            .max_connections(4)
            .schema(&self.name)
            .expect("a plain schema name")
            .build()
            .expect("the pool")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let (done, finished) = std::sync::mpsc::channel();
        // Its own thread and runtime: the test's runtime is blocked here, and may still own
        // connections (with a rollback queued) that the drop waits for; after a while the
        // schema is left behind rather than the test hung.
        std::thread::spawn(move || {
            let _ = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let (client, connection) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!(
                            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                        ))
                        .await
                });
            let _ = done.send(());
        });
        let _ = finished.recv_timeout(Duration::from_secs(6));
    }
}

impl Harness for Schema {
    type Ledger = PostgresLedger;

    fn open(&self) -> PostgresLedger {
        self.ledger()
    }
}

metering_core::ledger_conformance_tests!(match Schema::new() {
    Some(schema) => schema,
    None => return,
});

/// Instances starting at once migrate once, and all work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_migrate_once() {
    let Some(schema) = Schema::new() else { return };
    let mut starting = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let ledger = schema.ledger();
        starting.spawn(async move { ledger.status().await });
    }
    for started in starting.join_all().await {
        started.expect("every instance starts");
    }
    let client = connect(&schema.url).await;
    let versions: Vec<i32> = client
        .query(
            &format!("SELECT version FROM {}.schema_migrations", schema.name),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1]);
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Commits racing seals on several connections never lose a delta nor count one twice:
/// whatever each commit meets (its hour open, or sealed and moved on), the sealed and open
/// totals add up to what was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_racing_seals_lose_nothing() {
    let Some(schema) = Schema::new() else { return };
    let buyer = customer("111111111111");
    let hot = key(&buyer, "calls", &[]);
    let writers: u32 = 4;
    let commits = 40;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let ledger = schema.ledger();
        let hot = Arc::clone(&hot);
        tasks.push(tokio::spawn(async move {
            let instance = InstanceId::random();
            for number in 1..=commits {
                // Every commit is for 10:xx, sealed partway through; later ones move to the
                // oldest open hour.
                let checkpoint = Checkpoint {
                    instance,
                    number,
                    deltas: vec![delta(&hot, "2026-11-26T10:30:00Z", "1")],
                };
                let now = at("2026-11-26T11:30:00Z");
                ledger.commit(&checkpoint, now).await.unwrap();
            }
        }));
    }
    let sealer = schema.ledger();
    let sealing = tokio::spawn(async move {
        for hour in 11..=14 {
            tokio::time::sleep(Duration::from_millis(15)).await;
            let until = at(&format!("2026-11-26T{hour}:00:00Z"));
            sealer.seal(until, until).await.unwrap();
        }
    });
    for task in tasks {
        task.await.unwrap();
    }
    sealing.await.unwrap();
    let ledger = schema.ledger();
    ledger
        .seal(at("2026-11-26T23:00:00Z"), at("2026-11-26T23:00:00Z"))
        .await
        .unwrap();
    let total: u64 = ledger
        .records(None)
        .await
        .unwrap()
        .iter()
        .map(|stored| stored.record.quantity().micros())
        .sum();
    assert_eq!(total, u64::from(writers) * commits * 1_000_000);
    assert!(ledger.set_aside().await.unwrap().is_empty());
}

/// A database that goes away fails the operation (nothing applied, retryable) and the pool
/// reconnects once it is back; a retried checkpoint applies once.
#[tokio::test]
async fn a_terminated_backend_fails_loudly_and_the_retry_applies_once() {
    let Some(schema) = Schema::new() else { return };
    let ledger = schema.ledger();
    let hot = key(&customer("111111111111"), "calls", &[]);
    let now = at("2026-11-26T10:30:00Z");
    let checkpoint = Checkpoint {
        instance: InstanceId::random(),
        number: 1,
        deltas: vec![delta(&hot, "2026-11-26T10:10:00Z", "2")],
    };
    assert!(ledger.commit(&checkpoint, now).await.unwrap().applied);
    let admin = connect(&schema.url).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid != pg_backend_pid() AND query NOT LIKE '%pg_terminate_backend%' \
             AND backend_type = 'client backend' AND application_name = '' \
             AND datname = current_database() AND state = 'idle' \
             AND pid IN (SELECT pid FROM pg_stat_activity)",
            &[],
        )
        .await
        .unwrap();
    let mut retried = checkpoint.clone();
    retried.number = 2;
    // The pooled connection died: this may fail, and then the retry goes through.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match ledger.commit(&retried, now).await {
            Ok(report) => {
                assert!(report.applied || attempts > 1);
                break;
            }
            Err(LedgerError::Storage(_)) if attempts < 3 => {}
            Err(error) => panic!("{error}"),
        }
    }
    assert!(!ledger.commit(&retried, now).await.unwrap().applied);
    ledger.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    let records = ledger.records(None).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.quantity().micros(), 4_000_000);
}

/// A closed port is a storage error that says what failed, not a hang.
#[tokio::test]
async fn a_closed_port_is_a_storage_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let ledger = PostgresLedger::builder(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .unwrap()
        .wait_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = ledger.status().await.unwrap_err();
    assert!(matches!(error, LedgerError::Storage(_)), "{error}");
}

/// Bad settings are refused with what is wrong.
#[test]
fn bad_settings_are_refused_clearly() {
    let error = PostgresLedger::builder("postgres://h/db?sslmode=sometimes").unwrap_err();
    assert!(error.to_string().contains("sslmode"), "{error}");
    assert!(matches!(error, LedgerError::Config(_)), "{error}");
    let error = PostgresLedger::builder("postgres://h/db")
        .unwrap()
        .schema("Bad-Name")
        .unwrap_err();
    assert!(
        error.to_string().contains("\"Bad-Name\"") && error.to_string().contains("[a-z_]"),
        "{error}"
    );
    let require = PostgresLedger::builder("postgres://h/db?sslmode=require");
    assert_eq!(require.is_ok(), cfg!(feature = "postgres-tls"));
}
