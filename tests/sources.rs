//! The shapes DynamoDB changes reach a function in, through one router: a stream's event
//! source mapping (`{"Records": [...]}`, failures named by sequence number) and EventBridge
//! Pipes (a bare array, failures named by `eventID`); tumbling-window events are refused
//! before any handler runs until a route keeps window state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ddbstream::testing::{lambda_event, pipes_event, KeySchema, StreamRecord, Table};
use ddbstream::{BoxError, Change, Context, Error, Item, Router, StreamViewType};
use proptest::prelude::*;
use serde_dynamo::AttributeValue;

type Seen = Arc<Mutex<Vec<String>>>;

fn records(writes: usize) -> Vec<StreamRecord> {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    (0..writes)
        .filter_map(|n| {
            let item = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("order#{}", n % 3))),
                ("n".to_owned(), AttributeValue::N(n.to_string())),
            ]);
            table.put(Item::from(item)).ok().flatten()
        })
        .collect()
}

/// A router that logs each change's `eventID` and fails the change whose `n` is `fail`.
fn router(seen: &Seen, fail: Option<usize>) -> Router {
    let seen = seen.clone();
    Router::new().stream("Orders", move |change: Change<Item>| {
        let n = match change.new_image().and_then(|image| image.get("n")) {
            Some(AttributeValue::N(n)) => n.parse::<usize>().ok(),
            _ => None,
        };
        let outcome = if n.is_some() && n == fail {
            Err::<(), BoxError>("injected".into())
        } else {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(change.meta.event_id.clone());
            Ok(())
        };
        std::future::ready(outcome)
    })
}

fn identifiers(response: &ddbstream::Error) -> String {
    response.to_string()
}

#[tokio::test]
async fn a_pipe_batch_is_processed_in_order_and_a_failure_is_named_by_its_event_id() {
    let records = records(6);
    let seen = Seen::default();
    let response = router(&seen, None).handle(&pipes_event(&records), &Context::default()).await;
    assert!(response.is_ok_and(|r| r.batch_item_failures.is_empty()));
    let ids: Vec<String> = records.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(*seen.lock().unwrap_or_else(|e| e.into_inner()), ids, "every record, in stream order");

    let seen = Seen::default();
    let response = router(&seen, Some(3)).handle(&pipes_event(&records), &Context::default()).await;
    let failures = response.map(|r| r.batch_item_failures).unwrap_or_default();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].item_identifier.as_deref(), Some(records[3].event_id.as_str()), "named by eventID");
    assert_eq!(seen.lock().unwrap_or_else(|e| e.into_inner()).len(), 3, "nothing after the failure started");
}

#[tokio::test]
async fn a_single_record_pipe_batch_is_still_an_array() {
    let records = records(1);
    let seen = Seen::default();
    let payload = pipes_event(&records);
    assert_eq!(payload.first(), Some(&b'['));
    let response = router(&seen, Some(0)).handle(&payload, &Context::default()).await;
    let failures = response.map(|r| r.batch_item_failures).unwrap_or_default();
    assert_eq!(failures.first().and_then(|f| f.item_identifier.clone()), Some(records[0].event_id.clone()));
}

