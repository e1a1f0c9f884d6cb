//! The test kit's fidelity: each documented Lambda, DynamoDB Streams or Kinesis behaviour the
//! kit models, the AWS documentation sentence it follows, and the test that proves the kit
//! does it. Tests named here that are not in this file are in the file named.
//!
//! | Behaviour | AWS documentation | Proved by |
//! | --- | --- | --- |
//! | Partial failures: the checkpoint is the lowest reported record, and every record from it is sent again | "If the batchItemFailures array contains multiple items, Lambda uses the record with the lowest sequence number as the checkpoint. Lambda then retries all records starting from that checkpoint." (Configuring partial batch response with DynamoDB and Lambda) | `the_lowest_failure_is_the_checkpoint_and_everything_from_it_comes_again`; `framework/src/testing/esm/simulator.rs` `responses_are_read_as_lambda_reads_them` |
//! | A null or empty identifier fails the whole batch | "Lambda treats a batch as a complete failure if you return any of the following: An empty string itemIdentifier, A null itemIdentifier, An itemIdentifier with a bad key name" (same page) | `responses_are_read_as_lambda_reads_them` |
//! | Without `ReportBatchItemFailures`, a response naming failures is a success | "Even when your function code returns partial batch failure responses, these responses will not be processed by Lambda unless the ReportBatchItemFailures feature is explicitly turned on for your event source mapping." (same page) | `kit_properties.rs` `ignoring_batch_item_failures_loses_records_and_the_check_sees_it` |
//! | A function error fails the whole batch; with bisect it is split in two | "If the invocation fails and BisectBatchOnFunctionError is turned on, the batch is bisected regardless of your ReportBatchItemFailures setting." (same page) | `a_function_error_sends_the_whole_batch_again`; `simulator.rs` `bisect_isolates_the_poison_record` |
//! | Retries and record age end in the on-failure destination, with the batch's metadata | "Lambda sends metadata about the discarded batch to the destination" (Retain discarded records for a DynamoDB event source) | `simulator.rs` `without_bisect_the_whole_failing_batch_is_discarded`, `records_past_their_maximum_age_are_discarded_without_retry_limits` |
//! | A batch holds at most `BatchSize` records and 6 MB | "Invocation payload (request and response): 6 MB each for request and response (synchronous)" (Lambda quotas) | `batches_hold_at_most_batch_size_records_and_six_megabytes` |
//! | Tumbling windows: a final invocation per window; the state carried between invocations | "At the end of your window, the flag isFinalInvokeForWindow is set to true to indicate that this is the final state and that it's ready for processing." (Tumbling windows for DynamoDB) | `windows.rs` `every_window_ends_once_with_each_of_its_changes_folded_once` |
//! | Tumbling windows: in order the first time, possibly out of order when retried | "Records are always processed in order the first time. If records are processed more than once, they may be processed out of order." (same page) | `windows.rs` `a_retried_window_batch_comes_out_of_order_and_is_folded_in_order` |
//! | Tumbling windows: the state is at most 1 MB | "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates the window early." (same page) | `windows.rs` `a_state_that_would_pass_one_megabyte_ends_the_window_early_and_goes_on_fresh` |
//! | Kinesis: records of one item may arrive out of order and more than once; sequence numbers follow arrival | "The records might appear in a different sequence than the item changes occurred" and "might also appear more than once" (Kinesis Data Streams for DynamoDB) | `sources.rs` `kinesis_disorder_reaches_the_handler_as_delivered`; `exactly_once.rs` `through_kinesis_duplicates_and_reordering_apply_nothing_twice_and_never_go_back` |
//! | DynamoDB Streams: each change once, in order per item | "Each stream record appears exactly once in the stream. For each item that is modified in a DynamoDB table, the stream records appear in the same sequence as the actual modifications to the item." (Change data capture for DynamoDB Streams) | `framework/src/testing/tests.rs` |
//! | DynamoDB Streams: records kept 24 hours | "All data in DynamoDB Streams is subject to a 24-hour lifetime." (same page) | `redrive.rs` `records_past_the_streams_retention_are_reported_gone_and_metadata_without_a_stream_cannot_be_reread` |
//! | `GetRecords` may return empty pages before the shard's end | "GetRecords can return an empty result ... when there are more records in the shard" (Kinesis GetRecords; the same holds for DynamoDB Streams shards) | `redrive.rs` `a_reread_goes_on_through_empty_pages_and_never_calls_unread_records_processed` |

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ddbstream::testing::{EventSourceMapping, InvocationResult, KeySchema, Simulator, StreamRecord, Table};
use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;
use workspace_tests::{number, paused_runtime};

