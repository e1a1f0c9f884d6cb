//! The `customers-replicator` function, on the `Customers` stream: keeps `CustomersByEmail`,
//! the same customers keyed by email, in sync: inserts, modifies, removes, and email
//! changes (the view's key changes: the old email becomes a tombstone, the new one is written).
//!
//! Idempotency: every view item carries `source_seq`, the sequence number of the change that
//! wrote it, and every write is conditional on `attribute_not_exists(email) OR source_seq <
//! :seq`, all of one change in one transaction. A redelivered or older change fails the
//! condition and is skipped. Removals write tombstones (`deleted = true`) instead of
//! deleting, so a replayed insert cannot resurrect the customer; tombstones expire (TTL
//! `expires_at`) after the stream's 24 hours plus the 90 days the failure bucket keeps
//! discarded batches (a redrive can bring a change back that late), so no replay can
//! outlive them. Readers treat `deleted = true` as absent. Assumes emails are
//! unique per customer, as the sign-up flow enforces.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use ddbstream::dynamodb::{apply_self_guarded, Applied};
use ddbstream::{BoxError, Change, Router, State};

use crate::config::{required, MissingSetting};
use crate::model::{Customer, CustomerKey};
use crate::store::{item, n, s};

/// How long a tombstone outlives its change: the stream's 24-hour retention plus the 90
/// days the template's failure bucket keeps a discarded batch for a redrive.
pub const TOMBSTONE_SECONDS: u64 = (24 + 90 * 24) * 3600;

/// Where the function reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// The `Customers` table, whose stream the function reads.
    pub customers: String,
    /// `CustomersByEmail`, the view it maintains.
    pub by_email: String,
}

impl Tables {
    /// From `CUSTOMERS_TABLE` and `CUSTOMERS_BY_EMAIL_TABLE`.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self { customers: required("CUSTOMERS_TABLE")?, by_email: required("CUSTOMERS_BY_EMAIL_TABLE")? })
    }
}

/// The view writes for one customer change.
pub fn plan(change: &Change<Customer, CustomerKey>, table: &str) -> Result<Vec<TransactWriteItem>, BoxError> {
    let seq = change.sequence_number().sortable().ok_or(crate::store::NOT_SORTABLE)?;
    let at = change.meta.approximate_creation_time.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let expires_at = at.map_or(0, |d| d.as_secs()) + TOMBSTONE_SECONDS;
    let new = change.new_image();
    let old = change.old_image();
    if new.is_none() && old.is_none() {
        change.require_old()?; // says which view type the stream lacks
    }
    let customer_id = &change.keys.customer_id;
    let mut writes = Vec::new();
    if let Some(new) = new {
        let mut live = item([
            ("email", s(&new.email)),
            ("customer_id", s(customer_id)),
            ("name", s(&new.name)),
            ("deleted", AttributeValue::Bool(false)),
            ("source_seq", s(&seq)),
        ]);
        if let Some(tier) = &new.tier {
            live.insert("tier".into(), s(tier));
        }
        writes.push(guarded(table, live, &seq)?);
    }
    if let Some(old) = old.filter(|old| new.is_none_or(|new| new.email != old.email)) {
        let tombstone = item([
            ("email", s(&old.email)),
            ("customer_id", s(customer_id)),
            ("deleted", AttributeValue::Bool(true)),
            ("source_seq", s(&seq)),
            ("expires_at", n(expires_at)),
        ]);
        writes.push(guarded(table, tombstone, &seq)?);
    }
    Ok(writes)
}

fn guarded(
    table: &str,
    item: std::collections::HashMap<String, AttributeValue>,
    seq: &str,
) -> Result<TransactWriteItem, BoxError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(email) OR source_seq < :seq")
        .expression_attribute_values(":seq", s(seq))
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Applies one customer change: its view writes, each guarded by its own item's `source_seq`.
pub async fn handle(client: &Client, table: &str, change: Change<Customer, CustomerKey>) -> Result<Applied, BoxError> {
    Ok(apply_self_guarded(client, plan(&change, table)?).await?)
}

/// The route's handler.
pub async fn on_customer(
    State((client, tables)): State<(Client, Tables)>,
    change: Change<Customer, CustomerKey>,
) -> Result<(), BoxError> {
    handle(&client, &tables.by_email, change).await.map(drop)
}

/// The function's router: the `Customers` stream, one change at a time.
pub fn router(client: Client, tables: Tables) -> Router {
    let customers = tables.customers.clone();
    Router::new().with_state((client, tables)).stream(&customers, on_customer)
}
