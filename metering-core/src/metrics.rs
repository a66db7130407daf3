//! The metrics the Meter, its writer, the flusher and the submitter publish, through the
//! [`metrics`](https://docs.rs/metrics) facade: every name, its labels and their values.
//!
//! The facade is to metrics what `log` is to logging: the library records, the seller's
//! program installs the recorder of its choice (`metrics-exporter-prometheus`, a `StatsD`
//! or OpenTelemetry bridge), and with none installed each emission is one atomic load. It
//! is always on (feature `submit`): one small dependency, no exporter, and nothing emitted
//! per recorded event (usage is counted per checkpoint, from what the meter has already
//! aggregated). OpenTelemetry's API was not chosen: it brings its SDK's types and context
//! machinery into every build, for a seller who may only want Prometheus.
//!
//! Names follow Prometheus's conventions, as the facade's exporters expect: a `metering_`
//! prefix, base units (`_seconds`), `_total` on counters. The README's "Operating it" has
//! the same table for a person.
//!
//! | name | type | unit | labels | meaning |
//! | --- | --- | --- | --- | --- |
//! | [`USAGE_RECORDED`] | counter | the dimension's units | `dimension` | usage of sum dimensions taken into checkpoints (whole units; a fraction is carried to the next checkpoint) |
//! | [`USAGE_REFUSED`] | counter | adds | `reason` | adds refused: `overflow`, `backlog`, `closed`, `billed_two_ways`, `in_future`, `invalid` |
//! | [`USAGE_LATE`] | counter | deltas | | usage for an hour already sealed, moved to the oldest open hour of its month |
//! | [`USAGE_SET_ASIDE`] | counter | entries | `stage` | usage set aside for a person, at `commit` or at `seal` |
//! | [`COMMITS`] | counter | commits | `outcome` | checkpoints committed to the ledger: `ok`, `error` (retried unchanged) |
//! | [`COMMIT_DURATION`] | histogram | seconds | | how long a ledger commit took |
//! | [`BACKLOG`] | gauge | deltas | | usage in checkpoints taken but not committed yet |
//! | [`LAST_COMMIT`] | gauge | Unix seconds | | when a commit last succeeded (by the meter's clock) |
//! | [`FLUSHES`] | counter | flushes | `outcome` | flush cycles (seal, send, settle): `ok`, `error` |
//! | [`LAST_FLUSH`] | gauge | Unix seconds | | when a flush last succeeded (by the flusher's clock) |
//! | [`RECORDS_SEALED`] | counter | records | | records sealed, ready to send |
//! | [`RECORDS_QUARANTINED`] | counter | records | `stage` | records kept back for a person, at `seal` (billed two ways) or at `send` (the window closing, rejected by the service) |
//! | [`RECORDS_SENT`] | counter | records | | records in requests sent to the service (each attempt) |
//! | [`RECORDS_SETTLED`] | counter | records | `outcome` | outcomes written to the ledger: `success`, `not_subscribed`, `duplicate`, `quarantined`, `pending` (sent again after a backoff) |
//! | [`REQUESTS`] | counter | requests | `outcome` | `BatchMeterUsage` calls: `ok`, `rejected` (the whole request), `stopped`, `failed` (retried) |
//! | [`REQUEST_DURATION`] | histogram | seconds | | how long a call took |
//! | [`RECORDS`] | gauge | records | `state` | the ledger's records not settled: `unsent`, `leased`, `quarantined` |
//! | [`OLDEST_UNSENT_HOUR_AGE`] | gauge | seconds | | age of the oldest hour with a record not settled (0 when none) |
//! | [`DEADLINE_REMAINING`] | gauge | seconds | | time left before the most urgent record still to send (unsent or leased) can no longer be sent; negative past it; the service's window (86,400) when none |
//! | [`RECORDS_NEAR_DEADLINE`] | gauge | records | `level` | records still to send whose deadline is within the `warning` margin, or within the `error` margin or past |
//!
//! The ledger's gauges ([`RECORDS`], [`OLDEST_UNSENT_HOUR_AGE`], [`DEADLINE_REMAINING`],
//! [`RECORDS_NEAR_DEADLINE`]) are read by each flusher at the end of each flush: in a
//! fleet on one database every instance reports the same ledger, so aggregate them with
//! `max` (or `min` for the time left), not `sum`.

