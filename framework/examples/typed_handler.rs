//! A typed handler: an `async fn` over a `Change<T, K>` of your own types, registered for its
//! table and served by `Router::run`. This `main` is the whole of a deployable function.
//!
//! ```sh
//! cargo run -p ddbstream --example typed_handler
//! ```
//!
//! Under Lambda (or `cargo lambda watch`, which sets `AWS_LAMBDA_RUNTIME_API`) it serves
//! invocations. Anywhere else it hands the router one canned event of three changes, the
//! last of which fails, prints the answer Lambda would get, and exits non-zero if the answer
//! is not the expected one.

#![allow(clippy::print_stdout)]

use ddbstream::{BoxError, Change, ChangeKind, Context, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// An order as the `Orders` table holds it. Attributes the type does not name are ignored.
#[derive(Debug, Deserialize)]
struct Order {
    pk: String,
    amount: i64,
    status: String,
}

/// The table's key attributes (the change's `Keys`).
#[derive(Debug, Deserialize)]
struct OrderKey {
    pk: String,
}

/// Called once per change, in stream order. An error fails this record: Lambda retries from
/// it, and nothing after it runs in this invocation.
async fn on_order(change: Change<Order, OrderKey>) -> Result<(), BoxError> {
    match &change.kind {
        ChangeKind::Insert { new: Some(order) } if order.amount < 0 => {
            return Err(format!("order {} has a negative amount", order.pk).into());
        }
        ChangeKind::Insert { new: Some(order) } => tracing::info!(pk = %order.pk, amount = order.amount, "new order"),
        ChangeKind::Modify { old: Some(old), new: Some(new) } if old.status != new.status => {
            tracing::info!(pk = %change.keys.pk, from = %old.status, to = %new.status, "status changed");
        }
        ChangeKind::Remove { .. } if change.is_ttl_expiry() => tracing::info!(pk = %change.keys.pk, "expired"),
        _ => {}
    }
    Ok(())
}

fn router() -> Router {
    Router::new().stream("Orders", on_order)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return router().run().await;
    }
    let event = json!({ "Records": [
        record("100000000000000000001", "INSERT", order("order#1", 4250, "NEW"), None),
        record("100000000000000000002", "MODIFY", order("order#1", 4250, "PAID"), Some(order("order#1", 4250, "NEW"))),
        record("100000000000000000003", "INSERT", order("order#2", -1, "NEW"), None),
    ]});
    let answer = router().handle_event(&event, &Context::default()).await?;
    println!("{}", serde_json::to_string(&answer)?);
    if answer.failed_identifiers() != ["100000000000000000003"] {
        return Err(format!("expected the third record to be reported, got {answer:?}").into());
    }
    Ok(())
}

/// An order item in DynamoDB JSON, as a stream record carries it.
fn order(pk: &str, amount: i64, status: &str) -> Value {
    json!({ "pk": { "S": pk }, "amount": { "N": amount.to_string() }, "status": { "S": status } })
}

/// A record of the `Orders` stream (view type `NEW_AND_OLD_IMAGES`) as Lambda delivers it.
fn record(sequence_number: &str, event_name: &str, new: Value, old: Option<Value>) -> Value {
    let keys = json!({ "pk": new["pk"].clone() });
    let mut change = json!({
        "ApproximateCreationDateTime": 1_795_000_000,
        "Keys": keys,
        "NewImage": new,
        "SequenceNumber": sequence_number,
        "SizeBytes": 64,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        change["OldImage"] = old;
    }
    json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
    })
}
