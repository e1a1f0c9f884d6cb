//! The event source mapping simulator on hand-made cases: bisect, retries, record age,
//! parallelization, and what the on-failure destination receives.

use std::collections::HashMap;
use std::time::Duration;

use ddbstream::testing::{
    EventSourceMapping, FailureCondition, Fate, InvocationResult, KeySchema, Simulator, StreamRecord, Table,
};
use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;
use workspace_tests::paused_runtime;

fn order(pk: &str, poison: bool) -> Item {
    Item::from(HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("poison".to_owned(), AttributeValue::Bool(poison)),
    ]))
}

/// Fails every record whose new image says `poison`; with `strict`, a failure of the first
/// record is a function error (what lets bisect split the batch).
fn router(strict: bool) -> Router {
    Router::new()
        .stream("Orders", |change: Change<Item>| async move {
            match change.new_image().and_then(|i| i.get("poison")) {
                Some(AttributeValue::Bool(true)) => Err::<(), BoxError>("poison".into()),
                _ => Ok(()),
            }
        })
        .error_when_nothing_processed(strict)
}

fn records(table: &Table) -> Vec<StreamRecord> {
    table.stream().records()
}

fn ten_orders_with_poison_at(index: usize) -> Table {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    for i in 0..10 {
        table.put(order(&format!("o{i}"), i == index)).unwrap_or_else(|e| panic!("{e}"));
    }
    table
}

#[test]
fn bisect_isolates_the_poison_record() {
    let table = ten_orders_with_poison_at(6);
    let records = records(&table);
    let router = router(true);
    let mapping = EventSourceMapping {
        bisect_batch_on_function_error: true,
        maximum_retry_attempts: Some(1),
        ..EventSourceMapping::default()
    };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    let discarded = simulator.on_failure();
    assert_eq!(discarded.len(), 1, "{discarded:?}");
    assert_eq!((discarded[0].batch_size, &discarded[0].start_sequence_number), (1, &records[6].sequence_number));
    assert_eq!(discarded[0].condition, FailureCondition::RetryAttemptsExhausted);
    for (i, record) in records.iter().enumerate() {
        let fate = simulator.trace().fate(&record.sequence_number);
        assert_eq!(matches!(fate, Fate::Acknowledged(_)), i != 6, "record {i}: {fate:?}");
    }
    let results: Vec<_> = simulator.trace().invocations().iter().map(|i| (i.batch.len(), i.result.clone())).collect();
    assert_eq!(results[0], (10, InvocationResult::Partial(records[6].sequence_number.clone())));
    assert!(matches!(results[1], (4, InvocationResult::FunctionError(_))), "{results:?}");
    assert!(matches!(results[2], (2, InvocationResult::FunctionError(_))), "{results:?}");
}

