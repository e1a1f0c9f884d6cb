//! Tumbling windows (`TumblingWindowInSeconds` on the mapping; feature `testing` for the
//! kit's window events and simulator): a window route folds each change into a typed state,
//! in stream order, and calls a final step once per window with the state folded over the
//! whole window. Lambda carries the state between the window's invocations: every answer
//! holds it.
//!
//! ```sh
//! cargo run -p ddbstream --example windows --features testing
//! ```
//!
//! First one window's two invocations by hand, then Lambda's mapping simulated over orders
//! spread across two 5-minute windows; it prints what each final step got and exits
//! non-zero if a window's count is not the expected one.

#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ddbstream::testing::{
    lambda_event, window_event, EventSourceMapping, Fate, KeySchema, Simulator, Table, WindowInvocation,
};
use ddbstream::{window, BoxError, Change, Context, Router, State, StreamViewType, WindowEnd};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    pk: String,
    amount: i64,
}

/// The window's state: it travels through Lambda as JSON between the window's invocations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Totals {
    orders: u64,
    amount: i64,
}

/// The fold: synchronous, a function of the state and the change (a retried batch folds
/// again from the state it started with).
fn add(totals: &mut Totals, change: Change<Order>) -> Result<(), BoxError> {
    if let Some(order) = change.new_image() {
        totals.orders += 1;
        totals.amount += order.amount;
    }
    Ok(())
}

/// Where the final steps write; in a real function, an SDK client and a table name.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<WindowEnd<Totals>>>>);

/// The final step: once per window, with the router's state first. Lambda may run it again
/// for the same window, so what it writes must be idempotent (keyed by start and shard).
async fn write_totals(State(written): State<Written>, end: WindowEnd<Totals>) -> Result<(), BoxError> {
    let Totals { orders, amount } = &end.state;
    println!("{} to {} on {}: {orders} orders, {amount} in all", end.start, end.end, end.shard_id);
    written.0.lock().unwrap_or_else(PoisonError::into_inner).push(end);
    Ok(())
}

fn order(pk: &str, amount: i64) -> Order {
    Order { pk: pk.to_owned(), amount }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let written = Written::default();
    let router = Router::new().with_state(written.clone()).stream("Orders", window(add, write_totals));
    let mut orders = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    let mut first_window = Vec::new();
    for (pk, amount) in [("order#1", 100), ("order#2", 250)] {
        first_window.extend(orders.put_value(&order(pk, amount))?);
    }

    // By hand: each invocation of the window answers with its state...
    let first = first_window.first().ok_or("no record")?;
    let invocation = WindowInvocation::holding(first.approximate_creation_time, 300, "shardId-1", &first.stream_arn);
    let event = window_event(&lambda_event(&first_window), &invocation);
    let answer = router.handle(&event, &Context::default()).await?;
    let state = json!({ "orders": 2, "amount": 350 });
    if answer.state.as_ref() != Some(&state) {
        return Err(format!("expected the state {state}, got {:?}", answer.state).into());
    }
    // ...and the window's final invocation (here without records) runs the final step.
    let last = invocation.with_state(state).last();
    router.handle(&window_event(&lambda_event(&[]), &last), &Context::default()).await?;

    // Simulated: five minutes later, a third order falls in the next window.
    orders.advance(300);
    orders.put_value(&order("order#3", 70))?;
    written.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
    let five_minutes = Duration::from_secs(300);
    let mapping = EventSourceMapping { tumbling_window: Some(five_minutes), ..EventSourceMapping::default() };
    let shard = orders.stream().describe().first().map(|shard| shard.shard_id.clone()).ok_or("no shard")?;
    let records = orders.stream().shard_records(&shard)?.to_vec();
    let mut lambda = Simulator::new(&router, mapping, &shard, records.clone());
    let trace = lambda.run().await;
    if !records.iter().all(|record| matches!(trace.fate(&record.sequence_number), Fate::Acknowledged(_))) {
        return Err("expected every record to be acknowledged".into());
    }
    let ends: Vec<(u64, i64)> = {
        let written = written.0.lock().unwrap_or_else(PoisonError::into_inner);
        written.iter().map(|end| (end.state.orders, end.state.amount)).collect()
    };
    if ends != [(2, 350), (1, 70)] || trace.windows().len() != 2 {
        return Err(format!("expected two windows of 2 and 1 orders, got {ends:?}").into());
    }
    Ok(())
}
