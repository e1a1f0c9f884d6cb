//! Folded writes: the changes of a batch whose writes are counters (`ADD` of a number) and
//! last-state-wins puts and deletes, committed in as few transactions as DynamoDB's rules
//! allow. The changes of one item need one guard (refused unless the guard is below the
//! first of them, recording the last); the counters of many changes to one target merge
//! into one `ADD`; of the puts and deletes of one target, the last in stream order is the
//! one written.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::Serialize;

use super::error::WriteError;
use super::guard::ExactlyOnce;
use super::guard_item::LAST_SEQ;
use super::limits::{self, item_size, key_text, MAX_TRANSACTION_ACTIONS, MAX_TRANSACTION_BYTES};
use super::transact::{Outcome, Reason};
use super::twin::Attributes;
use crate::change::Change;
use crate::error::BoxError;
use crate::handler::BatchFailure;

/// The folded writes of one change: counters it moves and items it leaves in a state.
/// Build one per change in [`ExactlyOnce::fold`]'s closure.
///
/// ```
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use ddbstream::dynamodb::Fold;
///
/// let post = [("pk", AttributeValue::S("post#1".into()))];
/// let fold = Fold::new().add("PostStats", post, "like_count", 1);
/// # let _ = fold;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Fold {
    writes: Vec<FoldWrite>,
}

#[derive(Clone, Debug)]
enum FoldWrite {
    Add { table: String, key: Attributes, attribute: String, delta: i128 },
    Put { table: String, item: Attributes },
    Delete { table: String, key: Attributes },
}

impl Fold {
    /// No writes yet (a change that writes nothing still counts as applied).
    pub fn new() -> Self {
        Self::default()
    }

    /// `ADD delta` to the number `attribute` of the item with `key` in `table` (created at
    /// `delta` if absent). The deltas of every change of a batch to one item merge.
    pub fn add<N: Into<String>>(
        mut self,
        table: &str,
        key: impl IntoIterator<Item = (N, AttributeValue)>,
        attribute: &str,
        delta: i64,
    ) -> Self {
        let key = key.into_iter().map(|(name, value)| (name.into(), value)).collect();
        self.writes.push(FoldWrite::Add {
            table: table.to_owned(),
            key,
            attribute: attribute.to_owned(),
            delta: i128::from(delta),
        });
        self
    }

    /// Puts `item` into `table`; of the puts and deletes of one item in a batch, the last
    /// in stream order is written. The table's key must be declared with
    /// [`ExactlyOnce::key_schema`], so that puts of one item are known as such.
    pub fn put(mut self, table: &str, item: HashMap<String, AttributeValue>) -> Self {
        self.writes.push(FoldWrite::Put { table: table.to_owned(), item });
        self
    }

    /// Deletes the item with `key` from `table`; last in stream order wins, as for [`put`](Self::put).
    pub fn delete<N: Into<String>>(mut self, table: &str, key: impl IntoIterator<Item = (N, AttributeValue)>) -> Self {
        let key = key.into_iter().map(|(name, value)| (name.into(), value)).collect();
        self.writes.push(FoldWrite::Delete { table: table.to_owned(), key });
        self
    }

    /// The same writes as a change of its own would make them with
    /// [`ExactlyOnce::apply`].
    fn into_writes(self) -> Result<Vec<TransactWriteItem>, WriteError> {
        let mut writes = Vec::with_capacity(self.writes.len());
        for write in self.writes {
            writes.extend(Merged::from(write, 0).write()?);
        }
        Ok(writes)
    }
}

/// What [`ExactlyOnce::fold`] did with a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// Changes whose writes were made.
    pub written: usize,
    /// Changes this consumer had applied before (redeliveries): nothing written for them.
    pub already_applied: usize,
    /// `TransactWriteItems` calls that committed.
    pub transactions: usize,
}

/// One change to fold: where it is in the batch, its guard key and sequence number, its writes.
struct Entry {
    index: usize,
    key: String,
    seq: String,
    writes: Vec<(String, String, FoldWrite)>,
}

