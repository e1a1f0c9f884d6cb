//! Per-key concurrency (opt-in): records of different items run at the same time, at most
//! `limit` keys at once, and each item's records strictly in stream order. On a failure that
//! key stops, the other keys go on, and the answer names the lowest failed or not-started
//! record, so nothing is lost (records of other keys after it are redelivered: keep
//! handlers idempotent).
//!
//! ```sh
//! cargo run -p ddbstream --example per_key_concurrency
//! ```
//!
//! Nine changes of three orders, each taking 100 ms (a call to another service, say), run
//! in about a third of the time they take in order. It prints the order in which the changes
//! ran and exits non-zero if an order's changes ran out of stream order.

#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ddbstream::{BoxError, Change, Context, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct Order {
    status: String,
}

#[derive(Debug, Deserialize)]
struct OrderKey {
    pk: String,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    ddbstream::logging::init();
    let ran: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = Arc::clone(&ran);
    let router = Router::new()
        .stream("Orders", move |change: Change<Order, OrderKey>| {
            let log = Arc::clone(&log);
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let status = change.require_new()?.status.clone();
                log.lock().unwrap_or_else(PoisonError::into_inner).push((change.keys.pk, status));
                Ok::<(), BoxError>(())
            }
        })
        .per_key_concurrency(16);

    // Three orders, each going NEW -> PAID -> SHIPPED, interleaved in the stream.
    let mut records = Vec::new();
    for (step, status) in ["NEW", "PAID", "SHIPPED"].into_iter().enumerate() {
        let event_name = if step == 0 { "INSERT" } else { "MODIFY" };
        for pk in ["order#1", "order#2", "order#3"] {
            let sequence_number = format!("1{:020}", records.len() + 1);
            records.push(record(&sequence_number, event_name, pk, status));
        }
    }
    let started = Instant::now();
    let answer = router.handle_event(&json!({ "Records": records }), &Context::default()).await?;
    let elapsed = started.elapsed();

    let ran = ran.lock().unwrap_or_else(PoisonError::into_inner).clone();
    println!("{} changes in {} ms (900 ms one after another)", ran.len(), elapsed.as_millis());
    for (pk, status) in &ran {
        println!("  {pk} {status}");
    }
    if !answer.batch_item_failures.is_empty() || ran.len() != 9 {
        return Err(format!("expected every change to run, got {answer:?} after {ran:?}").into());
    }
    for pk in ["order#1", "order#2", "order#3"] {
        let statuses: Vec<&str> = ran.iter().filter(|(key, _)| key == pk).map(|(_, status)| status.as_str()).collect();
        if statuses != ["NEW", "PAID", "SHIPPED"] {
            return Err(format!("{pk} ran out of order: {statuses:?}").into());
        }
    }
    Ok(())
}

/// A change of the `Orders` table (view type `NEW_IMAGE`) as Lambda delivers it.
fn record(sequence_number: &str, event_name: &str, pk: &str, status: &str) -> Value {
    json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": { "pk": { "S": pk } },
            "NewImage": { "pk": { "S": pk }, "status": { "S": status } },
            "SequenceNumber": sequence_number,
            "SizeBytes": 48,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
    })
}
