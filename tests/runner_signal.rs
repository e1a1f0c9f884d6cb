//! SIGTERM during the runner's first batch: the runner stops gracefully, starting no record
//! after the signal, with the checkpoint of what it finished written (before, the signal
//! handlers were installed only after the first round, and the process died by the
//! signal). Alone in its test binary: it signals its own process.

use std::collections::HashMap;
use std::time::Duration;

use ddbstream::runner::{Checkpoint, CheckpointStore, MemoryCheckpoints, Runner};
use ddbstream::testing::{KeySchema, LiveStream, Table};
use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_first_batch_stops_it_with_the_checkpoint_of_what_finished() {
    let stream = LiveStream::new(Table::new("Orders", KeySchema::hash("pk"), StreamViewType::KeysOnly));
    stream.write(|table| {
        for n in 0..40 {
            let item = Item::from(HashMap::from([("pk".to_owned(), AttributeValue::S(format!("k{n}")))]));
            assert!(matches!(table.put(item), Ok(Some(_))));
        }
    });
    let started = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = started.clone();
    let router = Router::new().stream("Orders", move |_: Change<Item>| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(40)).await;
            Ok::<(), BoxError>(())
        }
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
    // About 4 records had started by the signal (150 ms of 40 ms records); none after it.
    let handled = started.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=6).contains(&handled), "{handled} records started");
    assert_eq!(report.processed, handled, "what started finished and was checkpointed");
    let (arn, shards) = stream.write(|table| (table.stream().arn().to_owned(), table.stream().describe()));
    let saved = checkpoints.load(&arn, &shards[0].shard_id).await.unwrap_or_else(|e| panic!("{e}"));
    let records = stream.write(|table| table.stream().records());
    let last = usize::try_from(handled).unwrap_or(0) - 1;
    assert_eq!(saved.checkpoint, Some(Checkpoint::After(records[last].sequence_number.clone())));
}
