//! A [`Ledger`] kept in memory, written against the public API of `metering-core` only.
//!
//! It is the proof that a store of one's own (a `DynamoDB` table, a schema of one's own) can
//! be written outside the crate and pass the public conformance suite: its tests run
//! [`ledger_conformance_tests!`](metering_core::ledger_conformance_tests). Every decision of
//! the protocol (where late usage goes, what a seal makes, the reasons) comes from
//! [`metering_core::ledger::protocol`]; this crate holds only how the state is kept.
//!
//! Clones are handles on one store, as processes on one database would be. Nothing survives
//! the process: use it for tests and examples, not to bill.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metering_core::kind::{Identifier, Kind};
use metering_core::ledger::protocol::{
    CLAIM_SIZE, Commit, bills_twice, commit_usage, customer_seal, double_billing_reason,
    is_claimable, later, level_hours, overflow_reason, requeue_hour, seal_record, seal_watermark,
    settled, unsealable_reason,
};
use metering_core::ledger::{
    BoxFuture, Checkpoint, Claim, ClaimedRecord, CommitReport, HourStatus, InstanceId, Ledger,
    LedgerError, LedgerInspection, LedgerStatus, LevelChange, LevelHeld, RecordId, RecordState,
    SealReport, SetAside, SetAsideId, SetAsideRequeue, SettleReport, Settlement, StoredRecord,
    UsageKey,
};
use metering_core::{Customer, Hour, Quantity, Timestamp};

/// A ledger in this process's memory; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    state: Arc<Mutex<State>>,
}

