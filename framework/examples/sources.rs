//! One router, every source (feature `testing` for the kit's events): the same handler is
//! served a DynamoDB stream's event (`{"Records": [...]}`, a failure named by its sequence
//! number), an EventBridge pipe's batch (a bare array, named by `eventID`) and a table's
//! Kinesis streaming destination (base64 changes in Kinesis records, named by the Kinesis
//! sequence number). The router tells them apart by the payload's shape.
//!
//! ```sh
//! cargo run -p ddbstream --example sources --features testing
//! ```
//!
//! Three orders, the second of which cannot ship, are delivered in each shape; the example
//! prints each answer and exits non-zero if one does not name the second order's record.

#![allow(clippy::print_stdout)]

use ddbstream::testing::{kinesis_event, kinesis_sequence_number, lambda_event, pipes_event, KeySchema, Table};
use ddbstream::{BatchResponse, BoxError, Change, Context, Router, StreamViewType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    pk: String,
    status: String,
}

async fn on_order(change: Change<Order>) -> Result<(), BoxError> {
    match change.new_image() {
        Some(order) if order.status == "BROKEN" => Err(format!("cannot ship {}", order.pk).into()),
        _ => Ok(()),
    }
}

/// Fails unless the answer names exactly `expected`.
fn named(source: &str, answer: &BatchResponse, expected: &str) -> Result<(), BoxError> {
    println!("{source:<15} {}", serde_json::to_string(answer)?);
    if answer.failed_identifiers() == [expected] {
        Ok(())
    } else {
        Err(format!("{source}: expected {expected} to be named").into())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let router = Router::new().stream("Orders", on_order);
    let mut orders = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    let mut records = Vec::new();
    for (pk, status) in [("order#1", "NEW"), ("order#2", "BROKEN"), ("order#3", "NEW")] {
        records.extend(orders.put_value(&Order { pk: pk.to_owned(), status: status.to_owned() })?);
    }
    let broken = &records[1];

    // A DynamoDB stream's event source mapping: named by its sequence number.
    let answer = router.handle(&lambda_event(&records), &Context::default()).await?;
    named("stream event", &answer, broken.sequence_number.as_str())?;
    // An EventBridge pipe: a bare array, named by eventID.
    let answer = router.handle(&pipes_event(&records), &Context::default()).await?;
    named("pipe", &answer, &broken.event_id)?;
    // A table's Kinesis streaming destination: named by the Kinesis sequence number.
    let answer = router.handle(&kinesis_event(&records), &Context::default()).await?;
    // The kit's shard received the records in this order: the second arrived second.
    named("kinesis", &answer, &kinesis_sequence_number(1))?;
    Ok(())
}
