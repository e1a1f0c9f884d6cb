//! The shapes DynamoDB changes reach a function in, through one router: a stream's event
//! source mapping (`{"Records": [...]}`, failures named by sequence number) and EventBridge
//! Pipes (a bare array, failures named by `eventID`); a tumbling-window event for a stream
//! without a window route is refused before any handler runs (windows: `windows.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ddbstream::testing::{
    kinesis_event, kinesis_record, kinesis_sequence_number, lambda_event, pipes_event, KeySchema, StreamRecord, Table,
};
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

#[tokio::test]
async fn a_kinesis_event_captured_from_aws_is_read() {
    // Powertools for AWS Lambda (TypeScript, MIT-0), packages/parser/tests/events/kinesis/
    // dynamodb-stream.json: two inserts captured from a table's Kinesis streaming
    // destination, the time in milliseconds, `userIdentity` null.
    let table = "PowertoolsEventsStack-DynamoDBTable59784FC0-8NKAMTERTAXY";
    let arn = "arn:aws:kinesis:eu-west-1:1234567789012:stream/PowertoolsEventsStack-KinesisStream46752A3E-u0C9B3ZKjgG0";
    let records = [
        ("859F7C064A4818874FA67ABEC9BF2AF1", "49657828409187701520019995242508390119953358325192589314",
         "eyJhd3NSZWdpb24iOiJldS13ZXN0LTEiLCJldmVudElEIjoiZDk0MjgwMjktMGY2My00MDU2LTg2ZGEtY2UxMGQ1NDViMWI5IiwiZXZlbnROYW1lIjoiSU5TRVJUIiwidXNlcklkZW50aXR5IjpudWxsLCJyZWNvcmRGb3JtYXQiOiJhcHBsaWNhdGlvbi9qc29uIiwidGFibGVOYW1lIjoiUG93ZXJ0b29sc0V2ZW50c1N0YWNrLUR5bmFtb0RCVGFibGU1OTc4NEZDMC04TktBTVRFUlRBWFkiLCJkeW5hbW9kYiI6eyJBcHByb3hpbWF0ZUNyZWF0aW9uRGF0ZVRpbWUiOjE3MzE5MjQ1NTUzNzAsIktleXMiOnsiaWQiOnsiUyI6InJlY29yZC0xcWl0Mnk4MTlnaSJ9fSwiTmV3SW1hZ2UiOnsiaWQiOnsiUyI6InJlY29yZC0xcWl0Mnk4MTlnaSJ9LCJkYXRhIjp7IlMiOiJkYXRhLXg2YXE3Y2tkcGdrIn19LCJTaXplQnl0ZXMiOjYwfSwiZXZlbnRTb3VyY2UiOiJhd3M6ZHluYW1vZGIifQ==",
         1731924555.932),
        ("6037E47B707479B67E577C989D96E9F8", "49657828409187701520019995242509599045772972954367295490",
         "eyJhd3NSZWdpb24iOiJldS13ZXN0LTEiLCJldmVudElEIjoiYWE1NmNhZDQtMzExYS00NmM4LWFiNWYtYzdhMTNhN2E2Mjk4IiwiZXZlbnROYW1lIjoiSU5TRVJUIiwidXNlcklkZW50aXR5IjpudWxsLCJyZWNvcmRGb3JtYXQiOiJhcHBsaWNhdGlvbi9qc29uIiwidGFibGVOYW1lIjoiUG93ZXJ0b29sc0V2ZW50c1N0YWNrLUR5bmFtb0RCVGFibGU1OTc4NEZDMC04TktBTVRFUlRBWFkiLCJkeW5hbW9kYiI6eyJBcHByb3hpbWF0ZUNyZWF0aW9uRGF0ZVRpbWUiOjE3MzE5MjQ1NTUzNzAsIktleXMiOnsiaWQiOnsiUyI6InJlY29yZC1mdnhuM3E0cTVqdyJ9fSwiTmV3SW1hZ2UiOnsiaWQiOnsiUyI6InJlY29yZC1mdnhuM3E0cTVqdyJ9LCJkYXRhIjp7IlMiOiJkYXRhLTRlb21wanM4OW41In19LCJTaXplQnl0ZXMiOjYwfSwiZXZlbnRTb3VyY2UiOiJhd3M6ZHluYW1vZGIifQ==",
         1731924555.935),
    ];
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(partition_key, sequence_number, data, arrival)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": sequence_number,
                    "data": data,
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence_number}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::1234567789012:role/PowertoolsEventsStack-KinesisConsumerFunctionServic-JG17OEKZaDq6",
                "awsRegion": "eu-west-1",
                "eventSourceARN": arn,
            })
        })
        .collect();
    let payload = kinesis_payload(records);
    type Seen = (String, Option<String>, Option<u128>, bool);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let router = Router::new().stream(table, move |change: Change<Item>| {
        let id = match change.keys.get("id") {
            Some(AttributeValue::S(id)) => id.clone(),
            _ => String::new(),
        };
        let fail = id == "record-fvxn3q4q5jw";
        log.lock().unwrap_or_else(|e| e.into_inner()).push((
            id,
            change.meta.table_name.clone(),
            change.meta.creation_micros(),
            change.meta.via_kinesis(),
        ));
        std::future::ready(if fail { Err::<(), BoxError>("no".into()) } else { Ok(()) })
    });
    let response = router.handle(&payload, &Context::default()).await;
    assert_eq!(named(response), vec!["49657828409187701520019995242509599045772972954367295490".to_owned()]);
    let at = Some(1_731_924_555_370_000u128);
    let table = Some(table.to_owned());
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        vec![
            ("record-1qit2y819gi".to_owned(), table.clone(), at, true),
            ("record-fvxn3q4q5jw".to_owned(), table, at, true),
        ]
    );
}

