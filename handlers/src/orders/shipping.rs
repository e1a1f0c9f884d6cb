//! Trigger: an order moving to `SHIPPED` writes one notification to the outbox table.
//!
//! Idempotency: the notification is written with the order's guard (see [`crate::orders`]):
//! a redelivery never writes a second one. Its key is the order and the sequence number of
//! the change that shipped it (`pk = ORDER#<id>`, `sk = SHIPPED#<seq>`).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use ddbstream::{BoxError, Change};

use crate::model::{Order, OrderKey, SHIPPED};
use crate::store::{item, n, s};

/// The notification to write, if this change is the move to `SHIPPED`.
pub fn plan(change: &Change<Order, OrderKey>, table: &str) -> Result<Option<TransactWriteItem>, BoxError> {
    let Some(new) = change.new_image() else { return Ok(None) };
    let was_shipped = change.old_image().is_some_and(|old| old.status == SHIPPED);
    if new.status != SHIPPED || was_shipped {
        return Ok(None);
    }
    let seq = change.sequence_number().sortable().ok_or(crate::store::NOT_SORTABLE)?;
    let shipped_at = change
        .meta
        .approximate_creation_time
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let notification = Put::builder()
        .table_name(table)
        .set_item(Some(item([
            ("pk", s(format!("ORDER#{}", new.order_id))),
            ("sk", s(format!("SHIPPED#{seq}"))),
            ("kind", s("order_shipped")),
            ("order_id", s(&new.order_id)),
            ("customer_id", s(&new.customer_id)),
            ("amount", n(new.amount)),
            ("shipped_at", n(shipped_at)),
            ("sent", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
        ])))
        .build()?;
    Ok(Some(TransactWriteItem::builder().put(notification).build()))
}
