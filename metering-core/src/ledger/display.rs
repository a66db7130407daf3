//! What a seller prints: one line for a flush or a seal, a few for a status, zero counts
//! left out where they are the normal case.

use std::fmt;

use super::{FlushReport, LedgerStatus, RecordState, SealReport};
use crate::meter::MeterStatus;

/// `count noun` for each count that is not zero, comma-separated; `None` when all are.
fn counts(parts: &[(usize, &str)]) -> Option<String> {
    let shown: Vec<String> = parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, noun)| format!("{count} {noun}"))
        .collect();
    (!shown.is_empty()).then(|| shown.join(", "))
}

/// `1 record`, `2 records`.
fn number(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `3 records sealed (1 quarantined at once, 2 set aside)`, or `nothing to seal`.
impl fmt::Display for SealReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aside = counts(&[
            (self.quarantined, "quarantined at once"),
            (self.set_aside, "set aside"),
        ]);
        match (self.sealed, aside) {
            (0, None) => f.write_str("nothing to seal"),
            (sealed, None) => write!(f, "{} sealed", number(sealed, "record")),
            (sealed, Some(aside)) => write!(f, "{} sealed ({aside})", number(sealed, "record")),
        }
    }
}

/// `2 records sealed; 2 requests sent: 1 billed, 1 customer not subscribed`, or `nothing
/// to seal; nothing to send`.
impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; ", self.sealed)?;
        if self.claims == 0 {
            return f.write_str("nothing to send");
        }
        let outcomes = counts(&[
            (self.outcomes.success, "billed"),
            (self.outcomes.not_subscribed, "customer not subscribed"),
            (self.outcomes.duplicate, "duplicate"),
            (self.outcomes.quarantined, "quarantined"),
            (self.outcomes.pending, "to retry"),
            (self.fenced, "fenced (another flusher took the lease)"),
        ]);
        write!(
            f,
            "{} sent: {}",
            number(self.claims, "request"),
            outcomes.as_deref().unwrap_or("no outcome")
        )
    }
}

/// The records per state, then the hours and what waits for a person, one per line.
impl fmt::Display for LedgerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let states: Vec<String> = RecordState::ALL
            .iter()
            .map(|&state| format!("{} {state}", self.count(state)))
            .collect();
        writeln!(f, "records: {}", states.join(", "))?;
        match self.oldest_unsent_hour {
            Some(hour) => writeln!(f, "oldest hour not settled: {hour}")?,
            None => writeln!(f, "oldest hour not settled: none")?,
        }
        match self.sealed_before {
            Some(hour) => writeln!(f, "sealed: every hour before {hour}")?,
            None => writeln!(f, "sealed: none yet")?,
        }
        writeln!(
            f,
            "keys with usage in hours not sealed yet: {}",
            self.open_keys
        )?;
        write!(f, "usage set aside: {}", self.set_aside)
    }
}

/// The meter's memory and commits, then its ledger's status.
impl fmt::Display for MeterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "keys open in memory: {}; checkpoints committed: {} of {}",
            self.open_keys, self.checkpoints_committed, self.checkpoints_taken
        )?;
        if let Some(error) = &self.last_commit_error {
            writeln!(f, "commits failing: {error}")?;
        }
        write!(f, "{}", self.ledger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hour::Hour;
    use crate::timestamp::Timestamp;

    #[test]
    fn a_flush_in_one_line() {
        let mut report = FlushReport::default();
        assert_eq!(report.to_string(), "nothing to seal; nothing to send");
        report.sealed.sealed = 1;
        report.claims = 1;
        report.outcomes.success = 1;
        assert_eq!(
            report.to_string(),
            "1 record sealed; 1 request sent: 1 billed"
        );
        report.sealed.sealed = 3;
        report.claims = 2;
        report.outcomes.success = 2;
        report.outcomes.not_subscribed = 1;
        assert_eq!(
            report.to_string(),
            "3 records sealed; 2 requests sent: 2 billed, 1 customer not subscribed"
        );
        report.sealed.quarantined = 1;
        report.sealed.set_aside = 2;
        report.outcomes.duplicate = 4;
        report.outcomes.quarantined = 5;
        report.outcomes.pending = 6;
        report.fenced = 7;
        assert_eq!(
            report.to_string(),
            "3 records sealed (1 quarantined at once, 2 set aside); 2 requests \
             sent: 2 billed, 1 customer not subscribed, 4 duplicate, 5 quarantined, 6 to retry, \
             7 fenced (another flusher took the lease)"
        );
        let claimed_nothing_settled = FlushReport {
            claims: 1,
            ..FlushReport::default()
        };
        assert_eq!(
            claimed_nothing_settled.to_string(),
            "nothing to seal; 1 request sent: no outcome"
        );
    }

    #[test]
    fn a_status_names_every_state_and_hour() {
        let hour = Hour::of(Timestamp::from_unix_seconds(1_780_000_000).unwrap());
        let mut ledger = LedgerStatus {
            open_keys: 4,
            records: RecordState::ALL.iter().map(|&state| (state, 0)).collect(),
            set_aside: 1,
            oldest_unsent_hour: None,
            sealed_before: None,
        };
        ledger.records[0].1 = 5;
        let status = MeterStatus {
            open_keys: 2,
            checkpoints_taken: 9,
            checkpoints_committed: 8,
            last_commit_error: Some("database is locked".to_owned()),
            ledger: ledger.clone(),
        };
        assert_eq!(
            status.to_string(),
            "keys open in memory: 2; checkpoints committed: 8 of 9\n\
             commits failing: database is locked\n\
             records: 5 unsent, 0 leased, 0 success, 0 not_subscribed, 0 duplicate, 0 quarantined\n\
             oldest hour not settled: none\n\
             sealed: none yet\n\
             keys with usage in hours not sealed yet: 4\n\
             usage set aside: 1"
        );
        ledger.oldest_unsent_hour = Some(hour);
        ledger.sealed_before = Some(hour);
        let shown = ledger.to_string();
        assert!(
            shown.contains(&format!("oldest hour not settled: {hour}\n")),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("sealed: every hour before {hour}\n")),
            "{shown}"
        );
    }
}
