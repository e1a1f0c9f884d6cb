//! The end-to-end benchmark's contenders, each a Lambda function served by the runtime crate
//! (`make bench` builds this in release and `scripts/bench_e2e.py` drives it through a
//! Runtime API stand-in), and the payloads they are given:
//!
//! - `e2e framework`: `Router::run` with the typed route of `benches/decode.rs`;
//! - `e2e baseline`: what a Rust user writes today: `LambdaEvent<aws_lambda_events::dynamodb::Event>`,
//!   then `serde_dynamo::from_item` of both images of every record;
//! - `e2e floor`: a function that only reads and validates the JSON (`IgnoredAny`);
//! - `e2e payload <records> <stream|kinesis>`: writes the payload to stdout.

#![allow(missing_docs, unreachable_pub)]

#[path = "../benches/support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use ddbstream::DynamoDbEventResponse;
use lambda_runtime::{service_fn, LambdaEvent};
use support::{kinesis_payload, payload, router, Order};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("payload") => {
            let records = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5_000);
            let stream = payload(records);
            let bytes =
                if args.get(2).map(String::as_str) == Some("kinesis") { kinesis_payload(&stream) } else { stream };
            std::io::stdout().lock().write_all(&bytes)?;
            Ok(())
        }
        Some("framework") => router(&Arc::new(AtomicI64::new(0))).run().await,
        Some("baseline") => {
            lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::dynamodb::Event>| async move {
                let mut total = 0i64;
                for record in event.payload.records {
                    let new: Result<Order, _> = serde_dynamo::from_item(record.change.new_image);
                    let old: Result<Order, _> = serde_dynamo::from_item(record.change.old_image);
                    if let (Ok(new), Ok(old)) = (new, old) {
                        total += new.amount - old.amount + new.items.len() as i64;
                    }
                }
                std::hint::black_box(total);
                Ok::<_, lambda_runtime::Error>(DynamoDbEventResponse::default())
            }))
            .await
        }
        Some("floor") => {
            lambda_runtime::run(service_fn(|_: LambdaEvent<serde::de::IgnoredAny>| async {
                Ok::<_, lambda_runtime::Error>(DynamoDbEventResponse::default())
            }))
            .await
        }
        _ => Err("usage: e2e (framework | baseline | floor | payload <records> <stream|kinesis>)".into()),
    }
}
