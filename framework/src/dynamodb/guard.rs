//! The guard: one item per changed item and consumer, holding the last applied sequence
//! number, checked and written in the same transaction as the change's writes. Through
//! Kinesis, where changes of one item may arrive out of order and more than once, it holds
//! the last applied creation time and the `eventID`s applied at that time.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::backend::{describe, Backend, Memory};
use super::error::WriteError;
use super::group::{Answer, Committer};
use super::guard_item::{LAST_EVENTS, LAST_SEQ, LAST_TIME, SEQ_CONDITION, TIE_CONDITION, TIME_CONDITION};
use super::key::{canonical_keys, label, Consumer};
use super::limits::{self, KeySchemas};
use super::transact::Outcome;
use super::twin::TwinFaults;
use crate::change::Change;

/// What [`ExactlyOnce::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The writes were made, with the guard.
    Written,
    /// The guard already held this change or a newer one of the item: nothing was written.
    AlreadyApplied,
}

/// Applies each change's writes at most once, in stream order per item: see the
/// [module docs](super).
///
/// # AWS permissions and schema
///
/// - The guard table: partition key `pk` (string; another name with
///   [`partition_key`](Self::partition_key)), and no sort key, or a string one whose value
///   every guard shares ([`sort_key`](Self::sort_key)). A guard item is its key
///   (`<consumer>#<table>#<keys as canonical JSON>`, or `<consumer>#<your key>` with
///   [`apply_keyed`](Self::apply_keyed)) and, for changes from a DynamoDB stream, `last_seq`
///   (string, a 40-digit sequence number); for changes through Kinesis, `last_time` (string,
///   40-digit microseconds since the epoch) and `last_events` (string set of `eventID`s). A
///   guard's `Put` replaces its whole item: keep other data off it. Guards must never expire:
///   they carry no TTL attribute, so a TTL the table has for other items leaves them alone.
/// - `dynamodb:PutItem` on the guard table: the guard's write, made only inside
///   `TransactWriteItems`. That call has no IAM action of its own: each action in it is
///   authorized as its own operation, so an IAM condition on `dynamodb:EnclosingOperation`
///   (`TransactWriteItems`) may grant this one only there.
/// - Through Kinesis ([`Metadata::via_kinesis`](crate::Metadata::via_kinesis)), also
///   `dynamodb:UpdateItem` on the guard table (the guard's write for a tie, only inside
///   `TransactWriteItems`, scoped the same way) and `dynamodb:GetItem` on the guard table (a
///   consistent read of a guard that refused, a call of its own: a
///   `dynamodb:EnclosingOperation` condition on it would deny it).
/// - [`fold`](Self::fold): `dynamodb:GetItem` on the guard table (a call of its own, when
///   DynamoDB's refusal does not carry the guard), and its writes' actions (see there).
/// - Your writes: each one's own action on its table, inside `TransactWriteItems`: a `Put`
///   needs `dynamodb:PutItem`, an `Update` `dynamodb:UpdateItem`, a `Delete`
///   `dynamodb:DeleteItem`, a `ConditionCheck` `dynamodb:ConditionCheckItem`.
/// - Nothing else: no `DescribeTable`, no `Query`, no `Scan`. The twin
///   ([`in_memory`](Self::in_memory)) calls nothing.
#[derive(Clone, Debug)]
pub struct ExactlyOnce {
    pub(super) backend: Backend,
    pub(super) table: String,
    partition_key: String,
    sort_key: Option<(String, String)>,
    consumer: Consumer,
    /// Tables whose key is known: the guard table's, and those declared.
    pub(super) schemas: KeySchemas,
    /// The changes waiting to share a transaction (shared by clones).
    committer: Arc<Committer>,
    grouped: bool,
}

/// How many times a Kinesis change's guard is read again when other writers keep changing it.
const TIMED_ATTEMPTS: usize = 4;

/// Which guard write a Kinesis change makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timed {
    /// Its time is newer than the guard's: the guard holds its time and its event alone.
    Newer,
    /// Its time is the guard's (a tie at the table's precision) and its event is not yet
    /// applied: the event joins the guard's set.
    Tie,
}

