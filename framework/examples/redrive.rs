//! Redrive (feature `redrive`): the records Lambda discarded after its retries, run again
//! through the same `Router`. A mapping's on-failure destination keeps one document per
//! discarded batch: an S3 destination the whole invocation (its `payload`), an SQS queue or
//! SNS topic only the batch's sequence range, re-read from the stream (24 hours' retention)
//! when you pass one (`Some(&DynamoDbStreams::new(client))`).
//!
//! ```sh
//! cargo run -p ddbstream --example redrive --features redrive
//! ```
//!
//! An S3 destination's document for a batch of three orders is redriven: the first is
//! processed, the second fails again (it still cannot ship), the third does not start (records
//! run in stream order and stop at the first failure, as under Lambda). It prints each
//! record's fate and exits non-zero if the fates are not those.

#![allow(clippy::print_stdout)]

use ddbstream::redrive::{redrive, ExpiredClaims, RecordFate};
use ddbstream::runner::DynamoDbStreams;
use ddbstream::{BoxError, Change, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct Order {
    status: String,
}

async fn on_order(change: Change<Order>) -> Result<(), BoxError> {
    match change.new_image() {
        Some(order) if order.status == "BROKEN" => Err("this order still cannot ship".into()),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    ddbstream::logging::init();
    let router = Router::new().stream("Orders", on_order);
    let records = [
        record("100000000000000000001", "NEW"),
        record("100000000000000000002", "BROKEN"),
        record("100000000000000000003", "NEW"),
    ];
    let document = json!({
        "requestContext": { "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6 },
        "version": "1.0",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001795000000000-0000",
            "startSequenceNumber": "100000000000000000001",
            "endSequenceNumber": "100000000000000000003",
            "batchSize": 3,
            "streamArn": STREAM,
        },
        "payload": { "Records": records },
    });
    // The document carries its payload, so no stream is needed to re-read the records.
    let document = serde_json::to_vec(&document)?;
    let redriven = redrive::<DynamoDbStreams>(&router, None, &document, ExpiredClaims::Refuse)
        .await
        .map_err(|error| error.to_string())?;
    for (record, fate) in &redriven.records {
        println!("{record} {fate:?}");
    }
    let fates: Vec<&RecordFate> = redriven.records.iter().map(|(_, fate)| fate).collect();
    match fates.as_slice() {
        [RecordFate::Processed, RecordFate::Failed(_), RecordFate::NotStarted] => Ok(()),
        _ => Err(format!("expected processed, failed, not started; got {fates:?}").into()),
    }
}

const STREAM: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000";

/// An insert into the `Orders` table (view type `NEW_IMAGE`) as Lambda delivered it.
fn record(sequence_number: &str, status: &str) -> Value {
    json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": { "pk": { "S": format!("order-{sequence_number}") } },
            "NewImage": { "pk": { "S": format!("order-{sequence_number}") }, "status": { "S": status } },
            "SequenceNumber": sequence_number,
            "SizeBytes": 48,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM,
    })
}
