//! The stream runner (feature `runner`): the same `Router` on a live DynamoDB stream,
//! outside Lambda (development against a local DynamoDB, tests, batch jobs). It finds the
//! table's stream, reads every shard in order with Lambda's semantics, checkpoints per shard,
//! retries a failed record with backoff and stops cleanly on Ctrl-C. In production at scale,
//! prefer the same router on Lambda's event source mapping.
//!
//! Against a local DynamoDB from this repository (after `make tools`):
//!
//! ```sh
//! scripts/with-moto                                  # terminal 1: prints the exports
//! export AWS_ENDPOINT_URL=http://127.0.0.1:<port> ... # terminal 2: as printed
//! scripts/create-table Orders pk - NEW_IMAGE
//! TABLE=Orders UNTIL_CAUGHT_UP=1 cargo run -p ddbstream --example runner --features runner
//! ```
//!
//! `TABLE` names the table (default `Orders`). With `UNTIL_CAUGHT_UP=1` it stops once every
//! shard is read to its end; otherwise it runs until Ctrl-C or SIGTERM. It exits 0 after a
//! clean stop, and non-zero when the run failed or a stop abandoned records in flight
//! (`RunReport::abandoned`). Checkpoints are kept
//! in memory here; `DynamoDbCheckpoints` keeps them in a table, with shard leases, so a
//! restart goes on where the last run stopped.

use std::time::Duration;

use ddbstream::runner::{DynamoDbStreams, Runner};
use ddbstream::{BoxError, Change, Item, Router};

async fn on_change(change: Change<Item>) -> Result<(), BoxError> {
    tracing::info!(event = %change.event_name(), seq = %change.sequence_number(), "change");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    ddbstream::logging::init();
    let table = std::env::var("TABLE").unwrap_or_else(|_| "Orders".to_owned());
    let config = aws_config::load_from_env().await;
    let streams = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));
    let router = Router::new().stream(&table, on_change);
    let runner = Runner::new(streams, table, router).poll_interval(Duration::from_millis(200));
    let report = if std::env::var("UNTIL_CAUGHT_UP").is_ok_and(|value| value == "1") {
        runner.run_until_caught_up(std::future::pending()).await?
    } else {
        runner.run_until_signal().await?
    };
    tracing::info!(processed = report.processed, failed_attempts = report.failed_attempts, "runner done");
    // A stop that cut records off is not clean: exit non-zero so a supervisor sees it (the
    // records run again on the next start, from the last checkpoint).
    if report.abandoned > 0 {
        return Err(format!("{} handler call(s) abandoned in flight at the stop", report.abandoned).into());
    }
    Ok(())
}
