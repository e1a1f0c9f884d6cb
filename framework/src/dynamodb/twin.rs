//! The in-memory twin of DynamoDB's transactions, as far as the guards need it: items by
//! key, the guard conditions judged as DynamoDB judges them, each refused transaction
//! cancelled with a reason per action, counters and puts applied so that a test can read
//! them back, and conflicts on demand (DynamoDB cancels concurrent transactions on one item
//! with `TransactionConflict`; a test tells the twin to do so every n-th transaction).
//!
//! Conditions of your own writes are not judged (the twin knows the guards' conditions
//! only): `tests/exactly_once.rs` holds those to DynamoDB (moto).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::guard_item::{SEQ_CONDITION, TIE_CONDITION, TIME_CONDITION};
use super::limits::{self, key_text, KeySchemas, Target};
use super::transact::{Outcome, Reason};

/// An item: attribute name to value.
pub(super) type Attributes = HashMap<String, AttributeValue>;

/// The twin's items, the writes it applied, and its conflict setting.
#[derive(Debug, Default)]
pub(super) struct Twin {
    items: HashMap<(String, String), Attributes>,
    applied: Vec<(String, Vec<TransactWriteItem>)>,
    transactions: u64,
    faults: TwinFaults,
    conflicts: u64,
    refusals: u64,
}

/// Faults the twin makes on demand, as DynamoDB and the network make them. Counted over
/// the transactions the twin receives (1 for the first); 0 means never.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TwinFaults {
    /// Every n-th transaction is cancelled with `TransactionConflict` (as DynamoDB cancels a
    /// transaction that meets another on one item).
    pub conflict_every: u64,
    /// Every n-th transaction is committed but its answer is lost (a connection reset after
    /// DynamoDB committed): the sender sees an error worth retrying.
    pub lost_answer_every: u64,
    /// Every transaction after the n-th fails, nothing written (the process or its network
    /// is gone: a crash between two transactions).
    pub fail_after: u64,
}

impl Twin {
    pub(super) fn set_faults(&mut self, faults: TwinFaults) {
        self.faults = faults;
    }

    /// How many transactions were cancelled with a conflict, on demand.
    pub(super) fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// How many transactions the twin refused by DynamoDB's rules (no item twice, sizes).
    pub(super) fn refusals(&self) -> u64 {
        self.refusals
    }

    /// How many transactions the twin received.
    pub(super) fn transactions(&self) -> u64 {
        self.transactions
    }

    pub(super) fn applied(&self) -> &[(String, Vec<TransactWriteItem>)] {
        &self.applied
    }

    pub(super) fn record(&mut self, key: String, writes: Vec<TransactWriteItem>) {
        self.applied.push((key, writes));
    }

    /// The item of `table` with `key`, as the applied writes left it.
    pub(super) fn item(&self, table: &str, key: &Attributes) -> Option<&Attributes> {
        let mut names: Vec<String> = key.keys().cloned().collect();
        names.sort_unstable();
        self.items.get(&(table.to_owned(), key_text(&names, key)))
    }

    /// Judges and applies one transaction, all of it or none.
    pub(super) fn transact(&mut self, actions: &[TransactWriteItem], schemas: &KeySchemas) -> Outcome {
        self.transactions += 1;
        let nth = |every: u64| every > 0 && self.transactions.is_multiple_of(every);
        if self.faults.fail_after > 0 && self.transactions > self.faults.fail_after {
            return Outcome::Failed(super::WriteError::new("the twin's injected failure: nothing written"));
        }
        if nth(self.faults.conflict_every) {
            self.conflicts += 1;
            let mut reasons = vec![Reason::Fine; actions.len()];
            if let Some(first) = reasons.first_mut() {
                *first = Reason::Conflict;
            }
            return Outcome::Cancelled(reasons, vec![None; actions.len()]);
        }
        if let Err(error) = limits::check(actions, schemas, false) {
            self.refusals += 1;
            return Outcome::Failed(super::WriteError::new(format!("ValidationException: {error}")));
        }
        let mut reasons = Vec::with_capacity(actions.len());
        let mut olds = Vec::with_capacity(actions.len());
        // The items, as the group tells them apart: a `Put` into a table whose key the twin
        // was not told is recorded, not stored.
        let keys: Vec<Option<(String, String)>> = limits::targets(actions, schemas)
            .into_iter()
            .map(|target| match target {
                Target::Item(table, key) => Some((table, key)),
                Target::AnyOf(_) => None,
            })
            .collect();
        for (action, key) in actions.iter().zip(&keys) {
            let Some(step) = Step::of(action) else {
                return Outcome::Failed(super::WriteError::new(
                    "a write is none of Put, Update, Delete or ConditionCheck",
                ));
            };
            let current = key.as_ref().and_then(|key| self.items.get(key));
            let passes = step.condition_holds(current);
            reasons.push(if passes { Reason::Fine } else { Reason::ConditionFailed });
            olds.push(current.filter(|_| !passes && step.wants_old).cloned());
        }
        if reasons.iter().any(|reason| *reason != Reason::Fine) {
            return Outcome::Cancelled(reasons, olds);
        }
        for (action, key) in actions.iter().zip(keys) {
            let (Some(step), Some(key)) = (Step::of(action), key) else { continue };
            step.apply(&mut self.items, key);
        }
        if nth(self.faults.lost_answer_every) {
            return Outcome::Busy(super::WriteError::new(
                "the twin's injected lost answer: the transaction was committed",
            ));
        }
        Outcome::Committed
    }
}