impl ExactlyOnce {
    /// Guards kept in `guard_table`, whose partition key is a string attribute `pk`, for the
    /// consumer named by Lambda's `AWS_LAMBDA_FUNCTION_NAME` (the function's name). Outside
    /// Lambda (the runner, the redrive, a test) name it with [`consumer`](Self::consumer):
    /// until then every [`apply`](Self::apply) fails, saying so.
    pub fn new(client: Client, guard_table: impl Into<String>) -> Self {
        Self::with(Backend::DynamoDb(client), guard_table.into(), Consumer::from_env(), false)
    }

    /// The in-memory twin, for tests without AWS: the same guard rule (a change is written
    /// when its item's guard is absent or holds a lower sequence number, and the guard then
    /// holds it), the same keys, and DynamoDB's transaction rules checked as DynamoDB checks
    /// them (no item twice, sizes, counts); the writes are recorded, not made. Its consumer
    /// is `AWS_LAMBDA_FUNCTION_NAME`, or `test` when that is not set; clones share the
    /// twin's guards, so two consumers can be tried on one "table". `tests/exactly_once.rs`
    /// runs one scenario suite against this twin and against DynamoDB (moto) and requires
    /// the same answers.
    pub fn in_memory() -> Self {
        Self::with(Backend::Memory(Arc::<Memory>::default()), "in-memory".into(), Consumer::for_twin(), true)
    }

    fn with(backend: Backend, table: String, consumer: Consumer, strict: bool) -> Self {
        let once = Self {
            backend,
            table,
            partition_key: "pk".into(),
            sort_key: None,
            consumer,
            schemas: KeySchemas::default().strict(strict),
            committer: Arc::default(),
            grouped: true,
        };
        once.guard_schema()
    }

    /// The guard table's key, declared for the transaction rules.
    fn guard_schema(mut self) -> Self {
        let mut attributes = vec![self.partition_key.clone()];
        attributes.extend(self.sort_key.as_ref().map(|(attribute, _)| attribute.clone()));
        self.schemas.declare(&self.table, attributes);
        self
    }