/// The same records and the same failure delivered as a stream event and in another
/// shape: the other shape's answer names the record the stream event's answer names (by
/// `identifier` instead of its sequence number), and the same records were handled before
/// it.
fn agrees_with_the_stream_event(
    writes: usize,
    fail: Option<usize>,
    shape: fn(&[StreamRecord]) -> Vec<u8>,
    identifier: fn(&[StreamRecord], usize) -> String,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let records = records(writes);
    let (stream_seen, shape_seen) = (Seen::default(), Seen::default());
    let (by_stream, by_shape) = runtime.block_on(async {
        let by_stream = router(&stream_seen, fail).handle(&lambda_event(&records), &Context::default()).await;
        let by_shape = router(&shape_seen, fail).handle(&shape(&records), &Context::default()).await;
        (named(by_stream), named(by_shape))
    });
    let expected_failure = fail.filter(|&f| f < writes);
    match expected_failure {
        None => prop_assert!(by_stream.is_empty() && by_shape.is_empty(), "{by_stream:?} {by_shape:?}"),
        Some(f) => {
            prop_assert_eq!(by_stream, vec![records[f].sequence_number.to_string()]);
            prop_assert_eq!(by_shape, vec![identifier(&records, f)]);
        }
    }
    let stream_seen = stream_seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let shape_seen = shape_seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    prop_assert_eq!(&stream_seen, &shape_seen);
    prop_assert_eq!(stream_seen.len(), expected_failure.unwrap_or(writes));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A pipe names the failed record by its eventID.
    #[test]
    fn pipes_and_stream_events_agree_on_what_is_processed_and_named(writes in 1usize..30, fail in proptest::option::of(0usize..30)) {
        agrees_with_the_stream_event(writes, fail, pipes_event, |records, at| records[at].event_id.clone())?;
    }

    /// Through Kinesis the failed record is named by its Kinesis sequence number.
    #[test]
    fn kinesis_and_stream_events_agree_on_what_is_processed_and_named(writes in 1usize..30, fail in proptest::option::of(0usize..30)) {
        agrees_with_the_stream_event(writes, fail, kinesis_event, |_, at| kinesis_sequence_number(at))?;
    }
}

/// A Kinesis event's records as JSON values, to edit.
fn kinesis_records(records: &[StreamRecord]) -> Vec<serde_json::Value> {
    records.iter().enumerate().map(|(arrival, record)| kinesis_record(record, arrival)).collect()
}

fn kinesis_payload(records: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

/// The identifiers a response names.
fn named<R: serde::Serialize>(response: Result<R, Error>) -> Vec<String> {
    match response {
        Ok(response) => serde_json::to_value(&response).unwrap_or_default()["batchItemFailures"]
            .as_array()
            .map(|failures| failures.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        Err(error) => vec![format!("error: {error}")],
    }
}

#[tokio::test]
async fn changes_through_kinesis_are_processed_in_kinesis_order_and_a_failure_is_named_by_its_sequence_number() {
    let records = records(6);
    let seen = Seen::default();
    let mut shuffled = kinesis_records(&records);
    shuffled.reverse();
    let response = router(&seen, None).handle(&kinesis_payload(shuffled.clone()), &Context::default()).await;
    assert_eq!(named(response), Vec::<String>::new());
    let ids: Vec<String> = records.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(*seen.lock().unwrap_or_else(|e| e.into_inner()), ids, "the changes' own eventIDs, in Kinesis order");

    let seen = Seen::default();
    let response = router(&seen, Some(4)).handle(&kinesis_payload(shuffled), &Context::default()).await;
    assert_eq!(named(response), vec![kinesis_sequence_number(4)]);
    assert_eq!(seen.lock().unwrap_or_else(|e| e.into_inner()).len(), 4, "nothing after the failure started");
}

#[tokio::test]
async fn a_kinesis_change_knows_its_table_and_its_time_in_milliseconds_or_microseconds() {
    use base64::Engine;
    let records = records(2);
    let mut kinesis = kinesis_records(&records);
    // The second table's setting is microseconds.
    let data = kinesis[1]["kinesis"]["data"].as_str().unwrap_or_default().to_owned();
    let mut change: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default())
            .unwrap_or_default();
    change["dynamodb"]["ApproximateCreationDateTime"] =
        serde_json::json!(records[1].approximate_creation_time * 1_000_000 + 250);
    kinesis[1]["kinesis"]["data"] = serde_json::json!(
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&change).unwrap_or_default())
    );
    type Seen = Arc<Mutex<Vec<(Option<String>, Option<f64>, String)>>>;
    let seen = Seen::default();
    let log = seen.clone();
    let router = Router::new().stream("Orders", move |change: Change<Item>| {
        let meta = &change.meta;
        let seconds = meta
            .approximate_creation_time
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        log.lock().unwrap_or_else(|e| e.into_inner()).push((meta.table_name.clone(), seconds, meta.stream_arn.clone()));
        std::future::ready(Ok::<(), BoxError>(()))
    });
    assert_eq!(named(router.handle(&kinesis_payload(kinesis), &Context::default()).await), Vec::<String>::new());
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), 2);
    for ((table, time, arn), record) in seen.iter().zip(&records) {
        assert_eq!(table.as_deref(), Some("Orders"));
        let expected = record.approximate_creation_time as f64;
        assert!(time.is_some_and(|t| (t - expected).abs() < 0.01), "{time:?} for {expected}");
        assert!(arn.starts_with("arn:aws:kinesis:"), "{arn}");
    }
}

