//! A stream runner for crash experiments (`tests/runner_crash.py`): reads the stream of the
//! table named by `TABLE`, checkpoints in `CHECKPOINT_TABLE`, and appends one line per
//! change handled (`<pk> <sequence number> <owner>`) to the file `OUT`. With
//! `UNTIL_CAUGHT_UP=1` it exits once every shard is caught up; otherwise it runs until a
//! signal (or `kill -9`). `OWNER` names it in the shard leases (a restart under the same
//! name takes its leases back at once), `LEASE_MS` sets the lease duration, and
//! `STANDBY=1` makes it wait for shards other runners own.

use std::io::Write;
use std::time::Duration;

use ddbstream::runner::{DynamoDbCheckpoints, DynamoDbStreams, Runner};
use ddbstream::{BoxError, Change, Item, Router};
use serde_dynamo::AttributeValue;

fn setting(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

#[tokio::main]
async fn main() {
    ddbstream::logging::init();
    if let Err(error) = run().await {
        eprintln!("crash-runner: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), BoxError> {
    let (table, out) = (setting("TABLE")?, setting("OUT")?);
    let owner = setting("OWNER").unwrap_or_else(|_| format!("crash-runner-{}", std::process::id()));
    let label = owner.clone();
    let config = aws_config::load_from_env().await;
    let checkpoints = DynamoDbCheckpoints::new(aws_sdk_dynamodb::Client::new(&config), setting("CHECKPOINT_TABLE")?);
    checkpoints.create_table().await?;
    let router = Router::new().stream(&table, move |change: Change<Item>| {
        let (out, label) = (out.clone(), label.clone());
        async move {
            // Some work per change, so that a kill lands inside a batch.
            tokio::time::sleep(Duration::from_millis(2)).await;
            let pk = match change.keys.get("pk") {
                Some(AttributeValue::S(pk)) => pk.clone(),
                _ => "?".to_owned(),
            };
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&out)?;
            file.write_all(format!("{pk} {} {label}\n", change.sequence_number()).as_bytes())?;
            Ok::<(), BoxError>(())
        }
    });
    let streams = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));
    let runner = Runner::new(streams, table, router)
        .checkpoints(checkpoints)
        .poll_interval(Duration::from_millis(50))
        .backoff(Duration::from_millis(50), Duration::from_millis(500))
        .owner(owner)
        .standby(std::env::var("STANDBY").is_ok_and(|v| v == "1"));
    let runner = match std::env::var("LEASE_MS").ok().and_then(|ms| ms.parse().ok()) {
        Some(ms) => runner.lease_duration(Duration::from_millis(ms)),
        None => runner,
    };
    let report = if std::env::var("UNTIL_CAUGHT_UP").is_ok_and(|v| v == "1") {
        runner.run_until_caught_up(std::future::pending()).await?
    } else {
        runner.run_until_signal().await?
    };
    tracing::info!(processed = report.processed, "runner done");
    Ok(())
}