    /// Whose guards these are: a name of your choosing (the function's name, so that the
    /// runner and the redrive share the deployed function's guards), not empty and without
    /// `#`. Consumers sharing one guard table never see each other's guards.
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = Consumer::named(name);
        self
    }

    /// Whether changes applied at the same time (under
    /// [`per_key_concurrency`](crate::Router::per_key_concurrency)) share
    /// `TransactWriteItems` calls: on by default. One call is in flight at a time per
    /// `ExactlyOnce` (and its clones), and the changes that arrive meanwhile go together in
    /// the next, as many as DynamoDB's rules allow, in arrival order; each change gets the
    /// answer it would get alone. A change alone is sent at once. Off, each change is its own
    /// call, concurrent ones in flight together (and meeting in `TransactionConflict`s on
    /// shared items, which are sent again after a backoff).
    pub fn group_commit(mut self, on: bool) -> Self {
        self.grouped = on;
        self
    }

    /// Declares the key attributes of a table your writes go to, so that two `Put`s into it
    /// can be told apart by the transaction rules. Only the twin needs it (DynamoDB knows its
    /// tables): without it, two `Put`s into one table in one change are refused by the twin,
    /// which cannot tell whether they are one item.
    pub fn key_schema<I: Into<String>>(mut self, table: &str, attributes: impl IntoIterator<Item = I>) -> Self {
        self.schemas.declare(table, attributes.into_iter().map(Into::into).collect());
        self
    }

    /// The twin's applied writes, in order, each with its guard key; empty for DynamoDB.
    /// Folded writes ([`fold`](Self::fold)) merged from several changes are listed once,
    /// with the first guard of their transaction.
    pub fn applied(&self) -> Vec<(String, Vec<TransactWriteItem>)> {
        match &self.backend {
            Backend::Memory(memory) => memory.twin().applied().to_vec(),
            Backend::DynamoDb(_) => Vec::new(),
        }
    }

    /// The twin's item of `table` with `key`, as the applied writes left it: a `Put` stores
    /// its item (when its table's key is known: the guard table, or one declared with
    /// [`key_schema`](Self::key_schema)), an `Update` of `ADD` or `SET` clauses applies them,
    /// a `Delete` removes it. `None` for DynamoDB (read the table).
    pub fn twin_item(
        &self,
        table: &str,
        key: &HashMap<String, AttributeValue>,
    ) -> Option<HashMap<String, AttributeValue>> {
        match &self.backend {
            Backend::Memory(memory) => memory.twin().item(table, key).cloned(),
            Backend::DynamoDb(_) => None,
        }
    }

    /// How many `TransactWriteItems` calls the twin received (conflicts included); 0 for
    /// DynamoDB.
    pub fn twin_transactions(&self) -> u64 {
        match &self.backend {
            Backend::Memory(memory) => memory.twin().transactions(),
            Backend::DynamoDb(_) => 0,
        }
    }

    /// Faults the twin makes from now on (conflicts, lost answers, a crash): see
    /// [`TwinFaults`]. Ignored for DynamoDB. Conflicts and lost answers are sent again after
    /// a backoff, so a test can prove that none becomes a failure, a skip or a repeat.
    pub fn twin_faults(&self, faults: TwinFaults) {
        if let Backend::Memory(memory) = &self.backend {
            memory.twin().set_faults(faults);
        }
    }

    /// How many transactions the twin refused as a whole by DynamoDB's rules (two operations
    /// on one item, sizes, counts): a grouping that DynamoDB would refuse shows here. 0 for
    /// DynamoDB.
    pub fn twin_refusals(&self) -> u64 {
        match &self.backend {
            Backend::Memory(memory) => memory.twin().refusals(),
            Backend::DynamoDb(_) => 0,
        }
    }

    /// How many transactions the twin cancelled with a conflict; 0 for DynamoDB.
    pub fn twin_conflicts_made(&self) -> u64 {
        match &self.backend {
            Backend::Memory(memory) => memory.twin().conflicts(),
            Backend::DynamoDb(_) => 0,
        }
    }

    /// Each call to the twin takes `latency`, as a call over a network does, so that
    /// concurrent changes meet and share transactions as they do with DynamoDB. Ignored for
    /// DynamoDB.
    pub fn twin_latency(self, latency: Duration) -> Self {
        if let Backend::Memory(memory) = &self.backend {
            memory.set_latency(latency);
        }
        self
    }

    /// The guard table's partition key attribute, if not `pk`.
    pub fn partition_key(mut self, attribute: impl Into<String>) -> Self {
        self.partition_key = attribute.into();
        self.guard_schema()
    }

    /// For a guard table with a sort key: the attribute and the value every guard uses
    /// (single-table designs, `("sk", "GUARD")`).
    pub fn sort_key(mut self, attribute: impl Into<String>, value: impl Into<String>) -> Self {
        self.sort_key = Some((attribute.into(), value.into()));
        self.guard_schema()
    }

    /// The guard key of a change's item: the consumer, the item's table, and its keys as
    /// canonical JSON, attribute names in order (`likes#Likes#{"pk":"post#1","sk":"user#a"}`).
    pub fn guard_key<T, K: Serialize>(&self, change: &Change<T, K>) -> Result<String, WriteError> {
        let table = change.meta.table_name.as_deref().unwrap_or(&change.meta.stream_arn);
        self.consumer.key(&format!("{table}#{}", canonical_keys(&change.keys)?))
    }

    /// Applies `writes` for `change`, guarded by the changed item's key
    /// ([`guard_key`](Self::guard_key)).
    pub async fn apply<T, K: Serialize>(
        &self,
        change: &Change<T, K>,
        writes: impl IntoIterator<Item = TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        let key = self.guard_key(change)?;
        self.apply_guarded(change, &key, writes.into_iter().collect()).await
    }

    /// Applies `writes` for `change`, guarded by `key`, within this consumer's guards
    /// (several tables' changes can share one guard, or one item's changes can be split in
    /// several).
    pub async fn apply_keyed<T, K>(
        &self,
        change: &Change<T, K>,
        key: &str,
        writes: impl IntoIterator<Item = TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        let key = self.consumer.key(key)?;
        self.apply_guarded(change, &key, writes.into_iter().collect()).await
    }

    /// Applies `writes` under the guard key `key` (the consumer's included).
    async fn apply_guarded<T, K>(
        &self,
        change: &Change<T, K>,
        key: &str,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        if change.meta.via_kinesis() {
            return self.apply_timed(change, key, writes).await;
        }
        let seq = change.sequence_number().sortable().ok_or_else(|| {
            WriteError::new(format!(
                "sequence number {} is not a number of at most 40 digits: it cannot guard a write",
                change.sequence_number()
            ))
        })?;
        let mut items = Vec::with_capacity(writes.len() + 1);
        items.push(self.seq_guard(key, &seq, &seq)?);
        items.extend(writes);
        limits::check(&items, &self.schemas, true)?;
        let answer = if self.grouped {
            self.committer.submit(&self.backend, &self.schemas, key.to_owned(), items).await
        } else {
            Committer::alone(&self.backend, &self.schemas, key.to_owned(), items).await
        };
        match answer {
            Answer::Written => Ok(Applied::Written),
            Answer::Refused => {
                skipped(change.meta.table_name.as_deref(), key);
                Ok(Applied::AlreadyApplied)
            }
            Answer::Failed(error) => Err(error),
        }
    }

    /// The guard's write for changes of one item up to `last` (a 40-digit sequence number):
    /// refused unless the guard is absent or below `first`, the first of them. A refusal
    /// carries the guard as it is (what a fold needs to know which of its changes were
    /// applied before).
    pub(super) fn seq_guard(&self, key: &str, first: &str, last: &str) -> Result<TransactWriteItem, WriteError> {
        let guard = Put::builder()
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .table_name(&self.table)
            .set_item(Some(self.key_attributes(key)))
            .item(LAST_SEQ, AttributeValue::S(last.to_owned()))
            .condition_expression(SEQ_CONDITION)
            .expression_attribute_names("#last", LAST_SEQ)
            .expression_attribute_values(":seq", AttributeValue::S(first.to_owned()))
            .build()
            .map_err(|err| WriteError::sdk("building the guard", &err))?;
        Ok(TransactWriteItem::builder().put(guard).build())
    }
}

