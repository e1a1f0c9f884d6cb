//! The `audit-archive` function, on the `Orders` and `Customers` streams (one route each):
//! every change, as it happened, into the `Audit` table, TTL expiries marked as such.
//!
//! Items: `pk = <table>#<key>`, `sk = <sequence number, 40 digits>`, with the event name,
//! event id, time, `expired_by_ttl`, the key and the images exactly as the stream carried
//! them, and `retain_until` (the table's TTL attribute) one year on.
//!
//! Idempotency: an audit item is a function of its record alone, keyed by the record's
//! sequence number, so writing it again (a redelivery, a replay) writes the same item.
//! Changes are written 25 at a time with `BatchWriteItem`; items DynamoDB leaves unprocessed
//! are retried, and if some still are, the batch reports the first of them as failed.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use ddbstream::{BatchFailure, BoxError, Change, Item, Router, State};

use crate::config::{required, MissingSetting};
use crate::store::{item, n, s};

/// How long audit items are kept.
pub const RETENTION_SECONDS: u64 = 365 * 24 * 3600;
const CHUNK: usize = 25;
const ATTEMPTS: u32 = 4;

/// Where the function reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// The `Orders` table, whose stream is audited.
    pub orders: String,
    /// The `Customers` table, whose stream is audited.
    pub customers: String,
    /// `Audit`, where changes are archived.
    pub audit: String,
}

impl Tables {
    /// From `ORDERS_TABLE`, `CUSTOMERS_TABLE`, `AUDIT_TABLE`.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self {
            orders: required("ORDERS_TABLE")?,
            customers: required("CUSTOMERS_TABLE")?,
            audit: required("AUDIT_TABLE")?,
        })
    }
}

/// The audit item for one change.
pub fn audit_item(change: &Change<Item>) -> Result<HashMap<String, AttributeValue>, BoxError> {
    let meta = &change.meta;
    let table = meta.table_name.as_deref().unwrap_or("unknown-table");
    let at = meta
        .approximate_creation_time
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut audit = item([
        ("pk", s(format!("{table}#{}", key_text(&change.keys)))),
        ("sk", s(change.sequence_number().sortable().ok_or(crate::store::NOT_SORTABLE)?)),
        ("table", s(table)),
        ("event_name", s(change.event_name().as_str())),
        ("event_id", s(&meta.event_id)),
        ("changed_at", n(at)),
        ("expired_by_ttl", AttributeValue::Bool(change.is_ttl_expiry())),
        ("keys", map(&change.keys)),
        ("retain_until", n(at + RETENTION_SECONDS)),
    ]);
    if let Some(old) = change.old_image() {
        audit.insert("old".into(), map(old));
    }
    if let Some(new) = change.new_image() {
        audit.insert("new".into(), map(new));
    }
    Ok(audit)
}

fn map(item: &Item) -> AttributeValue {
    AttributeValue::M(item.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect())
}

/// A key as stable text: `name=value` pairs in name order.
fn key_text(keys: &Item) -> String {
    use serde_dynamo::AttributeValue as V;
    let mut parts: Vec<String> = keys
        .iter()
        .map(|(name, value)| match value {
            V::S(text) | V::N(text) => format!("{name}={text}"),
            V::B(bytes) => format!("{name}={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            other => format!("{name}={other:?}"),
        })
        .collect();
    parts.sort();
    parts.join(",")
}

/// Archives a batch of changes in stream order.
pub async fn archive(client: &Client, table: &str, changes: Vec<Change<Item>>) -> Result<(), BatchFailure> {
    for (chunk_index, chunk) in changes.chunks(CHUNK).enumerate() {
        let offset = chunk_index * CHUNK;
        let mut requests = Vec::with_capacity(chunk.len());
        for (i, change) in chunk.iter().enumerate() {
            let item = audit_item(change).map_err(|e| BatchFailure::at(offset + i, e))?;
            let put =
                PutRequest::builder().set_item(Some(item)).build().map_err(|e| BatchFailure::at(offset + i, e))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        write_chunk(client, table, requests).await.map_err(|(first, e)| BatchFailure::at(offset + first, e))?;
    }
    Ok(())
}

/// Writes up to 25 puts, retrying unprocessed ones; on failure, the index of the first put
/// that may not have been written.
async fn write_chunk(client: &Client, table: &str, mut pending: Vec<WriteRequest>) -> Result<(), (usize, BoxError)> {
    let all = pending.clone();
    for attempt in 0..ATTEMPTS {
        let result = client.batch_write_item().request_items(table, pending.clone()).send().await;
        let output = result.map_err(|e| {
            (first_of(&all, &pending), format!("BatchWriteItem failed: {}", ddbstream::error_chain(&e)).into())
        })?;
        pending = output.unprocessed_items().and_then(|u| u.get(table)).cloned().unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    }
    Err((
        first_of(&all, &pending),
        format!("{} audit items still unprocessed after {ATTEMPTS} attempts", pending.len()).into(),
    ))
}

fn first_of(all: &[WriteRequest], pending: &[WriteRequest]) -> usize {
    all.iter().position(|request| pending.contains(request)).unwrap_or(0)
}

/// The route's batch handler.
pub async fn on_changes(
    State((client, table)): State<(Client, String)>,
    changes: Vec<Change<Item>>,
) -> Result<(), BatchFailure> {
    archive(&client, &table, changes).await
}

/// The function's router: the two streams, one batch route each.
pub fn router(client: Client, tables: Tables) -> Router {
    Router::new()
        .with_state((client, tables.audit.clone()))
        .stream(&tables.orders, on_changes)
        .stream(&tables.customers, on_changes)
}
