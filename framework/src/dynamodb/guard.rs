//! The guard: one item per changed item and consumer, holding the last applied sequence
//! number, checked and written in the same transaction as the change's writes. Through
//! Kinesis, where changes of one item may arrive out of order and more than once, it holds
//! the last applied creation time and the `eventID`s applied at that time.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::key::{canonical_keys, label, Consumer};
use super::limits::{self, KeySchemas};
use super::WriteError;
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
#[derive(Clone, Debug)]
pub struct ExactlyOnce {
    backend: Backend,
    table: String,
    partition_key: String,
    sort_key: Option<(String, String)>,
    consumer: Consumer,
    /// Tables whose key is known: the guard table's, and those declared.
    schemas: KeySchemas,
}

#[derive(Clone, Debug)]
enum Backend {
    DynamoDb(Client),
    Memory(Arc<Mutex<Twin>>),
}

/// The in-memory twin's guards, and the writes it applied, in order.
#[derive(Debug, Default)]
struct Twin {
    guards: HashMap<String, String>,
    timed: HashMap<String, (String, BTreeSet<String>)>,
    applied: Vec<(String, Vec<TransactWriteItem>)>,
}

/// The guard's attribute holding the last applied sequence number.
const LAST_SEQ: &str = "last_seq";
/// Through Kinesis: the last applied creation time (40-digit microseconds since the epoch)...
const LAST_TIME: &str = "last_time";
/// ...and the `eventID`s applied at that time.
const LAST_EVENTS: &str = "last_events";
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
        Self::with(Backend::Memory(Arc::default()), "in-memory".into(), Consumer::for_twin(), true)
    }

    fn with(backend: Backend, table: String, consumer: Consumer, strict: bool) -> Self {
        let once = Self {
            backend,
            table,
            partition_key: "pk".into(),
            sort_key: None,
            consumer,
            schemas: KeySchemas::default().strict(strict),
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

    /// Declares the key attributes of a table your writes go to, so that two `Put`s into it
    /// can be told apart by the transaction rules. Only the twin needs it (DynamoDB knows its
    /// tables): without it, two `Put`s into one table in one change are refused by the twin,
    /// which cannot tell whether they are one item.
    pub fn key_schema<I: Into<String>>(mut self, table: &str, attributes: impl IntoIterator<Item = I>) -> Self {
        self.schemas.declare(table, attributes.into_iter().map(Into::into).collect());
        self
    }

    /// The twin's applied writes, in order, each with its guard key; empty for DynamoDB.
    pub fn applied(&self) -> Vec<(String, Vec<TransactWriteItem>)> {
        match &self.backend {
            Backend::Memory(twin) => twin.lock().unwrap_or_else(PoisonError::into_inner).applied.clone(),
            Backend::DynamoDb(_) => Vec::new(),
        }
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
        let guard = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.key_attributes(key)))
            .item(LAST_SEQ, AttributeValue::S(seq.clone()))
            .condition_expression("attribute_not_exists(#last) OR #last < :seq")
            .expression_attribute_names("#last", LAST_SEQ)
            .expression_attribute_values(":seq", AttributeValue::S(seq.clone()))
            .build()
            .map_err(|err| WriteError::sdk("building the guard", &err))?;
        let mut items = Vec::with_capacity(writes.len() + 1);
        items.push(TransactWriteItem::builder().put(guard).build());
        items.extend(writes);
        limits::check(&items, &self.schemas, true)?;
        let client = match &self.backend {
            Backend::DynamoDb(client) => client,
            Backend::Memory(twin) => {
                let mut twin = twin.lock().unwrap_or_else(PoisonError::into_inner);
                if twin.guards.get(key).is_some_and(|last| *last >= seq) {
                    skipped(change, key);
                    return Ok(Applied::AlreadyApplied);
                }
                twin.guards.insert(key.to_owned(), seq);
                items.remove(0);
                twin.applied.push((key.to_owned(), items));
                return Ok(Applied::Written);
            }
        };
        match client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Applied::Written),
            Err(SdkError::ServiceError(err)) if guard_failed(err.err()) => {
                skipped(change, key);
                Ok(Applied::AlreadyApplied)
            }
            Err(err) => Err(WriteError::sdk("TransactWriteItems", &err)),
        }
    }
}

/// Logs a skipped redelivery: the table and a digest of the guard key, never the key itself
/// (it holds the item's key values).
fn skipped<T, K>(change: &Change<T, K>, key: &str) {
    tracing::info!(
        table = change.meta.table_name.as_deref().unwrap_or("?"),
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
        let client = match &self.backend {
            Backend::DynamoDb(client) => client,
            Backend::Memory(twin) => {
                transaction(Timed::Newer)?;
                let mut twin = twin.lock().unwrap_or_else(PoisonError::into_inner);
                let guard = twin.timed.get(key);
                match guard.map(|(last, events)| timed_step(last, events, &time, event)) {
                    None | Some(Some(Timed::Newer)) => {
                        twin.timed.insert(key.to_owned(), (time, BTreeSet::from([event.to_owned()])));
                    }
                    Some(Some(Timed::Tie)) => {
                        if let Some((_, events)) = twin.timed.get_mut(key) {
                            events.insert(event.to_owned());
                        }
                    }
                    Some(None) => {
                        skipped(change, key);
                        return Ok(Applied::AlreadyApplied);
                    }
                }
                twin.applied.push((key.to_owned(), writes));
                return Ok(Applied::Written);
            }
        };
        let mut step = Timed::Newer;
        for _ in 0..TIMED_ATTEMPTS {
            match client.transact_write_items().set_transact_items(Some(transaction(step)?)).send().await {
                Ok(_) => return Ok(Applied::Written),
                Err(SdkError::ServiceError(err)) if guard_failed(err.err()) => {}
                Err(err) => return Err(WriteError::sdk("TransactWriteItems", &err)),
            }
            // The guard refused: read it to tell a tie from a change applied before.
            let (last, events) = self.read_timed(client, key).await?;
            match timed_step(&last, &events, &time, event) {
                Some(next) => step = next,
                None => {
                    skipped(change, key);
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
    fn key_attributes(&self, key: &str) -> HashMap<String, AttributeValue> {
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
                .condition_expression("attribute_not_exists(#time) OR #time < :time")
                .expression_attribute_names("#time", LAST_TIME)
                .expression_attribute_values(":time", AttributeValue::S(time.to_owned()))
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build()),
            Timed::Tie => Update::builder()
                .table_name(&self.table)
                .set_key(Some(self.key_attributes(key)))
                .update_expression("ADD #events :events")
                .condition_expression("#time = :time AND NOT contains(#events, :event)")
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
    async fn read_timed(&self, client: &Client, key: &str) -> Result<(String, BTreeSet<String>), WriteError> {
        let get =
            client.get_item().table_name(&self.table).consistent_read(true).set_key(Some(self.key_attributes(key)));
        let item = get.send().await.map_err(|err| WriteError::sdk("GetItem", &err))?.item.unwrap_or_default();
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

/// Whether the transaction was cancelled because the guard (its first action) failed its
/// condition. A condition of one of the user's writes failing is an error, not a skip.
fn guard_failed(error: &TransactWriteItemsError) -> bool {
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons().first().and_then(|reason| reason.code()) == Some("ConditionalCheckFailed")
        }
        _ => false,
    }
}
