//! The Meter's health, for a readiness probe or a health endpoint: is it recording and
//! committing, and is its flusher sending before the service's deadlines.

use std::fmt;
use std::time::Duration;

use super::MeterConfig;
use crate::Timestamp;
use crate::ledger::{DeadlineLevel, FlusherHealth, TimeLeft};

/// What [`Meter::health`](super::Meter::health) found: the facts, and the problems among
/// them ([`Health::is_healthy`] when there are none). Its `Display` is one line per check,
/// for a `/healthz` body.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// When it was checked (by the meter's clock).
    pub at: Timestamp,
    /// Whether adds are accepted (not refused for a full backlog, not closed).
    pub recording: bool,
    /// When a checkpoint was last committed.
    pub last_commit: Option<Timestamp>,
    /// The last commit error, while commits fail.
    pub last_commit_error: Option<String>,
    /// Deltas in checkpoints taken and not committed.
    pub backlog: usize,
    /// The flusher's, when the meter sends ([`MeterBuilder::submitter`](super::MeterBuilder::submitter)).
    pub flusher: Option<FlusherHealth>,
    /// What is wrong, each for a person to read: empty when healthy.
    pub problems: Vec<String>,
}

/// How long without a commit is a problem: ten commit intervals, and at least a minute
/// (a database's failover should not fail every instance's probe at once).
pub(super) fn commit_bound(config: &MeterConfig) -> Duration {
    (config.commit_interval() * 10).max(Duration::from_mins(1))
}

/// How long without a successful flush is a problem: ten flush intervals and a lease (a
/// flush may send for a lease's length).
pub(super) fn flush_bound(config: &MeterConfig) -> Duration {
    config.flush_interval() * 10 + config.lease()
}

impl Health {
    /// The facts at `at`, judged against `config`'s bounds, for a meter started at `started`.
    pub(super) fn new(
        (started, at): (Timestamp, Timestamp),
        recording: bool,
        (last_commit, last_commit_error): (Option<Timestamp>, Option<String>),
        backlog: usize,
        flusher: Option<FlusherHealth>,
        config: &MeterConfig,
    ) -> Self {
        let mut problems = Vec::new();
        if !recording {
            problems
                .push("recording is refused (the meter is closed, or its backlog is full)".into());
        }
        stale(
            &mut problems,
            "committed",
            (started, at),
            last_commit,
            commit_bound(config),
            last_commit_error.as_deref(),
        );
        if let Some(flusher) = &flusher {
            stale(
                &mut problems,
                "flushed",
                (started, at),
                flusher.last_flush,
                flush_bound(config),
                flusher.last_error.as_deref(),
            );
            let urgent = flusher
                .watched
                .as_ref()
                .and_then(|watched| watched.most_urgent());
            if let Some(urgent) = urgent.filter(|urgent| urgent.level == DeadlineLevel::Error) {
                problems.push(format!(
                    "{} records of hour {} are unsent with {} left before the service's deadline ({})",
                    urgent.records,
                    urgent.hour,
                    TimeLeft(urgent.left_seconds(at)),
                    urgent.deadline
                ));
            }
        }
        Self {
            at,
            recording,
            last_commit,
            last_commit_error,
            backlog,
            flusher,
            problems,
        }
    }

    /// Whether nothing is wrong: recording, committing, and (when it sends) flushing with
    /// no record within the error margin of its deadline.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A problem when `last` is older than `bound` at `at`; with none yet, when one failed or
/// the meter started longer ago than `bound` (a meter just started is ready: a readiness
/// probe must not fail its first interval).
fn stale(
    problems: &mut Vec<String>,
    what: &str,
    (started, at): (Timestamp, Timestamp),
    last: Option<Timestamp>,
    bound: Duration,
    error: Option<&str>,
) {
    let because = error.map_or_else(String::new, |error| format!(": {error}"));
    match last {
        None if error.is_some() || at.duration_since(started) > bound => {
            problems.push(format!(
                "not {what} since the meter started {} ago{because}",
                TimeLeft(at.duration_since(started).as_secs_f64())
            ));
        }
        Some(last) if at.duration_since(last) > bound => problems.push(format!(
            "last {what} {} ago, more than {}{because}",
            TimeLeft(at.duration_since(last).as_secs_f64()),
            TimeLeft(bound.as_secs_f64())
        )),
        None | Some(_) => {}
    }
}

/// How long ago `last` was at `at`, or `never`.
fn ago(at: Timestamp, last: Option<Timestamp>) -> String {
    last.map_or_else(
        || "never".into(),
        |last| format!("{} ago", TimeLeft(at.duration_since(last).as_secs_f64())),
    )
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}",
            if self.is_healthy() {
                "healthy"
            } else {
                "unhealthy"
            }
        )?;
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        writeln!(
            f,
            "recording: {}; last commit {}; backlog {} deltas",
            if self.recording { "yes" } else { "refused" },
            ago(self.at, self.last_commit),
            self.backlog
        )?;
        let Some(flusher) = &self.flusher else {
            return writeln!(f, "sending: not by this meter");
        };
        write!(
            f,
            "sending: last flush {}",
            ago(self.at, flusher.last_flush)
        )?;
        match flusher
            .watched
            .as_ref()
            .and_then(|watched| watched.most_urgent())
        {
            Some(urgent) => writeln!(
                f,
                "; most urgent: {} records of hour {}, {} left",
                urgent.records,
                urgent.hour,
                TimeLeft(urgent.left_seconds(self.at))
            ),
            None => writeln!(f, "; nothing left to send"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn health(after: Duration, commit_error: Option<&str>, sends: bool) -> Health {
        let started = Timestamp::from_unix_seconds(1_778_580_000).unwrap();
        let at = Timestamp::from_unix_nanos(
            started.unix_nanos() + i128::try_from(after.as_nanos()).unwrap(),
        )
        .unwrap();
        Health::new(
            (started, at),
            true,
            (None, commit_error.map(str::to_owned)),
            0,
            sends.then(FlusherHealth::default),
            &MeterConfig::new(),
        )
    }

    #[test]
    fn a_meter_just_started_is_ready_until_its_first_commit_and_flush_are_due() {
        let fresh = health(Duration::from_secs(30), None, true);
        assert!(fresh.is_healthy(), "{fresh}");
        assert!(fresh.to_string().contains("last commit never"), "{fresh}");

        // A minute (ten commit intervals at least) with no commit: a problem; the flush is
        // due later (ten flush intervals and a lease).
        let late = health(Duration::from_secs(61), None, true);
        assert_eq!(
            late.problems,
            ["not committed since the meter started 0h 1m 1s ago"]
        );
        let later = health(
            flush_bound(&MeterConfig::new()) + Duration::from_secs(1),
            None,
            true,
        );
        assert_eq!(later.problems.len(), 2, "{later}");
        assert!(later.problems[1].starts_with("not flushed since the meter started"));
        assert!(health(Duration::from_secs(61), None, false).problems.len() == 1);

        // A first commit that failed is a problem at once.
        let failing = health(Duration::from_secs(2), Some("disk I/O error"), false);
        assert_eq!(
            failing.problems,
            ["not committed since the meter started 0h 0m 2s ago: disk I/O error"]
        );
    }
}