#[test]
fn without_bisect_the_whole_failing_batch_is_discarded() {
    let table = ten_orders_with_poison_at(6);
    let records = records(&table);
    let router = router(true);
    let mapping = EventSourceMapping { maximum_retry_attempts: Some(1), ..EventSourceMapping::default() };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    let discarded = simulator.on_failure();
    assert_eq!(discarded.len(), 1);
    assert_eq!(discarded[0].batch_size, 4, "records 6..10 go to the destination together");
    assert_eq!(discarded[0].approximate_invoke_count, 2);
    let message = discarded[0].to_json();
    assert_eq!(message["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(message["DDBStreamBatchInfo"]["startSequenceNumber"], records[6].sequence_number.as_str());
    assert_eq!(message["DDBStreamBatchInfo"]["endSequenceNumber"], records[9].sequence_number.as_str());
    assert_eq!(message["DDBStreamBatchInfo"]["batchSize"], 4);
    assert_eq!(message["DDBStreamBatchInfo"]["streamArn"], table.stream().arn());
    assert_eq!(message["DDBStreamBatchInfo"]["shardId"], "shardId-1");
}

#[test]
fn records_past_their_maximum_age_are_discarded_without_retry_limits() {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    table.put(order("old-poison", true)).unwrap_or_else(|e| panic!("{e}"));
    table.advance(100);
    for i in 0..3 {
        table.put(order(&format!("o{i}"), false)).unwrap_or_else(|e| panic!("{e}"));
    }
    let records = records(&table);
    let router = router(false);
    // Started on a backlog: 100 s old at the start, 10 s per invocation, discarded once
    // older than 300 s. Keeping up: delivered when written, so 0 s old at the start.
    for (backlog, attempts) in [(true, 21), (false, 31)] {
        let mapping = EventSourceMapping {
            maximum_record_age: Some(Duration::from_secs(300)),
            seconds_per_invocation: 10,
            backlog,
            ..EventSourceMapping::default()
        };
        let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
        paused_runtime().block_on(simulator.run());
        let trace = simulator.trace();
        assert_eq!(trace.fate(&records[0].sequence_number), Fate::OnFailure(FailureCondition::RecordAgeExceeded));
        assert_eq!(trace.attempts(&records[0].sequence_number).len(), attempts, "backlog: {backlog}");
        assert!(records[1..].iter().all(|r| matches!(trace.fate(&r.sequence_number), Fate::Acknowledged(_))));
    }
}

#[test]
fn a_mapping_that_keeps_up_ages_nothing_out() {
    // Written once a second, one record per invocation, one second per invocation: each
    // record is delivered as it is written, whatever the age limit.
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    for i in 0..200 {
        table.put(order(&format!("o{i}"), false)).unwrap_or_else(|e| panic!("{e}"));
        table.advance(1);
    }
    let records = records(&table);
    let router = router(false);
    let mapping = EventSourceMapping {
        batch_size: 1,
        maximum_record_age: Some(Duration::from_secs(60)),
        ..EventSourceMapping::default()
    };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    assert!(simulator.on_failure().is_empty(), "{:?}", simulator.on_failure());
    let trace = simulator.trace();
    assert!(records.iter().all(|r| matches!(trace.fate(&r.sequence_number), Fate::Acknowledged(_))));
}

#[test]
fn an_invocation_that_blocks_past_the_function_timeout_is_a_timeout() {
    // A paused clock (as in these tests) does not see a blocked thread; Lambda's timeout
    // does.
    let table = ten_orders_with_poison_at(99);
    let records = records(&table);
    let router = Router::new()
        .stream("Orders", |_: Change<Item>| async {
            std::thread::sleep(Duration::from_millis(300));
            Ok::<(), BoxError>(())
        })
        .deadline_margin(Duration::from_millis(50));
    let mapping = EventSourceMapping {
        batch_size: 1,
        function_timeout: Duration::from_millis(200),
        max_invocations: 1,
        ..EventSourceMapping::default()
    };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records[..1].to_vec());
    paused_runtime().block_on(simulator.run());
    let results: Vec<_> = simulator.trace().invocations().iter().map(|i| i.result.clone()).collect();
    assert_eq!(results, [InvocationResult::Timeout]);
}

#[test]
fn parallel_lanes_keep_going_while_one_key_is_blocked_and_keep_its_order() {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    table.put(order("blocked", true)).unwrap_or_else(|e| panic!("{e}"));
    for round in 0..3 {
        for i in 0..8 {
            let pk = if i == 0 { "blocked".to_owned() } else { format!("o{i}") };
            let mut item = order(&pk, false);
            item.insert("round".into(), AttributeValue::N(round.to_string()));
            table.put(item).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let records = records(&table);
    // Bisect isolates the poisoned record; without it, the records after it in its lane's
    // batch would be discarded with it (see `without_bisect_the_whole_failing_batch_is_discarded`).
    let router = router(true);
    let mapping = EventSourceMapping {
        parallelization_factor: 4,
        maximum_retry_attempts: Some(3),
        bisect_batch_on_function_error: true,
        ..EventSourceMapping::default()
    };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    paused_runtime().block_on(simulator.run());
    let trace = simulator.trace();
    let blocked_lane = trace.invocations().iter().find(|i| i.result != InvocationResult::Success).map(|i| i.lane);
    let first_failure = trace.invocations().iter().position(|i| i.result != InvocationResult::Success).unwrap_or(0);
    let others_progressed = trace.invocations()[first_failure..]
        .iter()
        .any(|i| Some(i.lane) != blocked_lane && i.result == InvocationResult::Success);
    assert!(others_progressed, "other lanes ran while one key was retried");
    // The poisoned first write is discarded; every later write of that key is acknowledged
    // only after it, in order.
    assert_eq!(trace.fate(&records[0].sequence_number), Fate::OnFailure(FailureCondition::RetryAttemptsExhausted));
    let blocked: Vec<usize> = records
        .iter()
        .filter(|r| r.keys.get("pk") == Some(&AttributeValue::S("blocked".into())))
        .skip(1)
        .map(|r| match trace.fate(&r.sequence_number) {
            Fate::Acknowledged(invocation) => invocation,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(blocked.windows(2).all(|w| w[0] <= w[1]), "{blocked:?}");
    assert!(records.iter().skip(1).all(|r| matches!(trace.fate(&r.sequence_number), Fate::Acknowledged(_))));
}
