//! Realistic DynamoDB Streams payloads for the benchmarks: order items with strings,
//! numbers, sets, nested maps and lists, as NEW_AND_OLD_IMAGES modifies.

#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ddbstream::{BoxError, Change, Router};
use serde::Deserialize;
use serde_json::{json, Value};

fn s(v: impl Into<String>) -> Value {
    json!({ "S": v.into() })
}

fn n(v: impl ToString) -> Value {
    json!({ "N": v.to_string() })
}

fn order(i: usize, status: &str) -> Value {
    let lines: Vec<Value> = (0..1)
        .map(|l| {
            json!({"M": {
                "sku": s(format!("SKU-{:05}", (i * 7 + l) % 10_000)),
                "qty": n(1 + (i + l) % 5),
                "price": n(format!("{}.{:02}", 5 + (i * 13 + l) % 200, (i + l) % 100)),
            }})
        })
        .collect();
    json!({
        "order_id": s(format!("order#{i:08}")),
        "status": s(status),
        "amount": n(1_000 + (i * 37) % 90_000),
        "currency": s("EUR"),
        "gift": json!({"BOOL": i.is_multiple_of(3)}),
        "notes": if i.is_multiple_of(4) { json!({"NULL": true}) } else { s("Ring twice") },
        "tags": json!({"SS": ["web", format!("campaign-{}", i % 12)]}),
        "scores": json!({"NS": ["0.5", format!("{}", i % 100)]}),
        "customer": json!({"M": {
            "id": s(format!("customer#{:06}", i % 5_000)),
            "name": s("Ada"),
        }}),
        "items": json!({"L": lines}),
    })
}

/// The typed route every framework contender runs: a handler reading a decoded field of
/// both images, summed into `total` so the work cannot be optimized away.
pub fn router(total: &Arc<AtomicI64>) -> Router {
    let sink = Arc::clone(total);
    Router::new().stream("Orders", move |change: Change<Order, OrderKey>| {
        if let (Some(new), Some(old)) = (change.new_image(), change.old_image()) {
            sink.fetch_add(new.amount - old.amount + new.items.len() as i64, Ordering::Relaxed);
        }
        std::future::ready(Ok::<(), BoxError>(()))
    })
}

/// The code a Rust user writes today: `aws_lambda_events`' `Event`, then serde_dynamo per
/// image into `Order`, touching a decoded field of both. -1 if the payload does not parse.
pub fn baseline(bytes: &[u8]) -> i64 {
    let Ok(event) = serde_json::from_slice::<aws_lambda_events::dynamodb::Event>(bytes) else { return -1 };
    let mut total = 0;
    for record in event.records {
        let new: Result<Order, _> = serde_dynamo::from_item(record.change.new_image);
        let old: Result<Order, _> = serde_dynamo::from_item(record.change.old_image);
        if let (Ok(new), Ok(old)) = (new, old) {
            total += new.amount - old.amount + new.items.len() as i64;
        }
    }
    total
}

/// A Lambda event of `records` MODIFY records (status NEW -> PAID), about 1.2 KB each (the
/// size of the reference batch), so 5,000 records make a 6.0 MB payload, at Lambda's limit.
pub fn payload(records: usize) -> Vec<u8> {
    let records: Vec<Value> = (0..records)
        .map(|i| {
            json!({
                "eventID": format!("{:032x}", i * 7_919 + 13),
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_795_000_000 + i,
                    "Keys": {"order_id": s(format!("order#{i:08}"))},
                    "NewImage": order(i, "PAID"),
                    "OldImage": order(i, "NEW"),
                    "SequenceNumber": format!("{}", 4_421_584_500_000_000_000_000u128 + i as u128 * 100),
                    "SizeBytes": 1_100,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default()
}

/// The same records delivered through a table's Kinesis streaming destination: each change
/// base64 in `kinesis.data`, without `SequenceNumber` or `StreamViewType`, with `tableName`.
pub fn kinesis_payload(stream_payload: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let event: serde_json::Value = serde_json::from_slice(stream_payload).unwrap_or_default();
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    let kinesis: Vec<serde_json::Value> = records
        .into_iter()
        .map(|mut record| {
            let sequence_number = format!("4959{:0>52}", record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("0"));
            if let Some(change) = record["dynamodb"].as_object_mut() {
                change.remove("SequenceNumber");
                change.remove("StreamViewType");
            }
            let data = serde_json::json!({
                "awsRegion": record["awsRegion"],
                "eventID": record["eventID"],
                "eventName": record["eventName"],
                "recordFormat": "application/json",
                "tableName": "Orders",
                "dynamodb": record["dynamodb"],
                "eventSource": "aws:dynamodb",
            });
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["eventID"],
                    "sequenceNumber": sequence_number,
                    "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&data).unwrap_or_default()),
                    "approximateArrivalTimestamp": 1_700_000_000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence_number}"),
                "eventName": "aws:kinesis:record",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": kinesis })).unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    pub sku: String,
    pub qty: u32,
    pub price: f64,
}

/// The user's type.
#[derive(Debug, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub gift: bool,
    pub notes: Option<String>,
    pub tags: BTreeSet<String>,
    pub scores: Vec<f64>,
    pub customer: Customer,
    pub items: Vec<Line>,
}

#[derive(Debug, Deserialize)]
pub struct OrderKey {
    pub order_id: String,
}
