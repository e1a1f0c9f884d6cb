//! Shared state, as with axum: register what handlers share (SDK clients, table names,
//! settings) once with `Router::with_state`, and take it as the handler's first argument,
//! `State<S>`. Each call gets a clone, so make `S` cheap to clone (SDK clients are; wrap
//! the rest in an `Arc`). Per-change and batch handlers take it alike.
//!
//! ```sh
//! cargo run -p ddbstream --example state
//! ```
//!
//! Orders add up into per-customer totals and new customers are counted, both through the
//! router's state; it prints the totals and exits non-zero if they are not the expected ones.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ddbstream::{BatchFailure, BoxError, Change, Context, EventName, Item, Router, State};
use serde::Deserialize;
use serde_json::{json, Value};

/// What the handlers share. In a real function: an SDK client and the table names.
#[derive(Clone, Default)]
struct Shop {
    totals_table: String,
    totals: Arc<Mutex<BTreeMap<String, i64>>>,
    new_customers: Arc<AtomicUsize>,
}

#[derive(Debug, Deserialize)]
struct Order {
    customer: String,
    amount: i64,
}

/// A per-change handler with the router's state first.
async fn on_order(State(shop): State<Shop>, change: Change<Order>) -> Result<(), BoxError> {
    if change.event_name() != EventName::Insert {
        return Ok(());
    }
    let order = change.require_new()?;
    let mut totals = shop.totals.lock().unwrap_or_else(PoisonError::into_inner);
    *totals.entry(order.customer.clone()).or_default() += order.amount;
    tracing::info!(table = %shop.totals_table, customer = %order.customer, "total updated");
    Ok(())
}

/// A batch handler with the router's state first, registered with `Router::stream` as is.
async fn on_customers(State(shop): State<Shop>, changes: Vec<Change<Item>>) -> Result<(), BatchFailure> {
    let inserts = changes.iter().filter(|change| change.event_name() == EventName::Insert).count();
    shop.new_customers.fetch_add(inserts, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    ddbstream::logging::init();
    let shop = Shop { totals_table: "CustomerTotals".into(), ..Shop::default() };
    let router = Router::new().with_state(shop.clone()).stream("Orders", on_order).stream("Customers", on_customers);

    let orders = json!({ "Records": [
        record("Orders", "100000000000000000001", order("order#1", "c-1", 100)),
        record("Orders", "100000000000000000002", order("order#2", "c-2", 70)),
        record("Orders", "100000000000000000003", order("order#3", "c-1", 50)),
    ]});
    let customers = json!({ "Records": [
        record("Customers", "200000000000000000001", json!({ "pk": { "S": "c-1" }, "name": { "S": "Ada" } })),
        record("Customers", "200000000000000000002", json!({ "pk": { "S": "c-2" }, "name": { "S": "Grace" } })),
    ]});
    for event in [orders, customers] {
        let answer = router.handle_event(&event, &Context::default()).await?;
        if !answer.batch_item_failures.is_empty() {
            return Err(format!("expected every change to be processed, got {answer:?}").into());
        }
    }

    let totals = shop.totals.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let new_customers = shop.new_customers.load(Ordering::SeqCst);
    println!("totals {totals:?}, new customers {new_customers}");
    let expected: BTreeMap<String, i64> = BTreeMap::from([("c-1".to_owned(), 150), ("c-2".to_owned(), 70)]);
    if totals != expected || new_customers != 2 {
        return Err(format!("expected totals {expected:?} and 2 new customers").into());
    }
    Ok(())
}

/// An order item in DynamoDB JSON.
fn order(pk: &str, customer: &str, amount: i64) -> Value {
    json!({ "pk": { "S": pk }, "customer": { "S": customer }, "amount": { "N": amount.to_string() } })
}

/// An insert into `table` (view type `NEW_IMAGE`, key `pk`) as Lambda delivers it.
fn record(table: &str, sequence_number: &str, new: Value) -> Value {
    let keys = json!({ "pk": new["pk"].clone() });
    let stream = format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{table}/stream/2026-11-01T00:00:00.000");
    json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": keys,
            "NewImage": new,
            "SequenceNumber": sequence_number,
            "SizeBytes": 48,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": stream,
    })
}
