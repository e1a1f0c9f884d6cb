//! A batch handler: one call with all the batch's changes, in stream order (for one
//! `BatchWriteItem`, or one request to another service), answering which change failed
//! first. The changes before it count as processed; Lambda retries from it.
//!
//! ```sh
//! cargo run -p ddbstream --example batch_handler
//! ```
//!
//! It hands the router one canned event of four orders, the third of which is refused,
//! prints the answer, and exits non-zero if the answer does not name the third record.

#![allow(clippy::print_stdout)]

use ddbstream::{batch, BatchFailure, BoxError, Change, Context, EventName, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct Order {
    amount: i64,
}

#[derive(Debug, Deserialize)]
struct OrderKey {
    pk: String,
}

/// Archives the batch's orders in one write. An order with a negative amount cannot be
/// archived: the orders before it are written, and the answer names it.
async fn archive(changes: Vec<Change<Order, OrderKey>>) -> Result<(), BatchFailure> {
    let refused = changes.iter().position(|change| change.new_image().is_some_and(|order| order.amount < 0));
    let writable = &changes[..refused.unwrap_or(changes.len())];
    let rows: Vec<String> = writable
        .iter()
        .filter_map(|change| change.new_image().map(|order| format!("{} {}", change.keys.pk, order.amount)))
        .collect();
    // One write for the whole batch would go here; `?` on its error fails the batch from its
    // first change (`BatchFailure` converts from any error), so nothing is acknowledged.
    tracing::info!(?rows, "archived in one write");
    match refused {
        Some(index) => Err(BatchFailure::at(index, format!("order {} has a negative amount", changes[index].keys.pk))),
        None => Ok(()),
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    ddbstream::logging::init();
    // Only inserts and modifies reach the handler; removes count as processed.
    let router = Router::new().stream("Orders", batch(archive).only([EventName::Insert, EventName::Modify]));
    let event = json!({ "Records": [
        record("100000000000000000001", "order#1", 100),
        record("100000000000000000002", "order#2", 250),
        record("100000000000000000003", "order#3", -5),
        record("100000000000000000004", "order#4", 70),
    ]});
    let answer = router.handle_event(&event, &Context::default()).await?;
    println!("{}", serde_json::to_string(&answer)?);
    if answer.failed_identifiers() != ["100000000000000000003"] {
        return Err(format!("expected the third record to be reported, got {answer:?}").into());
    }
    Ok(())
}

/// An insert into the `Orders` table (view type `NEW_IMAGE`) as Lambda delivers it.
fn record(sequence_number: &str, pk: &str, amount: i64) -> Value {
    json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": { "pk": { "S": pk } },
            "NewImage": { "pk": { "S": pk }, "amount": { "N": amount.to_string() } },
            "SequenceNumber": sequence_number,
            "SizeBytes": 48,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
    })
}
