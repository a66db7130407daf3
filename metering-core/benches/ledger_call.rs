//! What the boxed future costs a ledger call. `Ledger`'s methods return a `BoxFuture` so that
//! the trait can be used as `Arc<dyn Ledger>` (issue 19); the Meter and the flusher call it
//! so. The same `commit` of one checkpoint, three ways, in one run:
//!
//! - **dyn**: through `Arc<dyn Ledger>`: a virtual call and a boxed future, as the Meter does;
//! - **generic**: through a generic `L: Ledger` (a static call, the future still boxed);
//! - **static**: the same work as an inherent `async fn` awaited as it is (no box, no
//!   virtual call): what a generic trait without boxing would cost;
//!
//! on a trivial in-memory ledger, whose commit only checks and raises the last checkpoint
//! number under a mutex, so that the call's own cost is most of what is measured. Each of
//! these futures finishes at its first poll: it is polled once with a no-op waker, so no
//! runtime's cost is in those figures. For scale, beside them: the same commit to a
//! `SqliteLedger` file (WAL, `synchronous = FULL`, as in production) through
//! `Arc<dyn Ledger>`, on a Tokio runtime.
//!
//! `cargo bench -p metering-core --features sqlite --bench ledger_call`

use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use metering_core::Timestamp;
use metering_core::ledger::{Checkpoint, InstanceId, Ledger, SqliteLedger};

mod common;
use common::TrivialLedger;

/// The output of a future that is ready at its first poll.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a trivial ledger's future finishes at its first poll"),
    }
}

/// The instance's next checkpoint: each call applies one.
fn next(checkpoint: &mut Checkpoint) -> &Checkpoint {
    checkpoint.number += 1;
    checkpoint
}

fn generic_commit<L: Ledger>(ledger: &L, checkpoint: &Checkpoint, now: Timestamp) -> bool {
    ready(ledger.commit(checkpoint, now))
        .expect("commit")
        .applied
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let now = Timestamp::parse_rfc3339("2026-05-12T10:05:00Z").expect("a time");
    let mut checkpoint = Checkpoint {
        instance: InstanceId::random(),
        number: 0,
        deltas: Vec::new(),
    };
    let mut group = criterion.benchmark_group("ledger_call");

    let shared: Arc<dyn Ledger> = Arc::new(TrivialLedger::default());
    group.bench_function("dyn", |b| {
        b.iter(|| {
            let checkpoint = next(&mut checkpoint);
            black_box(
                ready(shared.commit(checkpoint, now))
                    .expect("commit")
                    .applied,
            )
        });
    });
    let trivial = TrivialLedger::default();
    group.bench_function("generic", |b| {
        b.iter(|| black_box(generic_commit(&trivial, next(&mut checkpoint), now)));
    });
    let trivial = TrivialLedger::default();
    group.bench_function("static", |b| {
        b.iter(|| {
            let checkpoint = next(&mut checkpoint);
            black_box(
                ready(trivial.commit_unboxed(checkpoint))
                    .expect("commit")
                    .applied,
            )
        });
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite: Arc<dyn Ledger> =
        Arc::new(SqliteLedger::open(dir.path().join("usage.sqlite")).expect("a ledger"));
    group.sample_size(20);
    group.bench_function("sqlite", |b| {
        b.iter(|| {
            let checkpoint = next(&mut checkpoint).clone();
            runtime.block_on(async {
                let report = sqlite.commit(&checkpoint, now).await.expect("commit");
                assert!(report.applied);
            });
        });
    });
    group.finish();
    criterion.final_summary();
}