/// Counter: usage taken into checkpoints, in the dimension's units. Label [`DIMENSION`].
pub const USAGE_RECORDED: &str = "metering_usage_recorded_total";
/// Counter: adds refused. Label [`REASON`].
pub const USAGE_REFUSED: &str = "metering_usage_refused_total";
/// Counter: deltas for a sealed hour, moved to the oldest open hour of their month.
pub const USAGE_LATE: &str = "metering_usage_late_total";
/// Counter: usage set aside for a person. Label [`STAGE`] (`commit`, `seal`).
pub const USAGE_SET_ASIDE: &str = "metering_usage_set_aside_total";
/// Counter: checkpoint commits. Label [`OUTCOME`] (`ok`, `error`).
pub const COMMITS: &str = "metering_commits_total";
/// Histogram: a ledger commit's duration, in seconds.
pub const COMMIT_DURATION: &str = "metering_commit_duration_seconds";
/// Gauge: deltas in checkpoints taken but not committed.
pub const BACKLOG: &str = "metering_backlog_deltas";
/// Gauge: when a commit last succeeded, in Unix seconds.
pub const LAST_COMMIT: &str = "metering_last_commit_timestamp_seconds";
/// Counter: flush cycles. Label [`OUTCOME`] (`ok`, `error`).
pub const FLUSHES: &str = "metering_flushes_total";
/// Gauge: when a flush last succeeded, in Unix seconds.
pub const LAST_FLUSH: &str = "metering_last_flush_timestamp_seconds";
/// Counter: records sealed.
pub const RECORDS_SEALED: &str = "metering_records_sealed_total";
/// Counter: records quarantined. Label [`STAGE`] (`seal`, `send`).
pub const RECORDS_QUARANTINED: &str = "metering_records_quarantined_total";
/// Counter: records in requests sent (each attempt).
pub const RECORDS_SENT: &str = "metering_records_sent_total";
/// Counter: outcomes settled in the ledger. Label [`OUTCOME`] (`success`,
/// `not_subscribed`, `duplicate`, `quarantined`, `pending`).
pub const RECORDS_SETTLED: &str = "metering_records_settled_total";
/// Counter: `BatchMeterUsage` calls. Label [`OUTCOME`] (`ok`, `rejected`, `stopped`,
/// `failed`).
pub const REQUESTS: &str = "metering_requests_total";
/// Histogram: a call's duration, in seconds.
pub const REQUEST_DURATION: &str = "metering_request_duration_seconds";
/// Gauge: the ledger's records not settled. Label [`STATE`] (`unsent`, `leased`,
/// `quarantined`).
pub const RECORDS: &str = "metering_records";
/// Gauge: the age of the oldest hour with a record not settled, in seconds (0 when none).
pub const OLDEST_UNSENT_HOUR_AGE: &str = "metering_oldest_unsent_hour_age_seconds";
/// Gauge: seconds left before the most urgent record still to send can no longer be sent.
pub const DEADLINE_REMAINING: &str = "metering_deadline_remaining_seconds";
/// Gauge: records still to send within a deadline margin. Label [`LEVEL`] (`warning`,
/// `error`).
pub const RECORDS_NEAR_DEADLINE: &str = "metering_records_near_deadline";

/// Label: the dimension's name.
pub const DIMENSION: &str = "dimension";
/// Label: why an add was refused.
pub const REASON: &str = "reason";
/// Label: where in the pipeline.
pub const STAGE: &str = "stage";
/// Label: how it ended.
pub const OUTCOME: &str = "outcome";
/// Label: a record's state in the ledger.
pub const STATE: &str = "state";
/// Label: how close to the deadline.
pub const LEVEL: &str = "level";