/// Logs a skipped redelivery: the table and a digest of the guard key, never the key itself
/// (it holds the item's key values).
pub(super) fn skipped(table: Option<&str>, key: &str) {
    tracing::info!(
        table = table.unwrap_or("?"),
        guard = %label(key),
        "this change or a newer one was applied before: nothing written"
    );
}

impl ExactlyOnce {
    /// A change through Kinesis: ordered by its creation time, duplicates told apart by
    /// `eventID` (see the [module docs](super)).
    async fn apply_timed<T, K>(
        &self,
        change: &Change<T, K>,
        key: &str,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        let micros = change.meta.creation_micros().ok_or_else(|| {
            WriteError::new(format!(
                "change {} came through Kinesis without ApproximateCreationDateTime: it cannot guard a write",
                change.meta.event_id
            ))
        })?;
        let event = change.meta.event_id.as_str();
        if event.is_empty() {
            return Err(WriteError::new("a change through Kinesis without an eventID cannot guard a write"));
        }
        let time = format!("{micros:0>40}");
        let transaction = |step: Timed| -> Result<Vec<TransactWriteItem>, WriteError> {
            let mut items = Vec::with_capacity(writes.len() + 1);
            items.push(self.timed_guard(step, key, &time, event)?);
            items.extend(writes.iter().cloned());
            limits::check(&items, &self.schemas, true)?;
            Ok(items)
        };
        let mut step = Timed::Newer;
        for _ in 0..TIMED_ATTEMPTS {
            let items = transaction(step)?;
            match self.backend.send_retrying(items, &self.schemas).await {
                Outcome::Committed => {
                    self.backend.record([(key.to_owned(), writes.clone())]);
                    return Ok(Applied::Written);
                }
                Outcome::Cancelled(reasons, _)
                    if reasons.first() == Some(&super::transact::Reason::ConditionFailed) => {}
                other => return Err(WriteError::new(describe(&other))),
            }
            // The guard refused: read it to tell a tie from a change applied before.
            let (last, events) = self.read_timed(key).await?;
            match timed_step(&last, &events, &time, event) {
                Some(next) => step = next,
                None => {
                    skipped(change.meta.table_name.as_deref(), key);
                    return Ok(Applied::AlreadyApplied);
                }
            }
        }
        Err(WriteError::new(format!(
            "the guard {} changed under each of {TIMED_ATTEMPTS} attempts: the change is retried later",
            label(key)
        )))
    }

