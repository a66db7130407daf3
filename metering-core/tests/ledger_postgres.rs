//! The `PostgreSQL` ledger against a real server (`METERING_TEST_POSTGRES_URL`): the `Ledger`
//! conformance suite, and what only a shared database shows (instances starting at once,
//! commits racing seals, a database that goes away). Each test works in its own schema, so
//! tests run in parallel; without the variable, every test passes and one line says they
//! were skipped.

use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use metering_core::Hour;
use metering_core::ledger::conformance::{Harness, at, customer, delta, key};
use metering_core::ledger::{
    Checkpoint, InstanceId, Ledger, LedgerError, LedgerInspection, PostgresLedger, SealReport,
};

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
        self.ledger_at(&self.url)
    }

    /// A ledger whose connections carry the schema's name (`application_name`), for a test
    /// that terminates them and no other test's.
    fn named_ledger(&self) -> PostgresLedger {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        self.ledger_at(&format!(
            "{}{separator}application_name={}",
            self.url, self.name
        ))
    }

    fn ledger_at(&self, url: &str) -> PostgresLedger {
        PostgresLedger::builder(url)
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
    assert_eq!(versions, [1, 2], "each migration once");
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
            // Within the hour: the watermark stays, read without a lock.
            let within = at(&format!("2026-11-26T{hour}:59:59Z"));
            sealer.seal(within, within).await.unwrap();
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

/// Instances committing maxima, identifiers and levels of the same keys in other orders
/// (each meter lists its keys in its own order) lock the rows in one order: no commit
/// fails as a deadlock, and the maxima are billed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_of_every_kind_in_other_orders_never_deadlock() {
    use metering_core::Quantity;
    use metering_core::kind::Identifier;
    use metering_core::ledger::conformance::{levels, usage_delta};
    use metering_core::ledger::{Delta, Usage};

    let Some(schema) = Schema::new() else { return };
    let keys: Vec<_> = (0..24)
        .map(|n| {
            let buyer = customer(&format!("1111111111{n:02}"));
            [
                key(&buyer, "hosts", &[]),
                key(&buyer, "users", &[]),
                key(&buyer, "gb", &[]),
            ]
        })
        .collect();
    let (writers, commits) = (4_u64, 15_u64);
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let ledger = schema.ledger();
        let mut keys = keys.clone();
        if writer % 2 == 1 {
            keys.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let instance = InstanceId::random();
            for number in 1..=commits {
                let level = format!("2026-11-26T10:{:02}:{writer:02}Z", number + 10);
                let deltas: Vec<Delta> = keys
                    .iter()
                    .flat_map(|[hosts, users, gb]| {
                        let max = Usage::Max(Quantity::new(number).unwrap());
                        let ids = Usage::Distinct(vec![Identifier::from(number)]);
                        [
                            usage_delta(hosts, "2026-11-26T10:30:00Z", max),
                            usage_delta(users, "2026-11-26T10:30:00Z", ids),
                            usage_delta(gb, &level, levels(&[(&level, "1")])),
                        ]
                    })
                    .collect();
                let checkpoint = Checkpoint {
                    instance,
                    number,
                    deltas,
                };
                let now = at("2026-11-26T10:50:00Z");
                ledger.commit(&checkpoint, now).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ledger = schema.ledger();
    let end = at("2026-11-26T11:00:00Z");
    ledger.seal(end, end).await.unwrap();
    let records = ledger.records(None).await.unwrap();
    let hosts: Vec<String> = records
        .iter()
        .filter(|stored| stored.record.dimension().as_str() == "hosts")
        .map(|stored| stored.record.quantity().to_string())
        .collect();
    assert_eq!(hosts, vec![commits.to_string(); keys.len()]);
}

/// A seal that leaves the watermark where it is (a flush within the hour) takes no lock: it
/// ends while a commit holds the watermark share-locked, which a seal that moves it waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_with_nothing_to_seal_does_not_wait_for_commits() {
    let Some(schema) = Schema::new() else { return };
    let ledger = schema.ledger();
    let (eleven, noon) = (at("2026-11-26T11:00:00Z"), at("2026-11-26T12:00:00Z"));
    ledger.seal(eleven, eleven).await.unwrap();
    let hot = key(&customer("111111111111"), "calls", &[]);
    let checkpoint = Checkpoint {
        instance: InstanceId::random(),
        number: 1,
        deltas: vec![delta(&hot, "2026-11-26T11:10:00Z", "2")],
    };
    ledger.commit(&checkpoint, eleven).await.unwrap();
    // A commit in flight, as a commit holds the watermark.
    let committing = connect(&schema.url).await;
    committing
        .batch_execute(&format!(
            "BEGIN; SELECT sealed_before FROM {}.ledger WHERE id = 1 FOR SHARE",
            schema.name
        ))
        .await
        .unwrap();
    let within = at("2026-11-26T11:59:59Z");
    let idle = tokio::time::timeout(Duration::from_secs(5), ledger.seal(within, within))
        .await
        .expect("a seal within the hour does not wait for the commit")
        .unwrap();
    assert_eq!(idle, SealReport::default());
    let sealer = ledger.clone();
    let moving = tokio::spawn(async move { sealer.seal(noon, noon).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !moving.is_finished(),
        "a seal that moves the watermark waits"
    );
    committing.batch_execute("COMMIT").await.unwrap();
    assert_eq!(moving.await.unwrap().unwrap().sealed, 1);
    assert_eq!(
        ledger.status().await.unwrap().sealed_before,
        Some(Hour::of(noon))
    );
}

/// A database that goes away fails the operation (nothing applied, retryable) and the pool
/// reconnects once it is back; a retried checkpoint applies once.
#[tokio::test]
async fn a_terminated_backend_fails_loudly_and_the_retry_applies_once() {
    let Some(schema) = Schema::new() else { return };
    let ledger = schema.named_ledger();
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
             WHERE application_name = $1 AND state = 'idle'",
            &[&schema.name],
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

/// A TCP proxy on 127.0.0.1 to the test server that can be cut (every connection dropped, new
/// ones refused) and restored on the same port: the database going away and coming back, as
/// a failover or a network partition looks from the instance.
struct Proxy {
    listen: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    url: String,
    accepting: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(server_url: &str) -> Self {
        let config: tokio_postgres::Config = server_url.parse().expect("a PostgreSQL URL");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            tokio_postgres::config::Host::Unix(path) => {
                panic!(
                    "the test server must be reached over TCP, not {}",
                    path.display()
                )
            }
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .unwrap()
            .next()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap();
        let url = format!(
            "postgres://{}@{listen}/{}",
            config.get_user().unwrap_or("postgres"),
            config.get_dbname().unwrap_or("postgres"),
        );
        let mut proxy = Self {
            listen,
            upstream,
            url,
            accepting: None,
        };
        proxy.accepting = Some(tokio::spawn(Self::serve(listener, upstream)));
        proxy
    }

    /// Accepts and forwards until aborted; aborting drops every forwarded connection too.
    async fn serve(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr) {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                continue;
            };
            connections.spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    }

    async fn cut(&mut self) {
        let accepting = self.accepting.take().expect("the proxy is up");
        accepting.abort();
        let _ = accepting.await;
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.listen).await.unwrap();
        self.accepting = Some(tokio::spawn(Self::serve(listener, self.upstream)));
    }
}

/// The database going away in the middle of recording: usage is acknowledged in memory up to
/// the backlog bound and refused past it (never dropped), a durable caller waits, the status
/// says why, and once the database is back every acknowledged unit is committed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_going_away_holds_usage_in_memory_and_commits_it_once_back() {
    use metering_core::{ManualClock, Meter, MeterConfig, MeterError, Quantity};

    let Some(schema) = Schema::new() else { return };
    let mut proxy = Proxy::start(&schema.url).await;
    let ledger = PostgresLedger::builder(&proxy.url)
        .unwrap()
        .max_connections(2)
        .wait_timeout(Duration::from_millis(500))
        .schema(&schema.name)
        .unwrap()
        .build()
        .unwrap();
    let backlog_limit = 4;
    let meter = Meter::builder()
        .config(
            MeterConfig::new()
                .with_clock(ManualClock::new(at("2026-11-26T10:10:00Z")))
                .with_commit_interval(Duration::from_millis(20))
                .with_backlog_limit(backlog_limit),
        )
        .ledger(ledger)
        .build()
        .unwrap();
    let units = |n: u64| Quantity::new(n).unwrap();
    let mut acknowledged = std::collections::BTreeMap::<String, u64>::new();
    let first = customer("100000000000");
    meter
        .record_durable(&first, Calls, units(1))
        .await
        .expect("committed while the database is up");
    *acknowledged.entry(first.to_string()).or_default() += 1;

    proxy.cut().await;
    // A durable caller is not answered while nothing can be committed...
    let mut durable = Box::pin(meter.record_durable(&first, Calls, units(2)));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut durable)
            .await
            .is_err(),
        "a durable record resolved while the database was away"
    );
    // ... the status says the ledger cannot be reached ...
    let error = meter.status().await.unwrap_err();
    assert!(
        matches!(error, MeterError::Ledger(LedgerError::Storage(_))),
        "{error}"
    );
    // ... and usage is acknowledged in memory until the backlog's bound, then refused, so
    // the caller keeps what was not recorded.
    let mut refused = None;
    for i in 0..200u64 {
        let customer = customer(&format!("{}", 200_000_000_000 + i));
        match meter.record(&customer, Calls, units(i + 1)) {
            Ok(()) => *acknowledged.entry(customer.to_string()).or_default() += i + 1,
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refused = refused.expect("recording was refused once the backlog reached its bound");
    assert!(
        matches!(refused, MeterError::Backlog { limit, .. } if limit == backlog_limit),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("was not recorded"),
        "{refused}"
    );

    proxy.restore().await;
    tokio::time::timeout(Duration::from_secs(30), durable)
        .await
        .expect("the durable record resolves once the database is back")
        .unwrap();
    *acknowledged.entry(first.to_string()).or_default() += 2;
    meter.commit().await.unwrap();
    let status = meter.status().await.unwrap();
    assert_eq!(status.last_commit_error, None);
    meter.shutdown().await.unwrap();

    // Exactly what was acknowledged, once.
    assert_eq!(billed_per_customer(&schema.ledger()).await, acknowledged);
    assert!(acknowledged.len() > 2, "some usage was held in memory");
}

/// A dimension for the meter, by hand: this crate cannot use `metering-derive`, which is what
/// implements the seal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Calls;

impl metering_core::__private::DerivedDimension for Calls {}

impl metering_core::Dimension for Calls {
    type Kind = metering_core::kind::Sum;
    const ALL: &'static [Self] = &[Self];
    fn as_str(self) -> &'static str {
        "calls"
    }
}

/// Seals the hour of 10:00 and reads the whole units of each customer's record.
async fn billed_per_customer(ledger: &PostgresLedger) -> std::collections::BTreeMap<String, u64> {
    ledger
        .seal(at("2026-11-26T11:00:00Z"), at("2026-11-26T11:20:00Z"))
        .await
        .unwrap();
    ledger
        .records(None)
        .await
        .unwrap()
        .iter()
        .map(|stored| {
            let record = &stored.record;
            (
                record.customer().to_string(),
                record.quantity().micros() / 1_000_000,
            )
        })
        .collect()
}
