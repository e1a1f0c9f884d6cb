//! End to end (bytes in, response bytes out, a handler touching a decoded field) against
//! the code a Rust user writes today (aws_lambda_events' `Event`, then serde_dynamo per
//! image) and the floor (`serde_json` over the bytes into `IgnoredAny`), on the same
//! payloads, in one run.

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ddbstream::{BoxError, Change, Context, Router};
use support::{baseline, payload, Order, OrderKey};

fn framework(router: &Router, runtime: &tokio::runtime::Runtime, bytes: &[u8]) -> Vec<u8> {
    let response = runtime.block_on(router.handle(bytes, &Context::default()));
    serde_json::to_vec(&response.ok()).unwrap_or_default()
}

/// The typed route every framework contender runs: a handler reading a decoded field of
/// both images, summed into `total` so the work cannot be optimized away.
fn router(total: &Arc<AtomicI64>) -> Router {
    let sink = Arc::clone(total);
    Router::new().stream("Orders", move |change: Change<Order, OrderKey>| {
        if let (Some(new), Some(old)) = (change.new_image(), change.old_image()) {
            sink.fetch_add(new.amount - old.amount + new.items.len() as i64, Ordering::Relaxed);
        }
        std::future::ready(Ok::<(), BoxError>(()))
    })
}

fn floor(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let total = Arc::new(AtomicI64::new(0));
    let router = router(&total);
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);
    for records in [100, 1_000, 5_000] {
        let bytes = payload(records);
        assert_eq!(
            framework(&router, &runtime, &bytes),
            br#"{"batchItemFailures":[]}"#,
            "the framework processes every record"
        );
        assert!(baseline(&bytes) >= 0 && floor(&bytes));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("framework", records), &bytes, |b, bytes| {
            b.iter(|| framework(&router, &runtime, black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("baseline", records), &bytes, |b, bytes| {
            b.iter(|| baseline(black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("floor", records), &bytes, |b, bytes| {
            b.iter(|| floor(black_box(bytes)))
        });
    }
    group.finish();
    black_box(total.load(Ordering::Relaxed));
}

/// The same records delivered through a table's Kinesis streaming destination: each change
/// base64 in `kinesis.data`, without `SequenceNumber` or `StreamViewType`, with `tableName`.
fn kinesis_payload(stream_payload: &[u8]) -> Vec<u8> {
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

/// The framework on the same records as a stream event and through Kinesis, in one run.
fn sources(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let total = Arc::new(AtomicI64::new(0));
    let router = router(&total);
    let mut group = c.benchmark_group("sources");
    group.sample_size(20);
    for records in [1_000, 3_000] {
        let stream = payload(records);
        let kinesis = kinesis_payload(&stream);
        assert!(kinesis.len() > stream.len(), "base64 makes the Kinesis payload larger");
        for bytes in [&stream, &kinesis] {
            assert_eq!(framework(&router, &runtime, bytes), br#"{"batchItemFailures":[]}"#, "every record processed");
        }
        group.bench_with_input(BenchmarkId::new("stream-event", records), &stream, |b, bytes| {
            b.iter(|| framework(&router, &runtime, black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("kinesis", records), &kinesis, |b, bytes| {
            b.iter(|| framework(&router, &runtime, black_box(bytes)))
        });
    }
    group.finish();
    black_box(total.load(Ordering::Relaxed));
}

criterion_group!(benches, bench, sources);
criterion_main!(benches);
