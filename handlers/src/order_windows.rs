//! The `order-windows` function: new orders per tumbling window, read from the `Orders`
//! table's Kinesis streaming destination (so the table's own stream keeps two readers), and
//! written once per window and shard to `OrderWindows`.
//!
//! - [`add`] folds each change into the window's [`WindowTotals`]: an inserted order adds
//!   one order and its amount; other changes leave the totals as they are.
//! - [`write_window`] runs once at the window's final invocation. Lambda may run it again (an
//!   answer lost, a retry), always with the same state for the same window and shard, so
//!   the write is a `PutItem` conditional on the item not existing yet: a second run finds
//!   it written and succeeds without writing.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use ddbstream::{window, BoxError, Change, ChangeKind, Router, State, WindowEnd};
use serde::{Deserialize, Serialize};

use crate::config::{required, MissingSetting};
use crate::model::{Order, OrderKey};
use crate::store::{n, s};

/// One window's totals: the state Lambda carries between the window's invocations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowTotals {
    /// Orders inserted in the window.
    pub orders: u64,
    /// Their amounts, in cents.
    pub amount: i64,
}

/// Folds one change into the window's totals.
pub fn add(totals: &mut WindowTotals, change: Change<Order, OrderKey>) -> Result<(), BoxError> {
    if let ChangeKind::Insert { new: Some(order) } = &change.kind {
        totals.orders += 1;
        totals.amount = totals.amount.checked_add(order.amount).ok_or("the window's amount overflows")?;
    }
    Ok(())
}

/// The `OrderWindows` item for a window: key `window_start` and `shard_id`, its end, its
/// totals, and whether Lambda ended it early.
pub fn item(end: &WindowEnd<WindowTotals>) -> std::collections::HashMap<String, AttributeValue> {
    crate::store::item([
        ("window_start", s(&end.start)),
        ("shard_id", s(&end.shard_id)),
        ("window_end", s(&end.end)),
        ("orders", n(end.state.orders)),
        ("amount", n(end.state.amount)),
        ("terminated_early", AttributeValue::Bool(end.terminated_early)),
    ])
}

/// Where the function writes.
#[derive(Clone, Debug)]
pub struct Windows {
    /// The SDK client.
    pub client: Client,
    /// The `OrderWindows` table.
    pub table: String,
}

impl Windows {
    /// `ORDER_WINDOWS_TABLE`, through `client`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self { client, table: required("ORDER_WINDOWS_TABLE")? })
    }
}

/// The window's final step: writes its item once.
pub async fn write_window(State(windows): State<Windows>, end: WindowEnd<WindowTotals>) -> Result<(), BoxError> {
    let put = windows
        .client
        .put_item()
        .table_name(&windows.table)
        .set_item(Some(item(&end)))
        .condition_expression("attribute_not_exists(window_start)")
        .send()
        .await;
    match put {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(err)) if matches!(err.err(), PutItemError::ConditionalCheckFailedException(_)) => {
            tracing::info!(start = %end.start, shard_id = %end.shard_id, "window already written");
            Ok(())
        }
        Err(err) => Err(ddbstream::error_chain(&err).into()),
    }
}

/// The function's router: every table streaming into the Kinesis stream is folded by one
/// window route (the window's state belongs to the Kinesis shard).
pub fn router(windows: Windows) -> Router {
    Router::new().with_state(windows).fallback(window(add, write_window))
}