/// A target's writes merged.
#[derive(Debug)]
enum Merged {
    Add {
        table: String,
        key: Attributes,
        deltas: BTreeMap<String, i128>,
    },
    /// The last put or delete, by the position in the batch of the change that made it.
    Last {
        position: usize,
        write: FoldWrite,
    },
}

impl Merged {
    fn from(write: FoldWrite, position: usize) -> Self {
        match write {
            FoldWrite::Add { table, key, attribute, delta } => {
                Self::Add { table, key, deltas: BTreeMap::from([(attribute, delta)]) }
            }
            last => Self::Last { position, write: last },
        }
    }

    /// Folds `write` in; `false` when the two cannot be one action (a counter and a put).
    fn absorb(&mut self, write: &FoldWrite, position: usize) -> bool {
        match (self, write) {
            (Self::Add { deltas, .. }, FoldWrite::Add { attribute, delta, .. }) => {
                *deltas.entry(attribute.clone()).or_default() += delta;
                true
            }
            (Self::Last { position: at, write: last }, FoldWrite::Put { .. } | FoldWrite::Delete { .. }) => {
                if position >= *at {
                    *at = position;
                    *last = write.clone();
                }
                true
            }
            _ => false,
        }
    }

    fn bytes(write: &FoldWrite) -> usize {
        match write {
            FoldWrite::Add { key, attribute, .. } => item_size(key) + attribute.len() + 21,
            FoldWrite::Put { item, .. } => item_size(item),
            FoldWrite::Delete { key, .. } => item_size(key),
        }
    }

    fn write(&self) -> Result<Option<TransactWriteItem>, WriteError> {
        let built = |err: aws_sdk_dynamodb::error::BuildError| WriteError::sdk("building a folded write", &err);
        let action = match self {
            Self::Add { table, key, deltas } => {
                let deltas: Vec<(&String, &i128)> = deltas.iter().filter(|(_, delta)| **delta != 0).collect();
                if deltas.is_empty() {
                    return Ok(None);
                }
                let mut update = Update::builder().table_name(table).set_key(Some(key.clone()));
                let mut clauses = Vec::with_capacity(deltas.len());
                for (position, (attribute, delta)) in deltas.into_iter().enumerate() {
                    clauses.push(format!("#a{position} :a{position}"));
                    update = update
                        .expression_attribute_names(format!("#a{position}"), attribute)
                        .expression_attribute_values(format!(":a{position}"), AttributeValue::N(delta.to_string()));
                }
                let update = update.update_expression(format!("ADD {}", clauses.join(", "))).build().map_err(built)?;
                TransactWriteItem::builder().update(update).build()
            }
            Self::Last { write: FoldWrite::Put { table, item }, .. } => {
                let put = Put::builder().table_name(table).set_item(Some(item.clone())).build().map_err(built)?;
                TransactWriteItem::builder().put(put).build()
            }
            Self::Last { write: FoldWrite::Delete { table, key }, .. } => {
                let delete = Delete::builder().table_name(table).set_key(Some(key.clone())).build().map_err(built)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            Self::Last { write: FoldWrite::Add { .. }, .. } => return Ok(None),
        };
        Ok(Some(action))
    }
}

/// The merged writes of a transaction, by target.
#[derive(Default)]
struct Merge {
    targets: BTreeMap<(String, String), Merged>,
}

impl Merge {
    fn writes(&self) -> Result<Vec<TransactWriteItem>, WriteError> {
        let mut writes = Vec::with_capacity(self.targets.len());
        for merged in self.targets.values() {
            writes.extend(merged.write()?);
        }
        Ok(writes)
    }
}

/// One item's changes in a transaction, under one guard: all its changes in the batch,
/// unless one of them writes a target in a way the earlier ones' writes cannot merge with
/// (a counter and a put of one item), which starts the item's next unit, in a later
/// transaction.
struct Unit<'a> {
    key: &'a str,
    first: &'a str,
    last: &'a str,
    changes: Vec<&'a Entry>,
    /// Changes not newer than one before them of the same item (a repeat in the batch).
    repeats: Vec<usize>,
    /// What each target of its writes takes: a counter or a last state.
    kinds: HashMap<(&'a str, &'a str), bool>,
}

