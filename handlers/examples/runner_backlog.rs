//! The runner's read-ahead, measured (`make bench-runner`): a backlog of `RECORDS` writes
//! (default 3,000) on a streamed table in the DynamoDB named by `AWS_ENDPOINT_URL` (moto),
//! caught up by a runner with read-ahead off (the runner as it was: read a page, process
//! it, read the next) and on, interleaved, `ROUNDS` times (default 3), each run from the
//! stream's start with fresh in-memory checkpoints. Each change's handler takes about 1 ms
//! (`tokio::time::sleep`, as an awaited write would). Prints each run and the medians.

#![allow(clippy::print_stdout)] // a benchmark prints its table for the person running it

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest, ScalarAttributeType,
    StreamSpecification, StreamViewType, WriteRequest,
};
use ddbstream::runner::{DynamoDbStreams, Runner};
use ddbstream::{BoxError, Change, Item, Router};

fn number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (records, rounds) = (number("RECORDS", 3_000), number("ROUNDS", 3));
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("Backlog{}", std::process::id());
    dynamodb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewImage).build()?,
        )
        .send()
        .await?;
    for chunk in (0..records).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|n| {
                let put = PutRequest::builder()
                    .item("pk", AttributeValue::S(format!("k{n}")))
                    .item("payload", AttributeValue::S("x".repeat(200)))
                    .build()?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        dynamodb.batch_write_item().request_items(&table, writes).send().await?;
    }
    let streams = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    println!("| round | read-ahead | records | seconds |");
    println!("| --- | --- | --- | --- |");
    for round in 1..=rounds {
        for (slot, read_ahead) in [(0, false), (1, true)] {
            let router = Router::new().stream(&table, |_: Change<Item>| async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok::<(), BoxError>(())
            });
            let runner = Runner::new(streams.clone(), table.clone(), router)
                .read_ahead(read_ahead)
                .poll_interval(Duration::from_millis(20));
            let started = Instant::now();
            let report = runner.run_until_caught_up(std::future::pending()).await?;
            let took = started.elapsed();
            if report.processed != records as u64 {
                return Err(format!("processed {} of {records}", report.processed).into());
            }
            println!("| {round} | {} | {records} | {:.2} |", if read_ahead { "on" } else { "off" }, took.as_secs_f64());
            times[slot].push(took);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (off, on) = (median(&mut times[0]), median(&mut times[1]));
    println!(
        "\nmedian: read-ahead off {:.2} s, on {:.2} s: on takes {:.2}x the time of off",
        off.as_secs_f64(),
        on.as_secs_f64(),
        on.as_secs_f64() / off.as_secs_f64()
    );
    Ok(())
}
