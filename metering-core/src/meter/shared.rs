//! What the recording side and the writer share: the open keys, what is kept aside, the
//! clock as last read, and the writer's progress.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use super::aside::Aside;
use super::hour::{AtomicHour, Hour, micros};
use super::table::Table;
use super::{MeterConfig, MeterError};
use crate::Timestamp;
use crate::ledger::{Checkpoint, InstanceId};

/// [`Shared::refusing`]: the ledger fails and uncommitted usage is at its bound.
pub(super) const BACKLOGGED: u8 = 1;
/// [`Shared::refusing`]: the final checkpoint is taken (a shutdown, or a dropped meter).
pub(super) const CLOSED: u8 = 2;

/// Where the writer is: what every durable caller waits on.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Every checkpoint up to this number is committed.
    pub(super) committed: u64,
    /// The writer stopped: nothing more will be committed.
    pub(super) closed: bool,
    /// The last commit error, while commits fail.
    pub(super) last_error: Option<String>,
    /// When a checkpoint was last committed (by the meter's clock).
    pub(super) last_commit: Option<Timestamp>,
}

/// What the recording side and the writer share.
pub(super) struct Shared {
    pub(super) table: Table,
    pub(super) aside: Mutex<Aside>,
    pub(super) config: MeterConfig,
    pub(super) instance: InstanceId,
    /// When the meter was built (by its clock): a commit or flush is due only a bound after.
    pub(super) started: Timestamp,
    /// The clock as last read (microseconds since the epoch), and its hour.
    pub(super) now: AtomicI64,
    pub(super) hour_now: AtomicHour,
    /// The window new keys open with: the checkpointer's current hour.
    pub(super) center: AtomicHour,
    /// The number of the last checkpoint taken.
    pub(super) epoch: AtomicU64,
    /// Why adds are refused at once, if they are: [`BACKLOGGED`] while the ledger fails
    /// and uncommitted usage is at its bound, [`CLOSED`] from the final checkpoint on.
    pub(super) refusing: AtomicU8,
    pub(super) progress: watch::Sender<Progress>,
    pub(super) wake: Notify,
    /// Checkpoints taken and not yet committed, oldest first.
    pub(super) pending: Mutex<VecDeque<std::sync::Arc<Checkpoint>>>,
    /// Counts the usage checkpoints take, for the metrics.
    pub(super) recorded: crate::metrics::UsageCounter,
}

impl Shared {
    pub(super) fn new(config: MeterConfig) -> Self {
        let now = config.clock().now();
        let hour = Hour::of(now);
        Self {
            table: Table::new(),
            aside: Mutex::default(),
            instance: InstanceId::random(),
            started: now,
            now: AtomicI64::new(micros(now)),
            hour_now: AtomicHour::new(hour),
            center: AtomicHour::new(hour),
            epoch: AtomicU64::new(0),
            refusing: AtomicU8::new(0),
            progress: watch::Sender::new(Progress::default()),
            wake: Notify::new(),
            pending: Mutex::default(),
            recorded: crate::metrics::UsageCounter::default(),
            config,
        }
    }

    /// The clock as last read.
    pub(super) fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(i128::from(self.now.load(Ordering::Relaxed)) * 1000)
            .unwrap_or_else(|_| unreachable!("read from a valid timestamp"))
    }

    /// Reads the clock, and moves the meter's idea of now forward to it.
    pub(super) fn read_clock(&self) -> Timestamp {
        let now = self.config.clock().now();
        self.now.fetch_max(micros(now), Ordering::Relaxed);
        self.hour_now.fetch_max(Hour::of(now), Ordering::Relaxed);
        now
    }

    /// The hour `at` falls in, refusing it when it is too far ahead of the clock. Reads the
    /// clock only for a timestamp past the last reading plus the bound.
    pub(super) fn hour_of(&self, at: Timestamp) -> Result<Hour, MeterError> {
        let bound = self.config.future_bound();
        let last = i128::from(self.now.load(Ordering::Relaxed)) * 1000;
        if at.unix_nanos() > last + i128::try_from(bound.as_nanos()).unwrap_or(i128::MAX) {
            let now = self.read_clock();
            let ahead = at.duration_since(now);
            if ahead > bound {
                return Err(MeterError::InFuture {
                    timestamp: at,
                    now,
                    ahead,
                    bound,
                });
            }
        }
        Ok(Hour::of(at))
    }

    pub(super) fn aside(&self) -> MutexGuard<'_, Aside> {
        self.aside.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn backlog_error(&self) -> MeterError {
        MeterError::Backlog {
            held: self.config.backlog_limit(),
            limit: self.config.backlog_limit(),
        }
    }

    /// Waits until the checkpoint after the current one is committed: whatever was added
    /// before this call is then durable.
    pub(super) async fn durable(&self) -> Result<(), MeterError> {
        let number = self.epoch.load(Ordering::SeqCst) + 1;
        let mut progress = self.progress.subscribe();
        self.wake.notify_one();
        let progress = progress
            .wait_for(|progress| progress.committed >= number || progress.closed)
            .await
            .map_err(|_| MeterError::Closed)?;
        if progress.committed >= number {
            Ok(())
        } else {
            Err(MeterError::Closed)
        }
    }
}