#[tokio::test]
async fn a_failing_pipe_record_without_an_event_id_fails_the_whole_batch() {
    let records = records(3);
    let mut array: Vec<serde_json::Value> = serde_json::from_slice(&pipes_event(&records)).unwrap_or_default();
    if let Some(record) = array.get_mut(1).and_then(|r| r.as_object_mut()) {
        record.insert("eventID".to_owned(), serde_json::json!(""));
    }
    let payload = serde_json::to_vec(&array).unwrap_or_default();
    let seen = Seen::default();
    match router(&seen, Some(1)).handle(&payload, &Context::default()).await {
        Err(error @ Error::Unreportable { .. }) => assert!(identifiers(&error).contains("eventID"), "{error}"),
        other => panic!("expected Unreportable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tumbling_window_event_is_refused_before_any_handler_runs() {
    let records = records(3);
    let mut event: serde_json::Value = serde_json::from_slice(&lambda_event(&records)).unwrap_or_default();
    if let Some(object) = event.as_object_mut() {
        object.insert(
            "window".to_owned(),
            serde_json::json!({"start": "2026-11-29T10:00:00Z", "end": "2026-11-29T10:01:00Z"}),
        );
        object.insert("state".to_owned(), serde_json::json!({}));
        object.insert("isFinalInvokeForWindow".to_owned(), serde_json::json!(false));
    }
    let payload = serde_json::to_vec(&event).unwrap_or_default();
    let seen = Seen::default();
    match router(&seen, None).handle(&payload, &Context::default()).await {
        Err(error @ Error::Unsupported(_)) => {
            assert_eq!(error.kind(), "Unsupported");
            assert!(error.to_string().contains("TumblingWindowInSeconds"), "{error}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(seen.lock().unwrap_or_else(|e| e.into_inner()).is_empty(), "no handler ran");
}

#[tokio::test]
async fn the_aws_documentation_pipes_example_is_read() {
    // The example event of "Amazon DynamoDB stream as a source for EventBridge Pipes"
    // (AWS EventBridge User Guide), in its shape: a bare array of stream records.
    let payload = br#"[
      {
        "eventID": "1",
        "eventVersion": "1.0",
        "dynamodb": {
          "Keys": { "Id": { "N": "101" } },
          "NewImage": { "Message": { "S": "New item!" }, "Id": { "N": "101" } },
          "StreamViewType": "NEW_AND_OLD_IMAGES",
          "SequenceNumber": "111",
          "SizeBytes": 26
        },
        "awsRegion": "us-west-2",
        "eventName": "INSERT",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:111122223333:table/EventSourceTable",
        "eventSource": "aws:dynamodb"
      },
      {
        "eventID": "2",
        "eventVersion": "1.0",
        "dynamodb": {
          "OldImage": { "Message": { "S": "New item!" }, "Id": { "N": "101" } },
          "SequenceNumber": "222",
          "Keys": { "Id": { "N": "101" } },
          "SizeBytes": 59,
          "NewImage": { "Message": { "S": "This item has changed" }, "Id": { "N": "101" } },
          "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "awsRegion": "us-west-2",
        "eventName": "MODIFY",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:111122223333:table/EventSourceTable",
        "eventSource": "aws:dynamodb"
      }
    ]"#;
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let router = Router::new().fallback(move |change: Change<Item>| {
        let message = match change.new_image().and_then(|i| i.get("Message")) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).push((change.meta.event_id.clone(), message));
        std::future::ready(if change.meta.event_id == "2" { Err::<(), BoxError>("no".into()) } else { Ok(()) })
    });
    let response = router.handle(payload, &Context::default()).await;
    let failures = response.map(|r| r.batch_item_failures).unwrap_or_default();
    assert_eq!(failures.first().and_then(|f| f.item_identifier.clone()).as_deref(), Some("2"));
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        seen,
        vec![("1".to_owned(), "New item!".to_owned()), ("2".to_owned(), "This item has changed".to_owned())]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The same records and the same failure: a pipe's answer names the record the stream
    /// event's answer names, by its eventID instead of its sequence number, and the same
    /// records were handled before it.
    #[test]
    fn pipes_and_stream_events_agree_on_what_is_processed_and_named(writes in 1usize..30, fail in proptest::option::of(0usize..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let records = records(writes);
        let (stream_seen, pipe_seen) = (Seen::default(), Seen::default());
        let (by_stream, by_pipe) = runtime.block_on(async {
            let by_stream = router(&stream_seen, fail).handle(&lambda_event(&records), &Context::default()).await;
            let by_pipe = router(&pipe_seen, fail).handle(&pipes_event(&records), &Context::default()).await;
            let named = |failures: Vec<String>| failures;
            (
                by_stream.map(|r| named(r.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect())),
                by_pipe.map(|r| named(r.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect())),
            )
        });
        prop_assert!(by_stream.is_ok() && by_pipe.is_ok());
        let (by_stream, by_pipe) = (by_stream.unwrap_or_default(), by_pipe.unwrap_or_default());
        let expected_failure = fail.filter(|&f| f < writes);
        match expected_failure {
            None => prop_assert!(by_stream.is_empty() && by_pipe.is_empty()),
            Some(f) => {
                prop_assert_eq!(by_stream, vec![records[f].sequence_number.to_string()]);
                prop_assert_eq!(by_pipe, vec![records[f].event_id.clone()]);
            }
        }
        let stream_seen = stream_seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let pipe_seen = pipe_seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        prop_assert_eq!(&stream_seen, &pipe_seen);
        prop_assert_eq!(stream_seen.len(), expected_failure.unwrap_or(writes));
    }
}