#[tokio::test]
async fn kinesis_data_that_is_not_base64_json_or_a_dynamodb_change_fails_its_record_alone() {
    use base64::Engine;
    let records = records(4);
    let encode = |bytes: &[u8]| serde_json::json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    let bad_data = [
        serde_json::json!("not base64 at all!"),
        encode(b"{not json"),
        encode(br#"{"eventSource":"aws:s3","dynamodb":{"Keys":{}}}"#),
        encode(br#"{"eventSource":"aws:dynamodb","eventName":"INSERT"}"#),
    ];
    for bad in bad_data {
        let mut kinesis = kinesis_records(&records);
        kinesis[2]["kinesis"]["data"] = bad.clone();
        let seen = Seen::default();
        let response = router(&seen, None).handle(&kinesis_payload(kinesis), &Context::default()).await;
        assert_eq!(named(response), vec![kinesis_sequence_number(2)], "{bad}");
        assert_eq!(seen.lock().unwrap_or_else(|e| e.into_inner()).len(), 2, "the records before it ran: {bad}");
    }
}

#[tokio::test]
async fn several_tables_in_one_kinesis_stream_are_routed_by_the_table_inside() {
    let orders = records(2);
    let mut customers_table = Table::new("Customers", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    let customer = HashMap::from([("pk".to_owned(), AttributeValue::S("c#1".to_owned()))]);
    let customers: Vec<StreamRecord> = customers_table.put(Item::from(customer)).ok().flatten().into_iter().collect();
    let (order_log, customer_log) = (Seen::default(), Seen::default());
    let (o, c) = (order_log.clone(), customer_log.clone());
    let router = Router::new()
        .stream("Orders", move |change: Change<Item>| {
            o.lock().unwrap_or_else(|e| e.into_inner()).push(change.meta.event_id.clone());
            std::future::ready(Ok::<(), BoxError>(()))
        })
        .stream("Customers", move |change: Change<Item>| {
            c.lock().unwrap_or_else(|e| e.into_inner()).push(change.meta.event_id.clone());
            std::future::ready(Ok::<(), BoxError>(()))
        });
    // One shard received both tables' changes, one after the other.
    let both: Vec<StreamRecord> = orders.iter().chain(&customers).cloned().collect();
    let kinesis = kinesis_records(&both);
    assert_eq!(
        named(router.handle(&kinesis_payload(kinesis.clone()), &Context::default()).await),
        Vec::<String>::new()
    );
    assert_eq!(order_log.lock().unwrap_or_else(|e| e.into_inner()).len(), 2);
    assert_eq!(customer_log.lock().unwrap_or_else(|e| e.into_inner()).len(), 1);
    // A table nobody routes fails the batch, naming it.
    let only_orders = Router::new().stream("Orders", |_: Change<Item>| std::future::ready(Ok::<(), BoxError>(())));
    match only_orders.handle(&kinesis_payload(kinesis), &Context::default()).await {
        Err(error @ Error::NoRoute { .. }) => assert!(error.to_string().contains("table `Customers`"), "{error}"),
        other => panic!("expected NoRoute, got {other:?}"),
    }
}

/// A Kinesis shard numbers records as they arrive: a late change, or a duplicate, carries a
/// higher number than what came before it, and reaches the handler where it arrived.
#[tokio::test]
async fn kinesis_disorder_reaches_the_handler_as_delivered() {
    let records = records(3);
    let delivered = vec![records[1].clone(), records[0].clone(), records[2].clone(), records[0].clone()];
    let seen = Seen::default();
    let response = router(&seen, None).handle(&kinesis_event(&delivered), &Context::default()).await;
    assert_eq!(named(response), Vec::<String>::new());
    let ids: Vec<String> = delivered.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(*seen.lock().unwrap_or_else(|e| e.into_inner()), ids, "late and twice, as delivered");
}
