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
use ddbstream::{Context, Router};
use support::{baseline, kinesis_payload, payload, router};

fn framework(router: &Router, runtime: &tokio::runtime::Runtime, bytes: &[u8]) -> Vec<u8> {
    let response = runtime.block_on(router.handle(bytes, &Context::default()));
    serde_json::to_vec(&response.ok()).unwrap_or_default()
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
