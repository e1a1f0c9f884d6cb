//! The `orders-projector` function, on the `Orders` stream: per-customer totals
//! ([`totals`]) and shipping notifications ([`shipping`]), one transaction per change.

pub mod shipping;
pub mod totals;

use std::sync::Arc;

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use ddbstream::{BoxError, Change, Router};

use crate::config::{required, MissingSetting};
use crate::model::{Order, OrderKey};
use crate::store::{apply, Applied};

/// Where the function reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// The `Orders` table, whose stream the function reads.
    pub orders: String,
    /// `CustomerTotals`: totals and order contributions.
    pub totals: String,
    /// `Outbox`: notifications.
    pub outbox: String,
}

impl Tables {
    /// From `ORDERS_TABLE`, `CUSTOMER_TOTALS_TABLE`, `OUTBOX_TABLE`.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self {
            orders: required("ORDERS_TABLE")?,
            totals: required("CUSTOMER_TOTALS_TABLE")?,
            outbox: required("OUTBOX_TABLE")?,
        })
    }
}

/// Every write for one order change, as one transaction: the guarded contribution first.
pub fn plan(change: &Change<Order, OrderKey>, tables: &Tables) -> Result<Vec<TransactWriteItem>, BoxError> {
    let mut writes = totals::plan(change, &tables.totals)?;
    writes.extend(shipping::plan(change, &tables.outbox)?);
    Ok(writes)
}

/// Applies one order change.
pub async fn handle(client: &Client, tables: &Tables, change: Change<Order, OrderKey>) -> Result<Applied, BoxError> {
    apply(client, plan(&change, tables)?).await
}

/// The function's router: the `Orders` stream, one change at a time.
pub fn router(client: Client, tables: Tables) -> Router {
    let orders = tables.orders.clone();
    let shared = Arc::new((client, tables));
    Router::new().stream(&orders, move |change: Change<Order, OrderKey>| {
        let shared = Arc::clone(&shared);
        async move { handle(&shared.0, &shared.1, change).await.map(|_| ()) }
    })
}
