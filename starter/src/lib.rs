//! `{{name}}`: a Lambda function for a DynamoDB stream, built on ddbstream.
//!
//! The logic is plain functions of typed changes ([`what_happened`], [`on_order`]), tested
//! without AWS in `tests/handler.rs`; `src/main.rs` is the Lambda glue.

use ddbstream::{BoxError, Change, ChangeKind, Router};
use serde::{Deserialize, Serialize};

/// The table whose stream this function reads, unless `TABLE_NAME` names another.
pub const DEFAULT_TABLE: &str = "Orders";

/// An item of the table, as the stream's images carry it. Attributes the type does not name
/// are ignored; one it names that is missing, or of another type, fails its record with an
/// error naming the field.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Order {
    /// The partition key, `order#<id>`.
    pub pk: String,
    /// The amount, in cents.
    pub amount: i64,
    /// `NEW`, `PAID`, `SHIPPED`...
    pub status: String,
}

/// The table's key attributes (a change's `Keys`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct OrderKey {
    /// The partition key.
    pub pk: String,
}

/// What a change means to the business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new order.
    Placed {
        /// The order.
        pk: String,
        /// Its amount.
        amount: i64,
    },
    /// An order's status changed.
    StatusChanged {
        /// The order.
        pk: String,
        /// The status before.
        from: String,
        /// The status after.
        to: String,
    },
    /// DynamoDB's TTL process removed the order.
    Expired {
        /// The order.
        pk: String,
    },
}

/// What a change means, or `None` when it means nothing here. The images are present as the
/// stream's view type carries them (`NEW_AND_OLD_IMAGES` for all of these).
pub fn what_happened(change: &Change<Order, OrderKey>) -> Option<Event> {
    match &change.kind {
        ChangeKind::Insert { new: Some(order) } => Some(Event::Placed { pk: order.pk.clone(), amount: order.amount }),
        ChangeKind::Modify { old: Some(old), new: Some(new) } if old.status != new.status => {
            Some(Event::StatusChanged { pk: new.pk.clone(), from: old.status.clone(), to: new.status.clone() })
        }
        ChangeKind::Remove { .. } if change.is_ttl_expiry() => Some(Event::Expired { pk: change.keys.pk.clone() }),
        _ => None,
    }
}

/// The handler: called once per change, in stream order. An error fails this record:
/// Lambda retries from it, and nothing after it runs in this invocation.
pub async fn on_order(change: Change<Order, OrderKey>) -> Result<(), BoxError> {
    if change.new_image().is_some_and(|order| order.amount < 0) {
        return Err(format!("order {} has a negative amount", change.keys.pk).into());
    }
    match what_happened(&change) {
        Some(event) => tracing::info!(?event, "order event"),
        None => tracing::debug!("nothing to do"),
    }
    Ok(())
}

/// The router: the handler, registered for the stream of `table`.
pub fn router(table: &str) -> Router {
    Router::new().stream(table, on_order)
}