    /// The guard item's key attributes for the guard key `key`: the partition key, and the
    /// sort key's fixed value if the table has one.
    pub(super) fn key_attributes(&self, key: &str) -> HashMap<String, AttributeValue> {
        let mut attributes = HashMap::from([(self.partition_key.clone(), AttributeValue::S(key.to_owned()))]);
        if let Some((attribute, value)) = &self.sort_key {
            attributes.insert(attribute.clone(), AttributeValue::S(value.clone()));
        }
        attributes
    }

    /// The guard's write for a Kinesis change: its key, and its condition for `step`.
    fn timed_guard(&self, step: Timed, key: &str, time: &str, event: &str) -> Result<TransactWriteItem, WriteError> {
        let events = AttributeValue::Ss(vec![event.to_owned()]);
        let built = match step {
            Timed::Newer => Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.key_attributes(key)))
                .item(LAST_TIME, AttributeValue::S(time.to_owned()))
                .item(LAST_EVENTS, events)
                .condition_expression(TIME_CONDITION)
                .expression_attribute_names("#time", LAST_TIME)
                .expression_attribute_values(":time", AttributeValue::S(time.to_owned()))
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build()),
            Timed::Tie => Update::builder()
                .table_name(&self.table)
                .set_key(Some(self.key_attributes(key)))
                .update_expression("ADD #events :events")
                .condition_expression(TIE_CONDITION)
                .expression_attribute_names("#time", LAST_TIME)
                .expression_attribute_names("#events", LAST_EVENTS)
                .expression_attribute_values(":time", AttributeValue::S(time.to_owned()))
                .expression_attribute_values(":event", AttributeValue::S(event.to_owned()))
                .expression_attribute_values(":events", events)
                .build()
                .map(|update| TransactWriteItem::builder().update(update).build()),
        };
        built.map_err(|err| WriteError::sdk("building the guard", &err))
    }

    /// A Kinesis change's guard as stored: its time and events (empty when absent).
    async fn read_timed(&self, key: &str) -> Result<(String, BTreeSet<String>), WriteError> {
        let item = self.backend.get(&self.table, self.key_attributes(key)).await?.unwrap_or_default();
        let time = match item.get(LAST_TIME) {
            Some(AttributeValue::S(time)) => time.clone(),
            _ => String::new(),
        };
        let events = match item.get(LAST_EVENTS) {
            Some(AttributeValue::Ss(events)) => events.iter().cloned().collect(),
            _ => BTreeSet::new(),
        };
        Ok((time, events))
    }
}

/// What a Kinesis change at `time` with `event` does against a guard holding `last` and
/// `events`; `None` when it was applied before, or is older than the last applied.
fn timed_step(last: &str, events: &BTreeSet<String>, time: &str, event: &str) -> Option<Timed> {
    match last.cmp(time) {
        std::cmp::Ordering::Less => Some(Timed::Newer),
        std::cmp::Ordering::Equal if !events.contains(event) => Some(Timed::Tie),
        _ => None,
    }
}