/// `count` orders, each with `filler` bytes.
fn orders(count: usize, filler: usize) -> Vec<StreamRecord> {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    for i in 0..count {
        let item = Item::from(HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("o{i}"))),
            ("n".to_owned(), AttributeValue::N(i.to_string())),
            ("filler".to_owned(), AttributeValue::S("x".repeat(filler))),
        ]));
        table.put(item).unwrap_or_else(|e| panic!("{e}"));
    }
    table.stream().records()
}

/// A router whose orders with `n` in `failing` fail their first attempt; a failure with
/// nothing processed before it is a function error (`error_when_nothing_processed`).
fn router(failing: &[u64], attempts: &Arc<Mutex<HashMap<u64, u32>>>) -> Router {
    let (failing, attempts) = (failing.to_vec(), attempts.clone());
    Router::new()
        .stream("Orders", move |change: Change<Item>| {
            let (failing, attempts) = (failing.clone(), attempts.clone());
            async move {
                let n = change.new_image().map_or(0, |image| number(image, "n"));
                let mut attempts = attempts.lock().unwrap_or_else(PoisonError::into_inner);
                let attempt = attempts.entry(n).or_default();
                *attempt += 1;
                if failing.contains(&n) && *attempt == 1 {
                    return Err::<(), BoxError>(format!("order {n} fails once").into());
                }
                Ok(())
            }
        })
        .error_when_nothing_processed(true)
}

fn sent(simulator: &Simulator<'_>) -> Vec<(Vec<String>, InvocationResult)> {
    simulator
        .trace()
        .invocations()
        .iter()
        .map(|i| (i.batch.iter().map(|s| s.to_string()).collect(), i.result.clone()))
        .collect()
}

#[test]
fn the_lowest_failure_is_the_checkpoint_and_everything_from_it_comes_again() {
    let records = orders(6, 1);
    let attempts = Arc::default();
    let router = router(&[2], &attempts);
    let mut simulator = Simulator::new(&router, EventSourceMapping::default(), "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    let seq = |i: usize| records[i].sequence_number.to_string();
    let sent = sent(&simulator);
    assert_eq!(sent[0], ((0..6).map(seq).collect(), InvocationResult::Partial(records[2].sequence_number.clone())));
    assert_eq!(sent[1], ((2..6).map(seq).collect(), InvocationResult::Success), "from the checkpoint, 3 to 6");
    assert_eq!(sent.len(), 2);
}

#[test]
fn a_function_error_sends_the_whole_batch_again() {
    let records = orders(4, 1);
    let attempts = Arc::default();
    // The first record fails first: nothing processed, a function error.
    let router = router(&[0], &attempts);
    let mut simulator = Simulator::new(&router, EventSourceMapping::default(), "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    let sent = sent(&simulator);
    let all: Vec<String> = records.iter().map(|r| r.sequence_number.to_string()).collect();
    assert!(matches!(&sent[0], (batch, InvocationResult::FunctionError(_)) if *batch == all), "{sent:?}");
    assert_eq!(sent[1], (all, InvocationResult::Success));
}

#[test]
fn batches_hold_at_most_batch_size_records_and_six_megabytes() {
    // 3 records per batch by count...
    let records = orders(7, 1);
    let attempts = Arc::default();
    let router = router(&[], &attempts);
    let mapping = EventSourceMapping { batch_size: 3, ..EventSourceMapping::default() };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records);
    paused_runtime().block_on(simulator.run());
    let sizes: Vec<usize> = sent(&simulator).iter().map(|(batch, _)| batch.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    // ...and at most 6 MB: records of 1.6 MB go three to a batch, however large the size.
    let records = orders(7, 1_600_000);
    let mapping = EventSourceMapping { batch_size: 100, ..EventSourceMapping::default() };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records);
    paused_runtime().block_on(simulator.run());
    let sizes: Vec<usize> = sent(&simulator).iter().map(|(batch, _)| batch.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
}