impl<'a> Unit<'a> {
    fn new(entry: &'a Entry) -> Self {
        let mut unit = Self {
            key: &entry.key,
            first: &entry.seq,
            last: &entry.seq,
            changes: Vec::new(),
            repeats: Vec::new(),
            kinds: HashMap::new(),
        };
        unit.push(entry);
        unit
    }

    /// Whether `entry`'s writes merge with this unit's.
    fn accepts(&self, entry: &Entry) -> bool {
        entry.writes.iter().all(|(table, key, write)| {
            self.kinds.get(&(table.as_str(), key.as_str())).is_none_or(|add| *add == is_add(write))
        })
    }

    fn push(&mut self, entry: &'a Entry) {
        for (table, key, write) in &entry.writes {
            self.kinds.insert((table, key), is_add(write));
        }
        self.last = &entry.seq;
        self.changes.push(entry);
    }

    fn first_index(&self) -> usize {
        self.changes.first().map_or(usize::MAX, |entry| entry.index)
    }
}

fn is_add(write: &FoldWrite) -> bool {
    matches!(write, FoldWrite::Add { .. })
}

/// One transaction being planned: its guards and its merged writes.
#[derive(Default)]
struct Plan<'a> {
    units: Vec<Unit<'a>>,
    merge: Merge,
    bytes: usize,
}

impl Plan<'_> {
    fn actions(&self) -> usize {
        self.units.len() + self.merge.targets.len()
    }

    /// The first change in it, by position in the batch.
    fn first(&self) -> Option<usize> {
        self.units.iter().map(Unit::first_index).min().filter(|first| *first != usize::MAX)
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.units.iter().flat_map(|unit| unit.changes.iter().map(|entry| entry.index))
    }

    fn repeats(&self) -> usize {
        self.units.iter().map(|unit| unit.repeats.len()).sum()
    }
}

impl<'a> Plan<'a> {
    /// Whether `unit` fits: its item not yet in, its targets mergeable, within 100 actions
    /// and 4 MB. An empty plan takes any unit (the rules then judge it alone).
    fn fits(&self, unit: &Unit<'_>, guard_bytes: usize) -> bool {
        if self.units.is_empty() {
            return true;
        }
        // Two units of one item never meet here: an item's next unit starts where a write of
        // it cannot merge with the earlier unit's, which this plan then holds.
        let mut new_targets = 0;
        for ((table, key), add) in &unit.kinds {
            match self.merge.targets.get(&((*table).to_owned(), (*key).to_owned())) {
                Some(Merged::Add { .. }) if *add => {}
                Some(Merged::Last { .. }) if !*add => {}
                Some(_) => return false,
                None => new_targets += 1,
            }
        }
        let bytes = guard_bytes + unit_bytes(unit);
        self.actions() + 1 + new_targets <= MAX_TRANSACTION_ACTIONS && self.bytes + bytes <= MAX_TRANSACTION_BYTES
    }

    /// Adds `unit`, merging its writes into the plan's.
    fn add(&mut self, unit: Unit<'a>, guard_bytes: usize) {
        self.bytes += guard_bytes + unit_bytes(&unit);
        for entry in &unit.changes {
            for (table, key, write) in &entry.writes {
                let target = (table.clone(), key.clone());
                match self.merge.targets.get_mut(&target) {
                    Some(merged) => {
                        merged.absorb(write, entry.index);
                    }
                    None => {
                        self.merge.targets.insert(target, Merged::from(write.clone(), entry.index));
                    }
                }
            }
        }
        self.units.push(unit);
    }
}

/// The bytes a unit's writes may carry (each write counted, merged or not: an upper bound).
fn unit_bytes(unit: &Unit<'_>) -> usize {
    unit.changes.iter().flat_map(|entry| &entry.writes).map(|(_, _, write)| Merged::bytes(write)).sum()
}

