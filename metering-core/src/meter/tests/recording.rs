//! Recording through the Meter: one way of billing an account an hour, and what a
//! recording shows of itself.

use super::*;

/// The service bills an account recorded under a product code and under a licence in one
/// hour twice: the second way is refused, naming the account, the hour and the first way,
/// whatever the dimension, the path (record, handle, a late event) or how far back the hour,
/// as long as the hour is open.
#[tokio::test]
async fn an_account_is_recorded_one_way_in_an_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    // A long grace: hours stay open five hours after they close.
    let meter = meter_with(&ledger, &clock, |config| {
        config.with_grace(Duration::from_hours(5))
    });
    let (by_product, by_licence) = (customer("111111111111"), licensed("111111111111"));
    meter.record(&by_product, Usage::ApiCalls, q("1")).unwrap();
    let refused = meter
        .record(&by_licence, Usage::Storage, q("2"))
        .unwrap_err();
    assert!(
        matches!(&refused, MeterError::BilledTwoWays { hour, recorded: "under a product code", .. }
            if *hour == at("2026-12-01T05:00:00Z")),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.starts_with("CustomerAWSAccountId: account 111111111111 under licence")
            && message.contains("2026-12-01T05:00:00Z"),
        "{message}"
    );
    // Another account, and a legacy customer with the same digits, are their own.
    meter
        .record(&licensed("222222222222"), Usage::ApiCalls, q("3"))
        .unwrap();
    let legacy = Customer::Legacy {
        product: ProductCode::new("prod-1").unwrap(),
        identifier: crate::CustomerIdentifier::new("111111111111".to_owned()).unwrap(),
    };
    meter.record(&legacy, Usage::Storage, q("4")).unwrap();

    // The next hour is the licence's: then the product code is refused in it, through a
    // handle opened before, while the hour before stays the product code's.
    let handle = meter.usage(&by_product, Usage::ApiCalls).handle().unwrap();
    let turn = |hours| {
        clock.advance(Duration::from_hours(hours));
        meter.commit()
    };
    turn(1).await.unwrap();
    meter.record(&by_licence, Usage::ApiCalls, q("5")).unwrap();
    assert!(matches!(
        handle.add(q("6")),
        Err(MeterError::BilledTwoWays {
            recorded: "under a licence",
            ..
        })
    ));
    handle.add_at(q("7"), at("2026-12-01T05:59:00Z")).unwrap();
    // Three hours later, 06:00 is still in its word, but late: checked under the lock.
    turn(3).await.unwrap();
    assert!(matches!(
        meter
            .usage(&by_product, Usage::ApiCalls)
            .at(at("2026-12-01T06:40:00Z"))
            .add(q("1")),
        Err(MeterError::BilledTwoWays {
            recorded: "under a licence",
            ..
        })
    ));
    // Usage in 09:00 and 10:00 takes the account's words from 05:00 and 06:00: still open,
    // they are still told apart.
    meter.record(&by_product, Usage::ApiCalls, q("1")).unwrap();
    turn(1).await.unwrap();
    meter.record(&by_product, Usage::ApiCalls, q("1")).unwrap();
    let late = |customer: &Customer, at_: &str| {
        meter
            .usage(customer, Usage::ApiCalls)
            .at(at(at_))
            .add(q("8"))
    };
    assert!(late(&by_licence, "2026-12-01T05:10:00Z").is_err());
    assert!(late(&by_product, "2026-12-01T06:10:00Z").is_err());
    late(&by_licence, "2026-12-01T06:20:00Z").unwrap();
    // Once 05:00 is sealed, late usage for it goes to an open hour, where the ledger checks.
    turn(3).await.unwrap();
    late(&by_licence, "2026-12-01T05:10:00Z").unwrap();
    meter.shutdown().await.unwrap();
    let totals = ledger.totals();
    let total = |key: &str, hour: &str| totals.get(&(key.to_owned(), at(hour))).copied();
    let (product_key, licence_key) = (
        "prod-1/111111111111 api_calls",
        "arn:aws:license-manager::123456789012:license:l-111111111111/111111111111 api_calls",
    );
    assert_eq!(total(product_key, "2026-12-01T05:00:00Z"), Some(q("8")));
    assert_eq!(total(product_key, "2026-12-01T06:00:00Z"), None);
    assert_eq!(total(licence_key, "2026-12-01T05:00:00Z"), Some(q("8")));
    assert_eq!(total(licence_key, "2026-12-01T06:00:00Z"), Some(q("13")));
}

/// Two threads recording one account two ways at once: exactly one way wins each account.
#[test]
fn racing_ways_of_one_account_leave_one() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = runtime.block_on(async { meter(&ledger, &clock) });
    let accounts: Vec<String> = (0..300).map(|n| format!("{:012}", 100_000 + n)).collect();
    let wins: Vec<Vec<bool>> = std::thread::scope(|scope| {
        let ways = [customer as fn(&str) -> Customer, licensed];
        let threads: Vec<_> = ways
            .into_iter()
            .map(|way| {
                let (meter, accounts) = (&meter, &accounts);
                scope.spawn(move || {
                    accounts
                        .iter()
                        .map(|account| meter.record(&way(account), Usage::ApiCalls, q("1")).is_ok())
                        .collect()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect()
    });
    for (n, account) in accounts.iter().enumerate() {
        assert!(
            wins[0][n] != wins[1][n],
            "account {account}: {} {}",
            wins[0][n],
            wins[1][n]
        );
    }
    runtime.block_on(meter.shutdown()).unwrap();
}

/// What a seller's logs show of a recording or a handle (`?recording` in `tracing`): the
/// customer, the dimension and the event's time.
#[tokio::test]
async fn recordings_and_handles_debug_as_their_key() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let customer = licensed("111111111111");
    let recording = meter
        .usage(&customer, Usage::Storage)
        .at(at("2026-12-01T05:10:00Z"));
    let shown = format!("{recording:?}");
    for part in ["111111111111", "storage", "2026-12-01T05:10:00Z"] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    let handle = recording.handle().unwrap();
    let shown = format!("{handle:?}");
    for part in ["Handle", "111111111111", "storage"] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    meter.shutdown().await.unwrap();
}