/// Every metric's name, in the table's order: to check an exporter's output, a dashboard
/// or alert rules against.
pub const ALL: [&str; 20] = [
    USAGE_RECORDED,
    USAGE_REFUSED,
    USAGE_LATE,
    USAGE_SET_ASIDE,
    COMMITS,
    COMMIT_DURATION,
    BACKLOG,
    LAST_COMMIT,
    FLUSHES,
    LAST_FLUSH,
    RECORDS_SEALED,
    RECORDS_QUARANTINED,
    RECORDS_SENT,
    RECORDS_SETTLED,
    REQUESTS,
    REQUEST_DURATION,
    RECORDS,
    OLDEST_UNSENT_HOUR_AGE,
    DEADLINE_REMAINING,
    RECORDS_NEAR_DEADLINE,
];

#[cfg(feature = "submit")]
pub use describe::describe;
#[cfg(feature = "submit")]
pub(crate) use emit::*;
#[cfg(feature = "meter")]
pub(crate) use meter::*;

/// Each metric's type, unit and meaning, for the recorder.
#[cfg(feature = "submit")]
mod describe {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

    use super::{
        ALL, BACKLOG, COMMIT_DURATION, COMMITS, DEADLINE_REMAINING, FLUSHES, LAST_COMMIT,
        LAST_FLUSH, OLDEST_UNSENT_HOUR_AGE, RECORDS, RECORDS_NEAR_DEADLINE, RECORDS_QUARANTINED,
        RECORDS_SEALED, RECORDS_SENT, RECORDS_SETTLED, REQUEST_DURATION, REQUESTS, USAGE_LATE,
        USAGE_RECORDED, USAGE_REFUSED, USAGE_SET_ASIDE,
    };

    pub(super) enum Type {
        Counter,
        Gauge,
        Histogram,
    }

    /// The table above, row by row: the meaning is the `# HELP` of a Prometheus scrape.
    pub(super) const DESCRIPTIONS: [(&str, Type, Option<Unit>, &str); ALL.len()] = [
        (
            USAGE_RECORDED,
            Type::Counter,
            None,
            "usage of sum dimensions taken into checkpoints (whole units; a fraction is carried to the next checkpoint)",
        ),
        (
            USAGE_REFUSED,
            Type::Counter,
            Some(Unit::Count),
            "adds refused: overflow, backlog, closed, billed_two_ways, in_future, invalid",
        ),
        (
            USAGE_LATE,
            Type::Counter,
            Some(Unit::Count),
            "usage for an hour already sealed, moved to the oldest open hour of its month",
        ),
        (
            USAGE_SET_ASIDE,
            Type::Counter,
            Some(Unit::Count),
            "usage set aside for a person, at commit or at seal",
        ),
        (
            COMMITS,
            Type::Counter,
            Some(Unit::Count),
            "checkpoints committed to the ledger: ok, error (retried unchanged)",
        ),
        (
            COMMIT_DURATION,
            Type::Histogram,
            Some(Unit::Seconds),
            "how long a ledger commit took",
        ),
        (
            BACKLOG,
            Type::Gauge,
            Some(Unit::Count),
            "usage in checkpoints taken but not committed yet",
        ),
        (
            LAST_COMMIT,
            Type::Gauge,
            Some(Unit::Seconds),
            "when a commit last succeeded (by the meter's clock)",
        ),
        (
            FLUSHES,
            Type::Counter,
            Some(Unit::Count),
            "flush cycles (seal, send, settle): ok, error",
        ),
        (
            LAST_FLUSH,
            Type::Gauge,
            Some(Unit::Seconds),
            "when a flush last succeeded (by the flusher's clock)",
        ),
        (
            RECORDS_SEALED,
            Type::Counter,
            Some(Unit::Count),
            "records sealed, ready to send",
        ),
        (
            RECORDS_QUARANTINED,
            Type::Counter,
            Some(Unit::Count),
            "records kept back for a person, at seal (billed two ways) or at send (the window closing, rejected by the service)",
        ),
        (
            RECORDS_SENT,
            Type::Counter,
            Some(Unit::Count),
            "records in requests sent to the service (each attempt)",
        ),
        (
            RECORDS_SETTLED,
            Type::Counter,
            Some(Unit::Count),
            "outcomes written to the ledger: success, not_subscribed, duplicate, quarantined, pending (sent again after a backoff)",
        ),
        (
            REQUESTS,
            Type::Counter,
            Some(Unit::Count),
            "BatchMeterUsage calls: ok, rejected (the whole request), stopped, failed (retried)",
        ),
        (
            REQUEST_DURATION,
            Type::Histogram,
            Some(Unit::Seconds),
            "how long a call took",
        ),
        (
            RECORDS,
            Type::Gauge,
            Some(Unit::Count),
            "the ledger's records not settled: unsent, leased, quarantined",
        ),
        (
            OLDEST_UNSENT_HOUR_AGE,
            Type::Gauge,
            Some(Unit::Seconds),
            "age of the oldest hour with a record not settled (0 when none)",
        ),
        (
            DEADLINE_REMAINING,
            Type::Gauge,
            Some(Unit::Seconds),
            "time left before the most urgent record still to send (unsent or leased) can no longer be sent; negative past it; the service's window (86,400) when none",
        ),
        (
            RECORDS_NEAR_DEADLINE,
            Type::Gauge,
            Some(Unit::Count),
            "records still to send whose deadline is within the warning margin, or within the error margin or past",
        ),
    ];

