//! Per-key concurrency with a simulated 2 ms I/O handler, 1,000 records over 100 keys,
//! against in-order processing and against the critical path (the longest per-key chain:
//! 10 records one after another), in one run.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ddbstream::{BoxError, Change, Context, Item, Router};
use serde_json::json;

const RECORDS: usize = 1_000;
const KEYS: usize = 100;
const IO: Duration = Duration::from_millis(2);

fn payload() -> Vec<u8> {
    let records: Vec<_> = (0..RECORDS)
        .map(|i| {
            let key = format!("order#{:03}", i % KEYS);
            json!({
                "eventID": format!("{i:032x}"), "eventName": "INSERT", "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
                "dynamodb": {"Keys": {"pk": {"S": key}}, "NewImage": {"pk": {"S": key}, "n": {"N": i.to_string()}},
                    "SequenceNumber": format!("{}", 4_421_584_500_000_000_000_000u128 + i as u128), "SizeBytes": 20,
                    "StreamViewType": "NEW_IMAGE"}
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default()
}

fn router(per_key: usize) -> Router {
    Router::new()
        .stream("Orders", |_: Change<Item>| async {
            tokio::time::sleep(IO).await;
            Ok::<(), BoxError>(())
        })
        .per_key_concurrency(per_key)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let bytes = payload();
    let mut group = c.benchmark_group("per_key_2ms_io_1000_records_100_keys");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, per_key) in [("per_key_100", 100), ("per_key_16", 16)] {
        let router = router(per_key);
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(router.handle(black_box(&bytes), &Context::default()))
                    .map(|r| r.batch_item_failures.len())
            })
        });
    }
    group.bench_function("critical_path", |b| {
        b.iter(|| {
            runtime.block_on(async {
                for _ in 0..RECORDS / KEYS {
                    tokio::time::sleep(IO).await;
                }
            })
        })
    });
    let sequential = router(1);
    group.sample_size(10);
    group.bench_function("in_order", |b| {
        b.iter(|| {
            runtime
                .block_on(sequential.handle(black_box(&bytes), &Context::default()))
                .map(|r| r.batch_item_failures.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
