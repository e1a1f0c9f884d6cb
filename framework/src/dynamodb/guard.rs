//! The guard: one item per changed item, holding the last applied sequence number, checked
//! and written in the same transaction as the change's writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::{limits, WriteError};
use crate::Change;

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
    applied: Vec<(String, Vec<TransactWriteItem>)>,
}

/// The guard's attribute holding the last applied sequence number.
const LAST_SEQ: &str = "last_seq";

impl ExactlyOnce {
    /// Guards kept in `guard_table`, whose partition key is a string attribute `pk`.
    pub fn new(client: Client, guard_table: impl Into<String>) -> Self {
        Self {
            backend: Backend::DynamoDb(client),
            table: guard_table.into(),
            partition_key: "pk".into(),
            sort_key: None,
        }
    }

    /// The in-memory twin, for tests without AWS: the same guard rule (a change is written
    /// when its item's guard is absent or holds a lower sequence number, and the guard then
    /// holds it), the same limits and errors up front; the writes are recorded, not made.
    /// `tests/exactly_once.rs` runs one scenario suite against this twin and against
    /// DynamoDB (moto) and requires the same answers.
    pub fn in_memory() -> Self {
        Self {
            backend: Backend::Memory(Arc::default()),
            table: "in-memory".into(),
            partition_key: "pk".into(),
            sort_key: None,
        }
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
        self
    }

    /// For a guard table with a sort key: the attribute and the value every guard uses
    /// (single-table designs, `("sk", "GUARD")`).
    pub fn sort_key(mut self, attribute: impl Into<String>, value: impl Into<String>) -> Self {
        self.sort_key = Some((attribute.into(), value.into()));
        self
    }

    /// The guard key of a change's item: its table and its keys as JSON, attribute names in
    /// order (`Orders#{"pk":"order#1"}`).
    pub fn guard_key<T, K: Serialize>(change: &Change<T, K>) -> Result<String, WriteError> {
        let keys = serde_json::to_value(&change.keys)
            .map_err(|err| WriteError::new(format!("the change's keys do not serialize: {err}")))?;
        let table = change.meta.table_name.as_deref().unwrap_or(&change.meta.stream_arn);
        Ok(format!("{table}#{keys}"))
    }

    /// Applies `writes` for `change`, guarded by the changed item's key
    /// ([`guard_key`](Self::guard_key)).
    pub async fn apply<T, K: Serialize>(
        &self,
        change: &Change<T, K>,
        writes: impl IntoIterator<Item = TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        self.apply_keyed(change, &Self::guard_key(change)?, writes).await
    }

    /// Applies `writes` for `change`, guarded by `key` (several tables' changes can share one
    /// guard, or one item's changes can be split in several).
    pub async fn apply_keyed<T, K>(
        &self,
        change: &Change<T, K>,
        key: &str,
        writes: impl IntoIterator<Item = TransactWriteItem>,
    ) -> Result<Applied, WriteError> {
        let seq = change.sequence_number().sortable().ok_or_else(|| {
            WriteError::new(format!(
                "sequence number {} is not a number of at most 40 digits: it cannot guard a write",
                change.sequence_number()
            ))
        })?;
        let writes: Vec<TransactWriteItem> = writes.into_iter().collect();
        limits::check(&writes)?;
        let client = match &self.backend {
            Backend::DynamoDb(client) => client,
            Backend::Memory(twin) => {
                let mut twin = twin.lock().unwrap_or_else(PoisonError::into_inner);
                if twin.guards.get(key).is_some_and(|last| *last >= seq) {
                    return Ok(Applied::AlreadyApplied);
                }
                twin.guards.insert(key.to_owned(), seq);
                twin.applied.push((key.to_owned(), writes));
                return Ok(Applied::Written);
            }
        };
        let mut guard = Put::builder()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(key.to_owned()))
            .item(LAST_SEQ, AttributeValue::S(seq.clone()))
            .condition_expression("attribute_not_exists(#last) OR #last < :seq")
            .expression_attribute_names("#last", LAST_SEQ)
            .expression_attribute_values(":seq", AttributeValue::S(seq));
        if let Some((attribute, value)) = &self.sort_key {
            guard = guard.item(attribute, AttributeValue::S(value.clone()));
        }
        let guard = guard.build().map_err(|err| WriteError::sdk("building the guard", &err))?;
        let mut items = Vec::with_capacity(writes.len() + 1);
        items.push(TransactWriteItem::builder().put(guard).build());
        items.extend(writes);
        match client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Applied::Written),
            Err(SdkError::ServiceError(err)) if guard_failed(err.err()) => {
                tracing::info!(guard = key, "this change or a newer one was applied before: nothing written");
                Ok(Applied::AlreadyApplied)
            }
            Err(err) => Err(WriteError::sdk("TransactWriteItems", &err)),
        }
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