/// How many times one transaction of a fold is planned again after guards refused part of it.
const REPLANS: usize = 8;

impl ExactlyOnce {
    /// Applies a batch's folded writes, each change exactly once, in stream order per item,
    /// in as few transactions as DynamoDB's rules allow (100 actions, 4 MB, no item twice):
    /// `fold` says what each change writes (a [`Fold`]), the changes of one item share one
    /// guard, counters to one target merge into one `ADD`, and of one target's puts and
    /// deletes the last is written. 1,000 changes of one item are one transaction; 1,000
    /// likes of one post (a guard per like) are 11.
    ///
    /// Call it from a batch handler (`batch(...)`), with the changes as received: the
    /// answer is the handler's answer. On a failure (`fold` returned an error, or a
    /// transaction could not be made), the error names the first change not applied;
    /// those before it are applied, and a redelivery of any of them applies nothing twice.
    /// A change whose guard holds it or a newer change of its item is counted as
    /// [`already_applied`](Folded::already_applied) and writes nothing.
    ///
    /// Changes through Kinesis are applied one by one with [`apply`](Self::apply) (their
    /// guards order by creation time, which folding cannot merge).
    ///
    /// # AWS permissions
    ///
    /// Beyond [`ExactlyOnce`]'s (the guards' `dynamodb:PutItem` on the guard table, inside
    /// `TransactWriteItems`): a fold's writes are made inside the same `TransactWriteItems`,
    /// each needing its action on its table: [`Fold::add`] is an `Update`
    /// (`dynamodb:UpdateItem`), [`Fold::put`] a `Put` (`dynamodb:PutItem`), [`Fold::delete`]
    /// a `Delete` (`dynamodb:DeleteItem`). When a guard refuses and DynamoDB's answer does not
    /// carry it (it asks for it with `ReturnValuesOnConditionCheckFailure`), the guard is
    /// read with `dynamodb:GetItem` on the guard table, a call of its own, outside any
    /// transaction. Changes through Kinesis need what [`apply`](Self::apply) needs for them.
    ///
    /// ```no_run
    /// use aws_sdk_dynamodb::types::AttributeValue;
    /// use ddbstream::dynamodb::{ExactlyOnce, Fold};
    /// use ddbstream::{BatchFailure, Change, EventName, Item, State};
    ///
    /// async fn likes(State(once): State<ExactlyOnce>, changes: Vec<Change<Item>>) -> Result<(), BatchFailure> {
    ///     once.fold(&changes, |change| {
    ///         let delta = match change.event_name() {
    ///             EventName::Insert => 1,
    ///             EventName::Remove => -1,
    ///             EventName::Modify => return Ok(Fold::new()),
    ///         };
    ///         let post = change.keys.get("pk").cloned().ok_or("a like without pk")?;
    ///         Ok(Fold::new().add("PostStats", [("pk", post.into())], "like_count", delta))
    ///     })
    ///     .await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn fold<T, K: Serialize>(
        &self,
        changes: &[Change<T, K>],
        mut fold: impl FnMut(&Change<T, K>) -> Result<Fold, BoxError>,
    ) -> Result<Folded, BatchFailure> {
        if changes.iter().any(|change| change.meta.via_kinesis()) {
            return self.fold_one_by_one(changes, fold).await;
        }
        let mut entries = Vec::with_capacity(changes.len());
        let mut stop = None;
        for (index, change) in changes.iter().enumerate() {
            match self.entry(index, change, &mut fold) {
                Ok(entry) => entries.push(entry),
                Err(error) => {
                    stop = Some(BatchFailure::at(index, error));
                    break;
                }
            }
        }
        let mut folded = Folded::default();
        let mut plans = plan(entries.iter(), self.guard_bytes());
        let (mut at, mut replans) = (0, 0);
        while let Some(current) = plans.get(at) {
            let applied_before = match self.commit(current, changes, &mut folded).await {
                Ok(None) => {
                    (at, replans) = (at + 1, 0);
                    continue;
                }
                Ok(Some(applied_before)) => applied_before,
                Err(failure) => return Err(earliest(failure, stop)),
            };
            replans += 1;
            let first = current.first().unwrap_or(0);
            if replans > REPLANS {
                let error = WriteError::new("the guards of a folded transaction kept changing: retried later");
                return Err(earliest(BatchFailure::at(first, error), stop));
            }
            // Guards refused part of it: the rest is planned again in its place.
            let mine: HashSet<usize> =
                current.positions().chain(current.units.iter().flat_map(|unit| unit.repeats.iter().copied())).collect();
            let again =
                entries.iter().filter(|entry| mine.contains(&entry.index) && !applied_before.contains(&entry.index));
            let replanned = plan(again, self.guard_bytes());
            if replanned.is_empty() {
                // All of it was applied before: the next plan takes its place.
                replans = 0;
            }
            plans.splice(at..=at, replanned);
        }
        match stop {
            Some(failure) => Err(failure),
            None => Ok(folded),
        }
    }

    /// A change's entry: its guard key, sequence number and writes.
    fn entry<T, K: Serialize>(
        &self,
        index: usize,
        change: &Change<T, K>,
        fold: &mut impl FnMut(&Change<T, K>) -> Result<Fold, BoxError>,
    ) -> Result<Entry, BoxError> {
        let key = self.guard_key(change)?;
        let seq = change.sequence_number().sortable().ok_or_else(|| {
            WriteError::new(format!(
                "sequence number {} is not a number of at most 40 digits: it cannot guard a write",
                change.sequence_number()
            ))
        })?;
        let mut writes = Vec::new();
        for write in fold(change)?.writes {
            let (table, key) = match &write {
                FoldWrite::Add { table, key, .. } | FoldWrite::Delete { table, key } => {
                    let names: Vec<String> = key.keys().cloned().collect();
                    (table.clone(), key_text(&names, key))
                }
                FoldWrite::Put { table, item } => {
                    let names = self.schemas.key_attributes(table).ok_or_else(|| {
                        WriteError::new(format!(
                            "a folded put into {table} needs the table's key, to know puts of one item: declare it \
                             with .key_schema(\"{table}\", [...])"
                        ))
                    })?;
                    (table.clone(), key_text(names, item))
                }
            };
            writes.push((table, key, write));
        }
        Ok(Entry { index, key, seq, writes })
    }

    /// The bytes a guard carries (its key, its sequence number).
    fn guard_bytes(&self) -> usize {
        item_size(&self.key_attributes("")) + LAST_SEQ.len() + 40 + 200
    }

    /// Commits one planned transaction. `Ok(None)` when it is done; `Ok(Some(..))` when
    /// guards refused: the changes found applied before (counted here), the rest to plan
    /// again. `Err` names the first change not applied.
    async fn commit<T, K>(
        &self,
        plan: &Plan<'_>,
        changes: &[Change<T, K>],
        folded: &mut Folded,
    ) -> Result<Option<HashSet<usize>>, BatchFailure> {
        let Some(first) = plan.first() else {
            folded.already_applied += plan.repeats();
            return Ok(None);
        };
        let fail = |error: WriteError| BatchFailure::at(first, error);
        let mut actions = Vec::with_capacity(plan.actions());
        for unit in &plan.units {
            actions.push(self.seq_guard(unit.key, unit.first, unit.last).map_err(fail)?);
        }
        let writes = plan.merge.writes().map_err(fail)?;
        actions.extend(writes.iter().cloned());
        limits::check(&actions, &self.schemas, false).map_err(fail)?;
        let guards = plan.units.len();
        let (reasons, olds) = match self.backend.send_retrying(actions, &self.schemas).await {
            Outcome::Committed => {
                let mut entries: Vec<(String, Vec<TransactWriteItem>)> =
                    plan.units.iter().map(|unit| (unit.key.to_owned(), Vec::new())).collect();
                if let Some(first) = entries.first_mut() {
                    first.1 = writes;
                }
                self.backend.record(entries);
                folded.written += plan.positions().count();
                folded.already_applied += plan.repeats();
                folded.transactions += 1;
                return Ok(None);
            }
            Outcome::Cancelled(reasons, olds)
                if reasons.iter().take(guards).any(|reason| *reason == Reason::ConditionFailed)
                    && reasons.iter().skip(guards).all(|reason| *reason == Reason::Fine) =>
            {
                (reasons, olds)
            }
            other => return Err(fail(WriteError::new(super::backend::describe(&other)))),
        };
        let mut applied_before = HashSet::new();
        for ((unit, reason), old) in plan.units.iter().zip(&reasons).zip(olds) {
            if *reason != Reason::ConditionFailed {
                continue;
            }
            // The guard as DynamoDB found it; read when the answer did not carry it.
            let guard = match old {
                Some(guard) => Some(guard),
                None => self.backend.get(&self.table, self.key_attributes(unit.key)).await.map_err(fail)?,
            };
            let last = match guard.as_ref().and_then(|item| item.get(LAST_SEQ)) {
                Some(AttributeValue::S(last)) => last.clone(),
                _ => String::new(),
            };
            applied_before.extend(unit.changes.iter().filter(|entry| entry.seq <= last).map(|entry| entry.index));
        }
        if applied_before.is_empty() {
            return Err(fail(WriteError::new("a guard refused changes newer than the one it holds")));
        }
        let table = changes.get(first).and_then(|change| change.meta.table_name.as_deref());
        tracing::info!(
            table = table.unwrap_or("?"),
            changes = applied_before.len(),
            "changes applied before (a redelivery): nothing written for them"
        );
        folded.already_applied += applied_before.len();
        Ok(Some(applied_before))
    }

    /// Changes through Kinesis: each applied alone.
    async fn fold_one_by_one<T, K: Serialize>(
        &self,
        changes: &[Change<T, K>],
        mut fold: impl FnMut(&Change<T, K>) -> Result<Fold, BoxError>,
    ) -> Result<Folded, BatchFailure> {
        let mut folded = Folded::default();
        for (index, change) in changes.iter().enumerate() {
            let writes = fold(change).and_then(|fold| fold.into_writes().map_err(BoxError::from));
            let writes = writes.map_err(|error| BatchFailure::at(index, error))?;
            match self.apply(change, writes).await {
                Ok(super::Applied::Written) => {
                    folded.written += 1;
                    folded.transactions += 1;
                }
                Ok(super::Applied::AlreadyApplied) => folded.already_applied += 1,
                Err(error) => return Err(BatchFailure::at(index, error)),
            }
        }
        Ok(folded)
    }
}