    /// Describes every metric to the recorder installed: its unit and what it means (the
    /// table above), which `metrics-exporter-prometheus` renders as `# HELP` lines. Call it
    /// once the recorder is installed: a recorder installed after knows nothing of it.
    ///
    /// ```
    /// use metering_core::metrics as names;
    /// use metrics_util::debugging::DebuggingRecorder;
    ///
    /// // In a program: `metrics::set_global_recorder`, or an exporter's `install_recorder`.
    /// let recorder = DebuggingRecorder::new();
    /// let snapshotter = recorder.snapshotter();
    /// metrics::with_local_recorder(&recorder, || {
    ///     names::describe();
    ///     metrics::counter!(names::RECORDS_SENT).increment(2);
    /// });
    /// let (key, unit, help, _) = snapshotter.snapshot().into_vec().remove(0);
    /// assert_eq!(key.key().name(), names::RECORDS_SENT);
    /// assert_eq!(unit, Some(metrics::Unit::Count));
    /// assert_eq!(
    ///     help.as_deref(),
    ///     Some("records in requests sent to the service (each attempt)")
    /// );
    /// ```
    pub fn describe() {
        for (name, kind, unit, meaning) in DESCRIPTIONS {
            match (kind, unit) {
                (Type::Counter, Some(unit)) => describe_counter!(name, unit, meaning),
                (Type::Counter, None) => describe_counter!(name, meaning),
                (Type::Gauge, Some(unit)) => describe_gauge!(name, unit, meaning),
                (Type::Gauge, None) => describe_gauge!(name, meaning),
                (Type::Histogram, Some(unit)) => describe_histogram!(name, unit, meaning),
                (Type::Histogram, None) => describe_histogram!(name, meaning),
            }
        }
    }
}

/// What the library emits, each metric in one place: the call sites name an event, not a
/// metric.
#[cfg(feature = "submit")]
mod emit {
    use std::time::Duration;

    use metrics::{counter, histogram};

    use super::{OUTCOME, RECORDS_SENT, REQUEST_DURATION, REQUESTS};

    /// One `BatchMeterUsage` call of `records` records, and how it ended: `ok`, `rejected`,
    /// `stopped`, `failed`.
    pub(crate) fn request(records: usize, took: Duration, outcome: &'static str) {
        counter!(REQUESTS, OUTCOME => outcome).increment(1);
        counter!(RECORDS_SENT).increment(records as u64);
        histogram!(REQUEST_DURATION).record(took.as_secs_f64());
    }
}