impl MemoryLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` on the state, alone: each operation is one step, as a transaction is.
    fn with<R>(&self, work: impl FnOnce(&mut State) -> R) -> R {
        work(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[derive(Debug, Default)]
struct State {
    /// The last checkpoint number applied per instance.
    instances: BTreeMap<InstanceId, u64>,
    /// Every hour before it is sealed.
    sealed_before: Option<Hour>,
    /// Every hour of a customer before it is sealed for them (they unsubscribed).
    customer_seals: BTreeMap<Customer, Hour>,
    /// Usage of hours not sealed yet, per key and hour.
    open: BTreeMap<(UsageKey, Hour), Open>,
    /// Each key's kind, as its first usage gave it.
    kinds: BTreeMap<UsageKey, Kind>,
    /// Identifiers of distinct keys seen in open hours.
    identifiers: BTreeMap<(UsageKey, Hour), BTreeSet<Identifier>>,
    /// Level changes of level keys not integrated yet, and the last one before that.
    levels: BTreeMap<UsageKey, BTreeMap<Timestamp, Quantity>>,
    /// Per level key, every hour before this one is integrated into open usage.
    level_until: BTreeMap<UsageKey, Hour>,
    records: BTreeMap<RecordId, Entry>,
    set_aside: BTreeMap<SetAsideId, SetAside>,
    next_id: i64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Open {
    quantity: Quantity,
    late: Quantity,
}

/// A sealed record and its lease.
#[derive(Debug)]
struct Entry {
    stored: StoredRecord,
    next_attempt_at: Timestamp,
    lease: Option<(String, Timestamp)>,
}

impl State {
    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// The kind `key` was stored with (a sum until its first usage).
    fn kind_of(&self, key: &UsageKey) -> Kind {
        self.kinds.get(key).copied().unwrap_or(Kind::Sum)
    }

    fn sealed_for(&self, customer: &Customer) -> Option<Hour> {
        later(
            self.sealed_before,
            self.customer_seals.get(customer).copied(),
        )
    }

    fn put_aside(
        &mut self,
        key: &UsageKey,
        hour: Hour,
        quantity: Quantity,
        reason: String,
        at: Timestamp,
    ) {
        let id = SetAsideId(self.next_id());
        let mut entry = SetAside::new(id, key.clone(), hour, quantity, reason, at);
        entry.kind = self.kind_of(key);
        self.set_aside.insert(id, entry);
    }

    /// Adds `quantity` (late or not) to a key's open hour; false, changing nothing, when the
    /// hour's total would exceed the largest quantity.
    fn add_open(&mut self, key: &UsageKey, hour: Hour, quantity: Quantity, late: bool) -> bool {
        let row = self.open.entry((key.clone(), hour)).or_default();
        let Some(total) = row.quantity.checked_add(quantity) else {
            return false;
        };
        row.quantity = total;
        if late {
            row.late = row.late.checked_add(quantity).unwrap_or(Quantity::MAX);
        }
        true
    }

    fn commit(&mut self, checkpoint: &Checkpoint, now: Timestamp) -> CommitReport {
        let mut report = CommitReport::default();
        if self
            .instances
            .get(&checkpoint.instance)
            .is_some_and(|&last| checkpoint.number <= last)
        {
            return report;
        }
        self.instances
            .insert(checkpoint.instance, checkpoint.number);
        report.applied = true;
        for delta in &checkpoint.deltas {
            let key = &delta.key;
            let kind = *self
                .kinds
                .entry(UsageKey::clone(key))
                .or_insert(delta.usage.kind());
            let sealed = self.sealed_for(key.customer());
            for step in commit_usage(&delta.usage, kind, delta.hour, sealed) {
                let aside = match step {
                    Commit::Sum {
                        hour,
                        quantity,
                        late,
                    } => {
                        let added = self.add_open(key, hour, quantity, late);
                        report.late += usize::from(late);
                        (!added).then(|| (quantity, overflow_reason()))
                    }
                    Commit::Max { hour, quantity } => {
                        let open = self.open.entry((UsageKey::clone(key), hour)).or_default();
                        open.quantity = open.quantity.max(quantity);
                        None
                    }
                    Commit::Distinct { hour, ids } => {
                        // The open row, of 0 until sealing counts the identifiers in.
                        self.add_open(key, hour, Quantity::ZERO, false);
                        let seen = self.identifiers.entry((UsageKey::clone(key), hour));
                        seen.or_default().extend(ids.iter().copied());
                        None
                    }
                    Commit::Level {
                        changes,
                        integrate_from,
                    } => {
                        let levels = self.levels.entry(UsageKey::clone(key)).or_default();
                        for change in changes {
                            let level = levels.entry(change.at).or_default();
                            *level = (*level).max(change.level);
                        }
                        if let Some(open) = integrate_from {
                            let until = self.level_until.entry(UsageKey::clone(key));
                            let until = until.or_insert(open);
                            *until = (*until).max(open);
                        }
                        None
                    }
                    Commit::SetAside { quantity, reason } => Some((quantity, reason)),
                };
                if let Some((quantity, reason)) = aside {
                    self.put_aside(key, delta.hour, quantity, reason, now);
                    report.set_aside += 1;
                }
            }
        }
        report
    }

    /// Counts identifiers and integrates levels of hours before `before` (of one customer's
    /// keys when given) into open usage.
    fn close_kinds(
        &mut self,
        before: Hour,
        customer: Option<&Customer>,
        now: Timestamp,
        report: &mut SealReport,
    ) {
        let ours = |key: &UsageKey| customer.is_none_or(|c| key.customer() == c);
        let counted: Vec<(UsageKey, Hour)> = self
            .identifiers
            .keys()
            .filter(|(key, hour)| *hour < before && ours(key))
            .cloned()
            .collect();
        for (key, hour) in counted {
            let ids = self
                .identifiers
                .remove(&(key.clone(), hour))
                .unwrap_or_default();
            let count = Quantity::new(ids.len() as u64).unwrap_or(Quantity::MAX);
            self.add_open(&key, hour, count, false);
        }
        let levels: Vec<UsageKey> = self.levels.keys().filter(|k| ours(k)).cloned().collect();
        for key in levels {
            let from = self.level_until.get(&key).copied();
            if from.is_some_and(|from| from >= before) {
                continue;
            }
            let held = self.levels.entry(key.clone()).or_default();
            let changes: Vec<LevelChange> = held
                .range(..before.start())
                .map(|(&at, &level)| LevelChange { at, level })
                .collect();
            if let Some(last) = changes.last() {
                held.retain(|&at, _| at >= last.at);
            }
            for (hour, quantity) in level_hours(&changes, from, before) {
                if !self.add_open(&key, hour, quantity, false) {
                    self.put_aside(&key, hour, quantity, overflow_reason(), now);
                    report.set_aside += 1;
                }
            }
            self.level_until.insert(key, before);
        }
    }

    /// Seals the open usage of hours before `before` (of one customer's keys when given).
    fn seal(&mut self, before: Hour, customer: Option<&Customer>, now: Timestamp) -> SealReport {
        let mut report = SealReport::default();
        self.close_kinds(before, customer, now, &mut report);
        let closing: Vec<(UsageKey, Hour)> = self
            .open
            .keys()
            .filter(|(key, hour)| *hour < before && customer.is_none_or(|c| key.customer() == c))
            .cloned()
            .collect();
        // One record per customer, dimension and hour, in the order SQL stores seal them.
        let mut groups: BTreeMap<_, Vec<(UsageKey, Hour, Open)>> = BTreeMap::new();
        for (key, hour) in closing {
            let open = self.open.remove(&(key.clone(), hour)).unwrap_or_default();
            let columns = key
                .customer()
                .wire_fields()
                .named()
                .map(|(_, v)| v.unwrap_or_default().to_owned());
            groups
                .entry((columns, key.dimension().clone(), hour))
                .or_default()
                .push((key, hour, open));
        }
        let first_new = self.next_id + 1;
        for ((_, dimension, hour), rows) in groups {
            let customer = rows[0].0.customer().clone();
            let usage = rows
                .iter()
                .map(|(key, _, open)| (key.tags().cloned(), open.quantity));
            let record = seal_record(customer, dimension, hour, usage);
            let taken = self.records.values().any(|entry| {
                record
                    .as_ref()
                    .is_ok_and(|record| entry.stored.record.key() == record.key())
            });
            match record {
                Ok(record) if !taken => {
                    let id = RecordId(self.next_id());
                    let mut stored = StoredRecord::new(id, record, RecordState::Unsent);
                    stored.late = Quantity::checked_sum(rows.iter().map(|(_, _, open)| open.late))
                        .unwrap_or(Quantity::MAX);
                    stored.kind = self.kind_of(&rows[0].0);
                    self.records.insert(
                        id,
                        Entry {
                            stored,
                            next_attempt_at: now,
                            lease: None,
                        },
                    );
                    report.sealed += 1;
                }
                record => {
                    let reason = unsealable_reason(record.err().as_deref());
                    for (key, hour, open) in rows {
                        self.put_aside(&key, hour, open.quantity, reason.clone(), now);
                        report.set_aside += 1;
                    }
                }
            }
        }
        report.quarantined += self.quarantine_double_billing(first_new);
        report
    }

    /// Quarantines both records of an account billed under a product and under a licence
    /// in one hour, when one of them is new (its id from `first_new` on).
    fn quarantine_double_billing(&mut self, first_new: i64) -> usize {
        let pairs: Vec<(RecordId, RecordId)> = self
            .records
            .values()
            .flat_map(|a| self.records.values().map(move |b| (a, b)))
            .filter(|(a, b)| {
                let (a, b) = (&a.stored, &b.stored);
                a.id < b.id
                    && (a.id.0 >= first_new || b.id.0 >= first_new)
                    && a.record.timestamp() == b.record.timestamp()
                    && bills_twice(a.record.customer(), b.record.customer())
            })
            .map(|(a, b)| (a.stored.id, b.stored.id))
            .collect();
        let mut quarantined = 0;
        for (a, b) in pairs {
            let [by_product, licensed] = if matches!(
                self.records[&a].stored.record.customer(),
                Customer::Licensed { .. }
            ) {
                [b, a]
            } else {
                [a, b]
            };
            let (product, licence) = (
                &self.records[&by_product].stored.record,
                &self.records[&licensed].stored.record,
            );
            let Customer::Licensed { account, license } = licence.customer() else {
                continue;
            };
            let code = product.customer().product().map(ToString::to_string);
            let reason = double_billing_reason(
                account.as_str(),
                &code.unwrap_or_default(),
                license.as_str(),
                Hour::of(product.timestamp()),
            );
            for id in [by_product, licensed] {
                let entry = self.records.get_mut(&id).expect("a record of the pair");
                if entry.stored.state == RecordState::Unsent {
                    entry.stored.state = RecordState::Quarantined;
                    entry.stored.detail = Some(reason.clone());
                    quarantined += 1;
                }
            }
        }
        quarantined
    }

    fn claim(&mut self, owner: &str, now: Timestamp, lease: Duration) -> Option<Claim> {
        let claimable = |entry: &Entry| {
            is_claimable(
                entry.stored.state,
                entry.next_attempt_at,
                entry.lease.as_ref().map(|l| l.1),
                now,
            )
        };
        let mut sendable: Vec<&Entry> = self.records.values().filter(|e| claimable(e)).collect();
        sendable.sort_by_key(|entry| (entry.stored.record.timestamp(), entry.stored.id));
        let scope = sendable.first()?.stored.record.customer().scope();
        let ids: Vec<RecordId> = sendable
            .into_iter()
            .filter(|entry| entry.stored.record.customer().scope() == scope)
            .take(CLAIM_SIZE)
            .map(|entry| entry.stored.id)
            .collect();
        let expires = now.saturating_add(lease);
        let records = self
            .records
            .values_mut()
            .filter(|entry| ids.contains(&entry.stored.id))
            .map(|entry| {
                entry.stored.state = RecordState::Leased;
                entry.stored.attempt += 1;
                entry.lease = Some((owner.to_owned(), expires));
                ClaimedRecord {
                    id: entry.stored.id,
                    attempt: entry.stored.attempt,
                    record: entry.stored.record.clone(),
                }
            })
            .collect::<Vec<_>>();
        // Oldest hour first, as claimed.
        let mut records = records;
        records.sort_by_key(|claimed| (claimed.record.timestamp(), claimed.id));
        Some(Claim {
            owner: owner.to_owned(),
            expires,
            scope,
            records,
        })
    }

    fn settle(&mut self, claim: &Claim, outcomes: &[(RecordId, Settlement)]) -> SettleReport {
        let mut report = SettleReport::default();
        for (id, settlement) in outcomes {
            let held = claim
                .records
                .iter()
                .find(|r| r.id == *id)
                .and_then(|claimed| {
                    self.records.get_mut(id).filter(|entry| {
                        entry.stored.state == RecordState::Leased
                            && entry.stored.attempt == claimed.attempt
                            && entry
                                .lease
                                .as_ref()
                                .is_some_and(|(owner, _)| *owner == claim.owner)
                    })
                });
            let Some(entry) = held else {
                report.fenced += 1;
                continue;
            };
            let (state, record_id, detail, retry_at) = settled(settlement);
            entry.stored.state = state;
            entry.stored.metering_record_id = record_id.map(str::to_owned);
            entry.stored.detail = detail.map(str::to_owned);
            entry.next_attempt_at = retry_at.unwrap_or(entry.next_attempt_at);
            entry.lease = None;
            report.settled += 1;
        }
        report
    }

    fn status(&self) -> LedgerStatus {
        let mut status = LedgerStatus::new();
        for entry in self.records.values() {
            status.add(entry.stored.state, 1);
        }
        status.open_keys = self.open.len() as u64;
        status.set_aside = self.set_aside.len() as u64;
        status.oldest_unsent_hour = self
            .records
            .values()
            .filter(|entry| !entry.stored.state.is_terminal())
            .map(|entry| Hour::of(entry.stored.record.timestamp()))
            .min();
        status.sealed_before = self.sealed_before;
        status
    }

    fn sorted(&self, state: Option<RecordState>) -> Vec<StoredRecord> {
        let mut records: Vec<StoredRecord> = self
            .records
            .values()
            .filter(|entry| state.is_none_or(|state| entry.stored.state == state))
            .map(|entry| entry.stored.clone())
            .collect();
        records.sort_by_key(|stored| (stored.record.timestamp(), stored.id));
        records
    }

    fn unsettled(&self) -> Vec<HourStatus> {
        let mut hours: BTreeMap<Hour, HourStatus> = BTreeMap::new();
        for entry in self.records.values() {
            if !entry.stored.state.is_terminal() {
                let hour = Hour::of(entry.stored.record.timestamp());
                hours
                    .entry(hour)
                    .or_insert_with(|| HourStatus::new(hour))
                    .add(entry.stored.state, 1);
            }
        }
        hours.into_values().collect()
    }

    fn hours(&self, since: Hour) -> Vec<HourStatus> {
        let unsettled: Vec<Hour> = self
            .records
            .values()
            .filter(|entry| !entry.stored.state.is_terminal())
            .map(|entry| Hour::of(entry.stored.record.timestamp()))
            .collect();
        let mut hours: BTreeMap<Hour, HourStatus> = BTreeMap::new();
        for entry in self.records.values() {
            let hour = Hour::of(entry.stored.record.timestamp());
            if hour >= since || unsettled.contains(&hour) {
                hours
                    .entry(hour)
                    .or_insert_with(|| HourStatus::new(hour))
                    .add(entry.stored.state, 1);
            }
        }
        hours.into_values().collect()
    }

    fn requeue_set_aside(&mut self, id: SetAsideId, now: Timestamp) -> SetAsideRequeue {
        let Some(entry) = self.set_aside.get(&id).cloned() else {
            return SetAsideRequeue::NotFound;
        };
        let hour = requeue_hour(now, self.sealed_for(entry.key.customer()));
        if !self.add_open(&entry.key, hour, entry.quantity, true) {
            return SetAsideRequeue::TooLarge;
        }
        self.set_aside.remove(&id);
        SetAsideRequeue::Requeued { hour }
    }
}

impl Ledger for MemoryLedger {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.commit(checkpoint, now))) })
    }

    fn seal(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(async move {
            Ok(self.with(|state| {
                let before = seal_watermark(until, state.sealed_before);
                let report = state.seal(before, None, now);
                state.sealed_before = Some(before);
                report
            }))
        })
    }

    fn seal_customer<'a>(
        &'a self,
        customer: &'a Customer,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        Box::pin(async move {
            Ok(self.with(|state| {
                let before = customer_seal(now);
                let report = state.seal(before, Some(customer), now);
                let seal = state
                    .customer_seals
                    .entry(customer.clone())
                    .or_insert(before);
                *seal = (*seal).max(before);
                report
            }))
        })
    }

    fn claim<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.claim(owner, now, lease))) })
    }

    fn settle<'a>(
        &'a self,
        claim: &'a Claim,
        outcomes: &'a [(RecordId, Settlement)],
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.settle(claim, outcomes))) })
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.status())) })
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.unsettled())) })
    }
}

impl LedgerInspection for MemoryLedger {
    fn records(
        &self,
        state: Option<RecordState>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, LedgerError>> {
        Box::pin(async move { Ok(self.with(|ledger| ledger.sorted(state))) })
    }

    fn set_aside(&self) -> BoxFuture<'_, Result<Vec<SetAside>, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.set_aside.values().cloned().collect())) })
    }

    fn requeue(&self, id: RecordId, now: Timestamp) -> BoxFuture<'_, Result<bool, LedgerError>> {
        Box::pin(async move {
            Ok(self.with(|state| {
                let Some(entry) = state
                    .records
                    .get_mut(&id)
                    .filter(|entry| entry.stored.state == RecordState::Quarantined)
                else {
                    return false;
                };
                entry.stored.state = RecordState::Unsent;
                entry.next_attempt_at = now;
                true
            }))
        })
    }

    fn record(&self, id: RecordId) -> BoxFuture<'_, Result<Option<StoredRecord>, LedgerError>> {
        Box::pin(async move {
            Ok(self.with(|state| state.records.get(&id).map(|entry| entry.stored.clone())))
        })
    }

    fn hours(&self, since: Hour) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.hours(since))) })
    }

    fn requeue_set_aside(
        &self,
        id: SetAsideId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<SetAsideRequeue, LedgerError>> {
        Box::pin(async move { Ok(self.with(|state| state.requeue_set_aside(id, now))) })
    }

    fn levels(&self) -> BoxFuture<'_, Result<Vec<LevelHeld>, LedgerError>> {
        Box::pin(async move {
            Ok(self.with(|state| {
                let last = |(key, changes): (&UsageKey, &BTreeMap<Timestamp, Quantity>)| {
                    let (&since, &level) = changes.last_key_value()?;
                    (!level.is_zero()).then(|| LevelHeld::new(key.clone(), level, since))
                };
                state.levels.iter().filter_map(last).collect()
            }))
        })
    }
}