/// One action, as the twin reads it.
struct Step<'a> {
    /// The key (keyed actions) or the whole item (a `Put`).
    attributes: &'a Attributes,
    condition: Option<&'a str>,
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a Attributes>,
    change: Change<'a>,
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    wants_old: bool,
}

enum Change<'a> {
    Put,
    Update(&'a str),
    Delete,
    Check,
}

impl<'a> Step<'a> {
    fn of(action: &'a TransactWriteItem) -> Option<Self> {
        if let Some(put) = action.put() {
            return Some(Self {
                attributes: put.item(),
                condition: put.condition_expression(),
                names: put.expression_attribute_names(),
                values: put.expression_attribute_values(),
                change: Change::Put,
                wants_old: put.return_values_on_condition_check_failure()
                    == Some(&ReturnValuesOnConditionCheckFailure::AllOld),
            });
        }
        if let Some(update) = action.update() {
            return Some(Self {
                attributes: update.key(),
                condition: update.condition_expression(),
                names: update.expression_attribute_names(),
                values: update.expression_attribute_values(),
                change: Change::Update(update.update_expression()),
                wants_old: false,
            });
        }
        if let Some(delete) = action.delete() {
            return Some(Self {
                attributes: delete.key(),
                condition: delete.condition_expression(),
                names: delete.expression_attribute_names(),
                values: delete.expression_attribute_values(),
                change: Change::Delete,
                wants_old: false,
            });
        }
        let check = action.condition_check()?;
        Some(Self {
            attributes: check.key(),
            condition: Some(check.condition_expression()),
            names: check.expression_attribute_names(),
            values: check.expression_attribute_values(),
            change: Change::Check,
            wants_old: false,
        })
    }

    fn name(&self, placeholder: &str) -> String {
        self.names.and_then(|names| names.get(placeholder)).cloned().unwrap_or_else(|| placeholder.to_owned())
    }

    fn value(&self, placeholder: &str) -> Option<&'a AttributeValue> {
        self.values.and_then(|values| values.get(placeholder))
    }

    /// Whether the condition holds on the item as it is. The guards' conditions are judged;
    /// any other condition is taken to hold.
    fn condition_holds(&self, item: Option<&Attributes>) -> bool {
        let attribute = |placeholder: &str| item.and_then(|item| item.get(&self.name(placeholder)));
        let text = |value: Option<&AttributeValue>| value.and_then(|v| v.as_s().ok()).cloned();
        match self.condition {
            Some(SEQ_CONDITION) => match text(attribute("#last")) {
                None => true,
                Some(last) => text(self.value(":seq")).is_some_and(|seq| last < seq),
            },
            Some(TIME_CONDITION) => match text(attribute("#time")) {
                None => true,
                Some(last) => text(self.value(":time")).is_some_and(|time| last < time),
            },
            Some(TIE_CONDITION) => {
                let same_time = text(attribute("#time")).is_some_and(|last| Some(last) == text(self.value(":time")));
                let events: BTreeSet<&String> = match attribute("#events") {
                    Some(AttributeValue::Ss(events)) => events.iter().collect(),
                    _ => BTreeSet::new(),
                };
                let event = text(self.value(":event")).unwrap_or_default();
                same_time && !events.contains(&event)
            }
            _ => true,
        }
    }

    /// Makes the change: a `Put` replaces, a `Delete` removes, an `Update` of `ADD` or `SET`
    /// clauses applies them (others are recorded only).
    fn apply(&self, items: &mut HashMap<(String, String), Attributes>, key: (String, String)) {
        match self.change {
            Change::Put => {
                items.insert(key, self.attributes.clone());
            }
            Change::Delete => {
                items.remove(&key);
            }
            Change::Check => {}
            Change::Update(expression) => {
                let item = items.entry(key).or_insert_with(|| self.attributes.clone());
                self.update(item, expression);
            }
        }
    }

    /// `ADD a :x, #b :y` (numbers, string sets) or `SET a = :x, #b = :y`.
    fn update(&self, item: &mut Attributes, expression: &str) {
        let expression = expression.trim();
        if let Some(clauses) = expression.strip_prefix("ADD ") {
            for clause in clauses.split(',') {
                let mut parts = clause.split_whitespace();
                let (Some(name), Some(value)) = (parts.next(), parts.next()) else { continue };
                let name = self.name(name);
                match (self.value(value), item.get(&name)) {
                    (Some(AttributeValue::N(delta)), current) => {
                        let current = match current {
                            Some(AttributeValue::N(n)) => n.parse::<i128>().unwrap_or(0),
                            _ => 0,
                        };
                        let sum = current + delta.parse::<i128>().unwrap_or(0);
                        item.insert(name, AttributeValue::N(sum.to_string()));
                    }
                    (Some(AttributeValue::Ss(added)), current) => {
                        let mut set: BTreeSet<String> = match current {
                            Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
                            _ => BTreeSet::new(),
                        };
                        set.extend(added.iter().cloned());
                        item.insert(name, AttributeValue::Ss(set.into_iter().collect()));
                    }
                    _ => {}
                }
            }
        } else if let Some(clauses) = expression.strip_prefix("SET ") {
            for clause in clauses.split(',') {
                let Some((name, value)) = clause.split_once('=') else { continue };
                if let Some(value) = self.value(value.trim()) {
                    item.insert(self.name(name.trim()), value.clone());
                }
            }
        }
    }
}
