//! What the submission benchmarks share: records and the hand-written baseline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketplace_metering::plan::Planner;
use marketplace_metering::{
    Customer, CustomerAwsAccountId, DimensionKey, ProductCode, Quantity, Timestamp, UsageRecord,
    aws_sdk,
};
use tokio::task::JoinSet;

pub(crate) const PRODUCT: &str = "prod-bench";

/// `count` records of distinct keys, five dimensions per customer, an hour ago.
pub(crate) fn records(count: usize) -> Vec<UsageRecord> {
    let hour = Timestamp::now()
        .hour_start()
        .saturating_sub(Duration::from_hours(1));
    (0..count)
        .map(|i| {
            UsageRecord::new(
                Customer::Account {
                    product: ProductCode::new(PRODUCT).unwrap(),
                    account: CustomerAwsAccountId::new(format!("{}", 100_000_000_000 + i / 5))
                        .unwrap(),
                },
                DimensionKey::new(format!("dimension_{}", i % 5)).unwrap(),
                hour,
                Quantity::new(1_000 + i as u64).unwrap(),
            )
        })
        .collect()
}

/// The same requests our planner makes, as SDK records.
pub(crate) fn sdk_requests(records: &[UsageRecord]) -> Arc<Vec<Vec<aws_sdk::types::UsageRecord>>> {
    let plan = Planner::default().plan(records.to_vec(), Timestamp::now());
    assert!(plan.quarantined.is_empty());
    Arc::new(
        plan.requests
            .iter()
            .map(|r| {
                r.records()
                    .iter()
                    .map(|record| record.try_into().unwrap())
                    .collect()
            })
            .collect(),
    )
}

/// What the baseline achieved.
pub(crate) struct Sent {
    /// Records answered `Success`.
    pub billed: usize,
    /// Requests that failed after the SDK's own retries: their records were lost.
    pub failed_requests: usize,
}

/// The baseline: what a seller writes by hand. `concurrency` tasks send the requests with
/// the raw SDK, count the `Success` statuses, and give up on a request when the SDK does.
pub(crate) async fn raw_sdk_loop(
    client: &aws_sdk::Client,
    requests: &Arc<Vec<Vec<aws_sdk::types::UsageRecord>>>,
    concurrency: usize,
) -> Sent {
    let next = Arc::new(Mutex::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (client, requests, next) = (client.clone(), Arc::clone(requests), Arc::clone(&next));
        tasks.spawn(async move {
            let mut sent = Sent {
                billed: 0,
                failed_requests: 0,
            };
            loop {
                let index = {
                    let mut next = next.lock().unwrap();
                    *next += 1;
                    *next - 1
                };
                let Some(records) = requests.get(index) else {
                    return sent;
                };
                let output = client
                    .batch_meter_usage()
                    .product_code(PRODUCT)
                    .set_usage_records(Some(records.clone()))
                    .send()
                    .await;
                match output {
                    Ok(output) => {
                        sent.billed += output
                            .results()
                            .iter()
                            .filter(|r| {
                                r.status()
                                    == Some(&aws_sdk::types::UsageRecordResultStatus::Success)
                            })
                            .count();
                    }
                    Err(_) => sent.failed_requests += 1,
                }
            }
        });
    }
    tasks.join_all().await.into_iter().fold(
        Sent {
            billed: 0,
            failed_requests: 0,
        },
        |a, b| Sent {
            billed: a.billed + b.billed,
            failed_requests: a.failed_requests + b.failed_requests,
        },
    )
}
