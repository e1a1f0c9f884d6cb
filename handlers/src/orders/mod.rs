//! The `orders-projector` function, on the `Orders` stream: per-customer totals
//! ([`totals`]) and shipping notifications ([`shipping`]), one transaction per change.
//!
//! Idempotency: each change's writes go through [`ExactlyOnce`], whose guard for the order
//! (`pk = orders-projector#Orders#{"order_id":"<id>"}`, `sk = GUARD`, in `CustomerTotals`;
//! the consumer named in code, [`FUNCTION`], so that the runner and the redrive share the
//! deployed function's guards whatever its deployed name) holds the
//! sequence number of the last change applied and is checked and written in the same
//! transaction. A redelivered change, or an older one replayed after a newer, fails the
//! guard and nothing is written: totals move exactly once per change, in order, and a
//! shipment writes one notification. The guard outlives a removed order, so a replayed
//! insert cannot bring it back.

pub mod shipping;
pub mod totals;

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use ddbstream::dynamodb::{Applied, ExactlyOnce};
use ddbstream::{BoxError, Change, Router, State};

use crate::config::{required, MissingSetting};
use crate::model::{Order, OrderKey};

/// The consumer its guards belong to.
pub const FUNCTION: &str = "orders-projector";

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

/// What the function needs: its tables and the guard.
#[derive(Clone, Debug)]
pub struct Projector {
    /// Where it reads and writes.
    pub tables: Tables,
    /// Guards in `CustomerTotals`, sort key `GUARD`.
    pub once: ExactlyOnce,
}

impl Projector {
    /// The projector over `tables`, through `client`.
    pub fn new(client: Client, tables: Tables) -> Self {
        let once = ExactlyOnce::new(client, &tables.totals).sort_key("sk", "GUARD").consumer(FUNCTION);
        Self { tables, once }
    }
}

/// Every write for one order change (totals deltas, a notification), for one transaction.
pub fn plan(change: &Change<Order, OrderKey>, tables: &Tables) -> Result<Vec<TransactWriteItem>, BoxError> {
    let mut writes = totals::plan(change, &tables.totals)?;
    writes.extend(shipping::plan(change, &tables.outbox)?);
    Ok(writes)
}

/// Applies one order change, exactly once.
pub async fn apply(projector: &Projector, change: Change<Order, OrderKey>) -> Result<Applied, BoxError> {
    Ok(projector.once.apply(&change, plan(&change, &projector.tables)?).await?)
}

/// The route's handler.
pub async fn on_order(State(projector): State<Projector>, change: Change<Order, OrderKey>) -> Result<(), BoxError> {
    apply(&projector, change).await.map(drop)
}

/// The function's router: the `Orders` stream, one change at a time.
pub fn router(client: Client, tables: Tables) -> Router {
    let orders = tables.orders.clone();
    Router::new().with_state(Projector::new(client, tables)).stream(&orders, on_order)
}