/// The earlier of two failures.
fn earliest(failure: BatchFailure, stop: Option<BatchFailure>) -> BatchFailure {
    match stop {
        Some(stop) if stop.index() < failure.index() => stop,
        _ => failure,
    }
}

/// The transactions of `entries`: each item's changes in one unit (split where a write
/// cannot merge), the units in the order of their first change, each transaction taking
/// the next units while they fit.
fn plan<'a>(entries: impl Iterator<Item = &'a Entry>, guard_bytes: usize) -> Vec<Plan<'a>> {
    let mut units: Vec<Unit<'a>> = Vec::new();
    let mut open: HashMap<&str, usize> = HashMap::new();
    for entry in entries {
        match open.get(entry.key.as_str()).copied() {
            Some(at) if units[at].last >= entry.seq.as_str() => units[at].repeats.push(entry.index),
            Some(at) if units[at].accepts(entry) => units[at].push(entry),
            _ => {
                open.insert(&entry.key, units.len());
                units.push(Unit::new(entry));
            }
        }
    }
    let mut plans = Vec::new();
    let mut current = Plan::default();
    for unit in units {
        if !current.fits(&unit, guard_bytes) {
            plans.push(std::mem::take(&mut current));
        }
        current.add(unit, guard_bytes);
    }
    if !current.units.is_empty() {
        plans.push(current);
    }
    plans
}
