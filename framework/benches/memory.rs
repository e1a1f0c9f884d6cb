//! Peak heap memory while handling the 5,000-record, 6 MB batch: the framework end to end
//! against the baseline (aws_lambda_events' `Event`, then serde_dynamo per image), each in
//! a fresh process of its own under dhat's counting allocator. The payload's own bytes are
//! counted in both, as they are in a Lambda function's memory. Prints one line per
//! contender and writes `target/bench-figures/memory.json` for `scripts/bench_chart.py`.

#![allow(missing_docs, clippy::print_stdout)]

mod support;

use std::hint::black_box;
use std::process::Command;

use ddbstream::{BoxError, Change, Context, Router};
use support::{baseline, payload, Order, OrderKey};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const RECORDS: usize = 5_000;

fn framework(bytes: Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let router = Router::new().stream("Orders", |change: Change<Order, OrderKey>| {
        black_box(change.new_image().map(|order| order.amount + order.items.len() as i64));
        std::future::ready(Ok::<(), BoxError>(()))
    });
    // As `Router::run` hands over the bytes the Runtime API sent: kept, not copied.
    let response = runtime.block_on(router.handle_bytes(ddbstream::Bytes::from(bytes), &Context::default()));
    let body = serde_json::to_vec(&response.ok()).unwrap_or_default();
    assert_eq!(body, br#"{"batchItemFailures":[]}"#, "the framework processes every record");
}

/// In a child process: peak heap bytes of one contender, counted by dhat from the moment
/// the payload is in memory (the payload's own bytes are added).
fn measure(contender: &str) {
    let bytes = payload(RECORDS);
    let size = bytes.len();
    let profiler = dhat::Profiler::builder().testing().build();
    match contender {
        "framework" => framework(bytes),
        _ => {
            black_box(baseline(&bytes));
        }
    }
    let peak = dhat::HeapStats::get().max_bytes;
    drop(profiler);
    println!("{size} {peak}");
}

/// Runs `contender` in a fresh process and returns (payload bytes, peak heap bytes).
fn child(contender: &str) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(exe).arg(contender).output().unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match numbers[..] {
        [size, peak] => (size, size + peak),
        _ => panic!("{contender} printed {text:?}; stderr: {}", String::from_utf8_lossy(&output.stderr)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    for contender in ["framework", "baseline"] {
        if args.iter().any(|a| a == contender) {
            return measure(contender);
        }
    }
    let (size, framework) = child("framework");
    let (_, baseline) = child("baseline");
    println!("peak heap, {RECORDS} records, {:.2} MB payload (the payload's bytes included):", size / 1e6);
    for (name, peak) in [("framework", framework), ("baseline", baseline)] {
        println!("  {name:<10} {:>7.2} MB  {:>5.2}x the payload", peak / 1e6, peak / size);
    }
    let figures = serde_json::json!({
        "records": RECORDS,
        "payload_bytes": size,
        "framework_peak_bytes": framework,
        "baseline_peak_bytes": baseline,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-figures");
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("memory.json"), figures.to_string()));
    if let Err(error) = written {
        eprintln!("could not write {}: {error}", dir.display());
    }
}
