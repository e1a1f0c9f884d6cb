//! Cross-table update: per-customer order count and total, maintained from order changes.
//! Exactly once per change, in order: the function applies these writes through its guard
//! (see [`crate::orders`]).

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use ddbstream::{BoxError, Change, EventName};

use crate::model::{Order, OrderKey};
use crate::store::{item, n, s};

/// The totals deltas of one order change.
pub fn plan(change: &Change<Order, OrderKey>, table: &str) -> Result<Vec<TransactWriteItem>, BoxError> {
    let (old, new) = match change.event_name() {
        EventName::Insert => (None, Some(change.require_new()?)),
        EventName::Modify => (Some(change.require_old()?), Some(change.require_new()?)),
        EventName::Remove => (Some(change.require_old()?), None),
    };
    let mut writes = Vec::new();
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
