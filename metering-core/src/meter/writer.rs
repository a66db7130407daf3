//! The writer: takes a checkpoint every commit interval (sooner when a durable caller
//! waits) and commits checkpoints to the ledger in order, retrying a failed one unchanged.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::MeterError;
use super::shared::{BACKLOGGED, Shared};
use crate::ledger::{Checkpoint, Delta, Ledger, Usage};
use crate::metrics;

/// Runs until `stop` fires (or is dropped), then commits what is left within the shutdown
/// timeout.
pub(super) async fn run(
    shared: Arc<Shared>,
    ledger: Arc<dyn Ledger>,
    mut stop: oneshot::Receiver<()>,
) -> Result<(), MeterError> {
    // However the writer ends (a panic included), durable callers are told, not left waiting.
    let _closed = Closed(&shared);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            () = tokio::time::sleep(until_tick(&shared)) => {}
            () = shared.wake.notified() => {}
        }
        // Durable callers the last commit answered record again at once: letting them run
        // first puts them in this checkpoint with those who waited during the commit, so
        // one commit answers all of them instead of every other commit half of them.
        tokio::task::yield_now().await;
        shared.read_clock();
        checkpoint(&shared, false);
        commit(&shared, &*ledger).await;
    }
    finish(&shared, &*ledger).await
}

/// Marks the writer stopped when dropped.
struct Closed<'a>(&'a Shared);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0
            .progress
            .send_modify(|progress| progress.closed = true);
    }
}

/// Until the next commit, or the hour's turn if sooner (so that the current hour moves on
/// time).
fn until_tick(shared: &Shared) -> Duration {
    let now = shared.now();
    let to_turn = now
        .hour_start()
        .saturating_add(Duration::from_hours(1))
        .duration_since(now);
    shared
        .config
        .commit_interval()
        .min(to_turn + Duration::from_millis(1))
}

/// Takes a checkpoint into the queue, unless the queue is at its bound (then usage stays
/// in memory and recording is refused until commits succeed again).
fn checkpoint(shared: &Shared, closing: bool) {
    let mut pending = shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let held = held(&pending);
    if held >= shared.config.backlog_limit() && !closing {
        shared.refusing.fetch_or(BACKLOGGED, Ordering::Relaxed);
        return;
    }
    let (number, deltas) = shared.take(closing);
    shared.recorded.count(&deltas);
    metrics::backlog(held + deltas.len());
    pending.push_back(Arc::new(Checkpoint {
        instance: shared.instance,
        number,
        deltas,
    }));
}

/// The deltas of the checkpoints in `pending`.
fn held(pending: &VecDeque<Arc<Checkpoint>>) -> usize {
    pending
        .iter()
        .map(|checkpoint| checkpoint.deltas.len())
        .sum()
}

/// The deltas of the checkpoints taken and not committed.
pub(super) fn backlog(shared: &Shared) -> usize {
    held(
        &shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    )
}

/// Commits the queued checkpoints in order; true when none is left.
async fn commit(shared: &Shared, ledger: &dyn Ledger) -> bool {
    loop {
        let next = shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .front()
            .cloned();
        let Some(checkpoint) = next else {
            shared.refusing.fetch_and(!BACKLOGGED, Ordering::Relaxed);
            return true;
        };
        let now = if checkpoint.deltas.is_empty() {
            shared.now()
        } else {
            let now = shared.read_clock();
            let started = std::time::Instant::now();
            let committed = ledger.commit(&checkpoint, now).await;
            metrics::commit(started.elapsed(), &committed, now);
            if let Err(error) = committed {
                tracing::warn!(
                    target: "metering::meter",
                    instance = %checkpoint.instance,
                    checkpoint = checkpoint.number,
                    deltas = checkpoint.deltas.len(),
                    %error,
                    "committing usage to the ledger failed; it stays in memory and the same checkpoint is retried"
                );
                shared
                    .progress
                    .send_modify(|progress| progress.last_error = Some(error.to_string()));
                return false;
            }
            now
        };
        let mut pending = shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.pop_front();
        metrics::backlog(held(&pending));
        drop(pending);
        shared.progress.send_modify(|progress| {
            progress.committed = checkpoint.number;
            progress.last_error = None;
            progress.last_commit = Some(now);
        });
    }
}

/// The final checkpoint (after which adds are refused), committed within the timeout.
async fn finish(shared: &Shared, ledger: &dyn Ledger) -> Result<(), MeterError> {
    let timeout = shared.config.shutdown_timeout();
    let deadline = Instant::now() + timeout;
    // The hour may have turned since the last tick: the final checkpoint is of now.
    shared.read_clock();
    checkpoint(shared, true);
    loop {
        let attempt = tokio::time::timeout_at(deadline, commit(shared, ledger)).await;
        if attempt == Ok(true) {
            return Ok(());
        }
        if attempt.is_err() || Instant::now() + shared.config.commit_interval() >= deadline {
            let deltas = uncommitted(shared);
            let last_error = shared
                .progress
                .borrow()
                .last_error
                .clone()
                .unwrap_or_else(|| "the commit did not finish in time".into());
            tracing::error!(
                target: "metering::meter",
                deltas = deltas.len(),
                %last_error,
                "shutting the meter down, usage could not be committed"
            );
            return Err(MeterError::Unflushed {
                deltas,
                timeout,
                last_error,
            });
        }
        tokio::time::sleep(shared.config.commit_interval()).await;
    }
}

/// The usage in checkpoints taken but not committed.
pub(super) fn uncommitted(shared: &Shared) -> Vec<Delta> {
    let pending = shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    pending
        .iter()
        .flat_map(|checkpoint| checkpoint.deltas.iter().cloned())
        .collect()
}

/// Closes the meter without committing (it is dropped): the final checkpoint is taken, so
/// that later adds are refused, and the usage of every checkpoint not committed is handed
/// back, all of it lost (a registered pair's zero is no loss).
pub(super) fn close(shared: &Shared) -> Vec<Delta> {
    checkpoint(shared, true);
    let mut lost = uncommitted(shared);
    lost.retain(|delta| !is_zero(&delta.usage));
    lost
}

/// A registered pair's zero, of any kind (the meter sends no other).
fn is_zero(usage: &Usage) -> bool {
    match usage {
        Usage::Sum(quantity) | Usage::Max(quantity) => quantity.is_zero(),
        Usage::Distinct(ids) => ids.is_empty(),
        Usage::Level(changes) => changes.is_empty(),
    }
}