/// What the Meter and the flusher emit.
#[cfg(feature = "meter")]
mod meter {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};

    use std::time::Duration;

    use metrics::{counter, gauge, histogram};

    use super::{
        BACKLOG, COMMIT_DURATION, COMMITS, DEADLINE_REMAINING, DIMENSION, FLUSHES, LAST_COMMIT,
        LAST_FLUSH, LEVEL, OLDEST_UNSENT_HOUR_AGE, OUTCOME, REASON, RECORDS, RECORDS_NEAR_DEADLINE,
        RECORDS_QUARANTINED, RECORDS_SEALED, RECORDS_SETTLED, STAGE, STATE, USAGE_LATE,
        USAGE_RECORDED, USAGE_REFUSED, USAGE_SET_ASIDE,
    };
    use crate::Timestamp;
    use crate::ledger::{
        CommitReport, Delta, FlushReport, LedgerError, RecordState, Usage, Watched,
    };
    use crate::meter::MeterError;

    /// A timestamp as the Unix seconds a gauge holds.
    fn unix_seconds(at: Timestamp) -> f64 {
        // Seconds since 1970 are exact in an f64 to the microsecond for millennia.
        #[allow(clippy::cast_precision_loss, reason = "see above")]
        let seconds = at.unix_nanos() as f64 / 1e9;
        seconds
    }

    /// An add refused: off the hot path, which only tests the result.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused(error: &MeterError) {
        let reason = match error {
            MeterError::Overflow { .. } => "overflow",
            MeterError::Backlog { .. } => "backlog",
            MeterError::Closed => "closed",
            MeterError::BilledTwoWays { .. } => "billed_two_ways",
            MeterError::InFuture { .. } => "in_future",
            _ => "invalid",
        };
        counter!(USAGE_REFUSED, REASON => reason).increment(1);
    }

    /// Counts the usage of checkpoints per dimension of kind sum, in whole units: what a
    /// dimension's checkpoints hold below a unit is carried to its next one.
    #[derive(Debug, Default)]
    pub(crate) struct UsageCounter(Mutex<HashMap<String, u64>>);

    impl UsageCounter {
        pub(crate) fn count(&self, deltas: &[Delta]) {
            if deltas.is_empty() {
                return;
            }
            let mut carried = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            for delta in deltas {
                // A sum adds up across checkpoints; a maximum, a distinct count or a level
                // does not, and is not counted here.
                let Usage::Sum(quantity) = &delta.usage else {
                    continue;
                };
                let dimension = delta.key.dimension().as_str();
                let micros = match carried.get_mut(dimension) {
                    Some(micros) => micros,
                    None => carried.entry(dimension.to_owned()).or_default(),
                };
                *micros += quantity.micros();
            }
            for (dimension, micros) in carried.iter_mut() {
                let units = *micros / 1_000_000;
                if units > 0 {
                    *micros %= 1_000_000;
                    counter!(USAGE_RECORDED, DIMENSION => dimension.clone()).increment(units);
                }
            }
        }
    }

    /// A checkpoint's commit at `now`, which took `took`: what it did with its deltas.
    pub(crate) fn commit(
        took: Duration,
        committed: &Result<CommitReport, LedgerError>,
        now: Timestamp,
    ) {
        histogram!(COMMIT_DURATION).record(took.as_secs_f64());
        let Ok(report) = committed else {
            counter!(COMMITS, OUTCOME => "error").increment(1);
            return;
        };
        counter!(COMMITS, OUTCOME => "ok").increment(1);
        counter!(USAGE_LATE).increment(report.late as u64);
        counter!(USAGE_SET_ASIDE, STAGE => "commit").increment(report.set_aside as u64);
        gauge!(LAST_COMMIT).set(unix_seconds(now));
    }

    /// Deltas in checkpoints not committed yet.
    pub(crate) fn backlog(deltas: usize) {
        #[allow(clippy::cast_precision_loss, reason = "a count far below 2^52")]
        gauge!(BACKLOG).set(deltas as f64);
    }

    /// A flush that ended at `now`: what it sealed and settled.
    pub(crate) fn flushed(report: &FlushReport, now: Timestamp) {
        counter!(FLUSHES, OUTCOME => "ok").increment(1);
        gauge!(LAST_FLUSH).set(unix_seconds(now));
        let sealed = report.sealed;
        counter!(RECORDS_SEALED).increment((sealed.sealed + sealed.quarantined) as u64);
        counter!(RECORDS_QUARANTINED, STAGE => "seal").increment(sealed.quarantined as u64);
        counter!(USAGE_SET_ASIDE, STAGE => "seal").increment(sealed.set_aside as u64);
        let outcomes = report.outcomes;
        counter!(RECORDS_QUARANTINED, STAGE => "send").increment(outcomes.quarantined as u64);
        for (outcome, count) in [
            ("success", outcomes.success),
            ("not_subscribed", outcomes.not_subscribed),
            ("duplicate", outcomes.duplicate),
            ("quarantined", outcomes.quarantined),
            ("pending", outcomes.pending),
        ] {
            counter!(RECORDS_SETTLED, OUTCOME => outcome).increment(count as u64);
        }
    }

    /// A flush that failed.
    pub(crate) fn flush_failed() {
        counter!(FLUSHES, OUTCOME => "error").increment(1);
    }

    /// The ledger's records not settled, and their deadlines, as a flush left them.
    #[allow(
        clippy::cast_precision_loss,
        reason = "counts and seconds far below 2^52"
    )]
    pub(crate) fn watched(watched: &Watched, window: std::time::Duration) {
        for state in [
            RecordState::Unsent,
            RecordState::Leased,
            RecordState::Quarantined,
        ] {
            gauge!(RECORDS, STATE => state.as_str()).set(watched.count(state) as f64);
        }
        let age = watched.oldest_hour().map_or(0.0, |hour| {
            watched.at.duration_since(hour.start()).as_secs_f64()
        });
        gauge!(OLDEST_UNSENT_HOUR_AGE).set(age);
        let left = watched
            .most_urgent()
            .map_or(window.as_secs_f64(), |urgent| {
                urgent.left_seconds(watched.at)
            });
        gauge!(DEADLINE_REMAINING).set(left);
        gauge!(RECORDS_NEAR_DEADLINE, LEVEL => "warning").set(watched.warning as f64);
        gauge!(RECORDS_NEAR_DEADLINE, LEVEL => "error").set(watched.error as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn names_follow_prometheus_conventions_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("metering_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }

    #[cfg(feature = "submit")]
    #[test]
    fn each_description_is_the_tables_meaning() {
        let docs = include_str!("metrics.rs");
        let rows: Vec<String> = docs
            .lines()
            .filter(|line| line.starts_with("//! | [`"))
            .map(|row| row.split('|').nth(5).unwrap().trim().replace('`', ""))
            .collect();
        let meanings: Vec<&str> = super::describe::DESCRIPTIONS
            .iter()
            .map(|(.., meaning)| *meaning)
            .collect();
        assert_eq!(rows, meanings);
        let names: Vec<&str> = super::describe::DESCRIPTIONS
            .iter()
            .map(|(name, ..)| *name)
            .collect();
        assert_eq!(names, ALL);
    }

    #[test]
    fn the_module_table_lists_every_name() {
        let docs = include_str!("metrics.rs");
        for name in ALL {
            let constant = docs
                .lines()
                .find(|line| line.contains(&format!("= \"{name}\"")))
                .and_then(|line| line.split_whitespace().nth(2))
                .map(|constant| constant.trim_end_matches(':'));
            let constant = constant.unwrap_or_else(|| panic!("{name} has no constant"));
            assert!(
                docs.contains(&format!("//! | [`{constant}`] |")),
                "{constant} is not in the table"
            );
        }
    }
}
