//! Closing a meter that is shared: through a reference, once, whoever asks.

use super::*;

/// A meter held in an `Arc` by others (a layer, handlers) closes through a reference: what
/// was recorded is committed, once; later records, commits and closes through any clone
/// are refused or do nothing, saying why.
#[tokio::test]
async fn a_shared_meter_closes_through_a_reference_once() {
    let ledger = Arc::new(MemoryLedger::default());
    let meter = Arc::new(meter(&ledger, &ManualClock::new(at(NOW))));
    let held = Arc::clone(&meter);
    let a = customer("111111111111");
    let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
    meter.record(&a, Usage::ApiCalls, q("1.5")).unwrap();
    handle.add(q("1")).unwrap();
    // Two closes at once: one commits, the other waits for it.
    let (first, second) = tokio::join!(meter.close(), held.close());
    first.unwrap();
    second.unwrap();
    assert_eq!(
        ledger.totals(),
        totals(&[(
            "prod-1/111111111111 api_calls",
            "2026-12-01T05:00:00Z",
            "2.5"
        )])
    );
    let refused = held.record(&a, Usage::ApiCalls, q("1")).unwrap_err();
    assert!(matches!(refused, MeterError::Closed), "{refused:?}");
    assert!(refused.to_string().contains("closed"), "{refused}");
    assert!(matches!(handle.add(q("1")), Err(MeterError::Closed)));
    assert!(matches!(held.commit().await, Err(MeterError::Closed)));
    assert!(matches!(
        held.record_durable(&a, Usage::ApiCalls, q("1")).await,
        Err(MeterError::Closed)
    ));
    held.close().await.unwrap();
    drop(meter);
    // The last owner's drop finds the meter closed: nothing to report lost.
    drop(held);
    let committed: Vec<u64> = ledger
        .committed
        .lock()
        .unwrap()
        .iter()
        .map(|checkpoint| checkpoint.number)
        .collect();
    assert!(
        committed.is_sorted() && !committed.is_empty(),
        "{committed:?}"
    );
    assert_eq!(ledger.totals().len(), 1);
}

/// A close hands back what it could not commit to its caller; the meter is closed all the
/// same, and a later close has nothing more to say.
#[tokio::test(start_paused = true)]
async fn a_close_that_could_not_commit_hands_the_usage_to_its_caller_once() {
    let ledger = Arc::new(MemoryLedger::default());
    ledger.failing.store(true, Ordering::SeqCst);
    let meter = meter(&ledger, &ManualClock::new(at(NOW)));
    let a = customer("111111111111");
    meter.record(&a, Usage::ApiCalls, q("4")).unwrap();
    let Err(MeterError::Unflushed { deltas, .. }) = meter.close().await else {
        panic!("a close with a failing ledger must hand the usage back");
    };
    assert_eq!(deltas.len(), 1);
    assert_eq!(sum(&deltas[0]), q("4"));
    meter.close().await.unwrap();
    assert!(matches!(
        meter.record(&a, Usage::ApiCalls, q("1")),
        Err(MeterError::Closed)
    ));
}

/// `Meter::open` opens a meter, committing to the `SQLite` file it names.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn open_gives_a_meter_on_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.sqlite");
    let meter = Meter::open(&path).unwrap();
    let a = customer("111111111111");
    meter
        .record_durable(&a, Usage::ApiCalls, q("2"))
        .await
        .unwrap();
    let status = meter.status().await.unwrap();
    assert_eq!(status.checkpoints_committed, status.checkpoints_taken);
    meter.close().await.unwrap();
    let ledger = crate::ledger::SqliteLedger::open(&path).unwrap();
    let now = Timestamp::now();
    let sealed = ledger
        .seal(now.saturating_add(Duration::from_hours(1)), now)
        .await
        .unwrap();
    assert_eq!(sealed.sealed, 1, "{sealed:?}");
    let records = crate::ledger::LedgerInspection::records(&ledger, None)
        .await
        .unwrap();
    assert_eq!(records[0].record.quantity(), q("2"));
}
