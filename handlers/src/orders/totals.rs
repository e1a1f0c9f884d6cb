//! Cross-table update: per-customer order count and total, maintained from order changes.
//!
//! Idempotency: every change of an order writes the order's *contribution* item
//! (`pk = ORDER#<id>`, `sk = CONTRIBUTION`) holding the sequence number of the last change
//! applied, under the condition `attribute_not_exists(last_seq) OR last_seq < :seq`, in the
//! same transaction as the customer totals it adjusts. A redelivered change, or an older one
//! replayed after a newer, fails the condition and the whole transaction is skipped: totals
//! move exactly once per change, in order. A removed order keeps its contribution item as a
//! tombstone (`removed = true`), so a replayed insert cannot bring it back.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use ddbstream::{BoxError, Change, EventName};

use crate::model::{Order, OrderKey};
use crate::store::{item, n, s, sortable};

/// The writes for one order change: the guarded contribution, then the totals deltas.
pub fn plan(change: &Change<Order, OrderKey>, table: &str) -> Result<Vec<TransactWriteItem>, BoxError> {
    let seq = sortable(change.sequence_number())?;
    let (old, new) = match change.event_name() {
        EventName::Insert => (None, Some(change.require_new()?)),
        EventName::Modify => (Some(change.require_old()?), Some(change.require_new()?)),
        EventName::Remove => (Some(change.require_old()?), None),
    };
    let order_id = &change.keys.order_id;
    let (customer, amount) = new.or(old).map(|o| (o.customer_id.as_str(), o.amount)).unwrap_or_default();
    let contribution = Put::builder()
        .table_name(table)
        .set_item(Some(item([
            ("pk", s(format!("ORDER#{order_id}"))),
            ("sk", s("CONTRIBUTION")),
            ("customer_id", s(customer)),
            ("amount", n(if new.is_some() { amount } else { 0 })),
            ("removed", aws_sdk_dynamodb::types::AttributeValue::Bool(new.is_none())),
            ("last_seq", s(&seq)),
        ])))
        .condition_expression("attribute_not_exists(last_seq) OR last_seq < :seq")
        .expression_attribute_values(":seq", s(&seq))
        .build()?;
    let mut writes = vec![TransactWriteItem::builder().put(contribution).build()];
    for (customer, amount, count) in deltas(old, new) {
        writes.push(TransactWriteItem::builder().update(adjust(table, customer, amount, count)?).build());
    }
    Ok(writes)
}

/// How a change moves each customer's (amount, count).
fn deltas<'a>(old: Option<&'a Order>, new: Option<&'a Order>) -> Vec<(&'a str, i64, i64)> {
    match (old, new) {
        (Some(old), Some(new)) if old.customer_id == new.customer_id => {
            let amount = new.amount - old.amount;
            if amount == 0 {
                Vec::new()
            } else {
                vec![(new.customer_id.as_str(), amount, 0)]
            }
        }
        _ => {
            let mut out = Vec::new();
            if let Some(old) = old {
                out.push((old.customer_id.as_str(), -old.amount, -1));
            }
            if let Some(new) = new {
                out.push((new.customer_id.as_str(), new.amount, 1));
            }
            out
        }
    }
}

fn adjust(table: &str, customer: &str, amount: i64, count: i64) -> Result<Update, BoxError> {
    Ok(Update::builder()
        .table_name(table)
        .set_key(Some(item([("pk", s(format!("CUSTOMER#{customer}"))), ("sk", s("TOTALS"))])))
        .update_expression("ADD total_amount :amount, order_count :count SET customer_id = :customer")
        .expression_attribute_values(":amount", n(amount))
        .expression_attribute_values(":count", n(count))
        .expression_attribute_values(":customer", s(customer))
        .build()?)
}
