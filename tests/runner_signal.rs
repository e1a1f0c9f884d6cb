//! SIGTERM during the runner's first batch: the runner stops gracefully after the batch in
//! flight, its checkpoint written (before, the signal handlers were installed only after
//! the first round, and the process died by the signal). Alone in its test binary: it
//! signals its own process.

use std::collections::HashMap;
use std::time::Duration;

use ddbstream::runner::{CheckpointStore, MemoryCheckpoints, Runner};
use ddbstream::testing::{KeySchema, LiveStream, Table};
use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_first_batch_stops_after_it_with_its_checkpoint() {
    let stream = LiveStream::new(Table::new("Orders", KeySchema::hash("pk"), StreamViewType::KeysOnly));
    stream.write(|table| {
        for n in 0..40 {
            let item = Item::from(HashMap::from([("pk".to_owned(), AttributeValue::S(format!("k{n}")))]));
            assert!(matches!(table.put(item), Ok(Some(_))));
        }
    });
    let router = Router::new().stream("Orders", |_: Change<Item>| async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok::<(), BoxError>(())
    });
    let checkpoints = MemoryCheckpoints::new();
    let runner = Runner::new(stream.clone(), "Orders", router).checkpoint_every(10).checkpoints(checkpoints.clone());
    let signal = tokio::spawn(async {
        // Inside the first batch of 10 records (about 400 ms).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let sent = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status();
        assert!(sent.is_ok_and(|status| status.success()), "kill -TERM");
    });
    let report = tokio::time::timeout(Duration::from_secs(20), runner.run_until_signal()).await;
    signal.await.unwrap_or_else(|e| panic!("{e}"));
    let report = report.unwrap_or_else(|_| panic!("the runner did not stop")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed, 10, "the batch in flight, and nothing after it");
    let (arn, shards) = stream.write(|table| (table.stream().arn().to_owned(), table.stream().describe()));
    let saved = checkpoints.load(&arn, &shards[0].shard_id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(saved.checkpoint.is_some(), "the batch's checkpoint was written");
}
