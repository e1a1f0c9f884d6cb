//! Redrive: what a failure destination kept, run again through the same router. End to end
//! against moto over HTTP (S3 objects with the whole invocation, SQS messages with only the
//! sequence range re-read from DynamoDB Streams, an SNS notification), run twice; and with
//! the test kit, records past the stream's retention reported as gone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use ddbstream::dynamodb::{Applied, ExactlyOnce};
use ddbstream::redrive::{redrive as redrive_document, ExpiredClaims, RecordFate, RecoveredFrom, RedriveError};
use ddbstream::runner::{DynamoDbStreams, StartAt, StreamSource};
use ddbstream::testing::{KeySchema, LiveStream, Table};
use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
use serde_json::{json, Value};
use workspace_tests::{
    create_streamed_table, create_table, failure_record, local_client, local_dynamodb, unique_name, Hooked,
};

/// A router whose handler applies each change exactly once (counting what it wrote) into
/// a guard table on moto, and fails an item whose `fail` is true.
fn router(once: ExactlyOnce, written: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(move |change: Change<Item>| {
        let (once, written) = (once.clone(), written.clone());
        async move {
            if matches!(change.new_image().and_then(|i| i.get("fail")), Some(serde_dynamo::AttributeValue::Bool(true)))
            {
                return Err::<(), BoxError>("this order cannot be applied".into());
            }
            if once.apply(&change, []).await? == Applied::Written {
                written.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }
    })
}

#[tokio::test]
async fn discarded_batches_are_redriven_from_s3_and_from_sqs_and_a_second_run_applies_nothing_twice() {
    if !local_dynamodb() {
        return;
    }
    let config = aws_config::load_from_env().await;
    let dynamodb = local_client().await;
    let table = create_streamed_table(&dynamodb, "Orders", "pk", "NEW_AND_OLD_IMAGES").await;
    for (pk, fail) in [("o1", false), ("o2", false), ("o3", true), ("o4", false)] {
        let mut put = dynamodb.put_item().table_name(&table).item("pk", AttributeValue::S(pk.into()));
        if fail {
            put = put.item("fail", AttributeValue::Bool(true));
        }
        put.send().await.unwrap_or_else(|e| panic!("{e:?}"));
    }
    // The records as Lambda delivered them, read from moto's stream.
    let streams = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));
    let stream_arn = streams.stream_of_table(&table).await.unwrap_or_else(|e| panic!("{e}"));
    let shard = streams.describe(&stream_arn, None).await.unwrap_or_else(|e| panic!("{e}")).shards[0].shard_id.clone();
    let iterator = streams.iterator(&stream_arn, &shard, &StartAt::TrimHorizon).await.unwrap_or_else(|e| panic!("{e}"));
    let page = streams.records(&stream_arn, &iterator, 100).await.unwrap_or_else(|e| panic!("{e}"));
    let records: Vec<Value> = page.records.iter().map(|r| r.lambda_json.clone()).collect();
    assert_eq!(records.len(), 4);
    let seqs: Vec<String> = page.records.iter().map(|r| r.sequence_number.to_string()).collect();

    let guards = create_table(&dynamodb, "Guards", "pk", None).await;
    let written = Arc::new(AtomicUsize::new(0));
    let router = router(ExactlyOnce::new(dynamodb.clone(), &guards).consumer("orders-projector"), written.clone());

    // S3: the first two records, with the whole invocation; and all four (o3 fails).
    let s3 = redrive::s3_client(&config);
    let bucket = unique_name("failed").to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    for (key, batch) in [("aws/lambda/esm/shard/1.json", &records[..2]), ("aws/lambda/esm/shard/2.json", &records[..])]
    {
        let body = failure_record(batch, &shard, &stream_arn, true).to_string().into_bytes();
        s3.put_object().bucket(&bucket).key(key).body(body.into()).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    }
    for run in 1..=2 {
        let outcomes =
            redrive::from_bucket(&s3, &bucket, "aws/lambda/", &router, Some(&streams), ExpiredClaims::Refuse)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let fates: Vec<Vec<(String, RecordFate)>> =
            outcomes.iter().map(|o| o.result.as_ref().map(|r| r.records.clone()).unwrap_or_default()).collect();
        let processed = |i: usize| (seqs[i].clone(), RecordFate::Processed);
        assert_eq!(fates[0], vec![processed(0), processed(1)], "run {run}");
        assert_eq!(fates[1][..2], [processed(0), processed(1)], "run {run}");
        assert!(
            matches!(&fates[1][2], (s, RecordFate::Failed(why)) if *s == seqs[2] && why.contains("cannot be applied")),
            "run {run}: {:?}",
            fates[1]
        );
        assert_eq!(fates[1][3], (seqs[3].clone(), RecordFate::NotStarted), "run {run}");
        assert!(outcomes.iter().all(|o| o.result.as_ref().is_ok_and(|r| r.from == RecoveredFrom::Payload)));
        assert!(outcomes[1].lines().iter().any(|l| l.ends_with("not started (an earlier record failed)")));
        // Each change was written once, on the first run, however often it was redriven.
        assert_eq!(written.load(Ordering::SeqCst), 2, "run {run}");
    }

    // SQS: metadata only (as an SQS destination keeps it): o2 alone (the range's end is
    // kept), o4 wrapped in an SNS notification, and o3, which fails again.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs.create_queue().queue_name(unique_name("failed")).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    let queue_url = queue.queue_url().unwrap_or_default().to_owned();
    let only_o2 = failure_record(&records[1..2], &shard, &stream_arn, false);
    let o4_via_sns = json!({"Type": "Notification", "MessageId": "m",
                            "Message": failure_record(&records[3..], &shard, &stream_arn, false).to_string()});
    let only_o3 = failure_record(&records[2..3], &shard, &stream_arn, false);
    for body in [only_o2, o4_via_sns, only_o3] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let outcomes = redrive::from_queue(&sqs, &queue_url, &router, Some(&streams), ExpiredClaims::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut fates: Vec<(RecoveredFrom, Vec<(String, RecordFate)>)> = outcomes
        .iter()
        .map(|o| o.result.as_ref().map(|r| (r.from, r.records.clone())).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    fates.sort_by(|a, b| a.1[0].0.cmp(&b.1[0].0));
    assert_eq!(fates.len(), 3, "{fates:?}");
    assert_eq!(fates[0], (RecoveredFrom::Stream, vec![(seqs[1].clone(), RecordFate::Processed)]));
    assert!(matches!(&fates[1].1[..], [(s, RecordFate::Failed(_))] if *s == seqs[2]), "{fates:?}");
    assert_eq!(fates[2], (RecoveredFrom::Stream, vec![(seqs[3].clone(), RecordFate::Processed)]));
    assert_eq!(written.load(Ordering::SeqCst), 3, "o4 written once; o2 was written before");
    // The processed messages were deleted; the failed one stays for the next redrive.
    let again = redrive::from_queue(&sqs, &queue_url, &router, Some(&streams), ExpiredClaims::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again: Vec<Vec<String>> = again.iter().map(|o| o.lines()).collect();
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0][0].contains(&seqs[2]) && again[0][0].contains("failed: "), "{again:?}");
}

/// `count` orders in a live stream, and the metadata-only failure record (an SQS
/// destination's) of all of them.
async fn orders_in_a_stream(count: u32) -> (LiveStream, Vec<ddbstream::testing::StreamRecord>, String) {
    let stream = LiveStream::new(Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages));
    let records = stream.write(|orders| {
        (1..=count)
            .filter_map(|n| {
                let item = HashMap::from([("pk".to_owned(), serde_dynamo::AttributeValue::S(format!("o{n}")))]);
                orders.put(Item::from(item)).ok().flatten()
            })
            .collect::<Vec<_>>()
    });
    let json: Vec<Value> = records.iter().map(|r| r.to_lambda_json()).collect();
    let shard = stream.describe(&records[0].stream_arn, None).await.unwrap_or_else(|e| panic!("{e}")).shards[0]
        .shard_id
        .clone();
    let metadata = failure_record(&json, &shard, &records[0].stream_arn, false).to_string();
    (stream, records, metadata)
}

#[tokio::test]
async fn records_past_the_streams_retention_are_reported_gone_and_metadata_without_a_stream_cannot_be_reread() {
    let (stream, records, metadata) = orders_in_a_stream(3).await;
    let router = Router::new().fallback(|_: Change<Item>| async { Ok::<(), BoxError>(()) });

    // Still in the stream: re-read and processed.
    let redriven = redrive_document(&router, Some(&stream), metadata.as_bytes(), ExpiredClaims::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(redriven.all_processed() && redriven.records.len() == 3, "{redriven:?}");
    // Past retention: gone, said so.
    stream.trim_through(records[2].sequence_number.clone());
    match redrive_document(&router, Some(&stream), metadata.as_bytes(), ExpiredClaims::Refuse).await {
        Err(error @ RedriveError::Gone(_)) => assert!(error.to_string().contains("24-hour retention"), "{error}"),
        other => panic!("expected Gone, got {other:?}"),
    }
    // Metadata and no stream to read it from.
    match redrive_document::<LiveStream>(&router, None, metadata.as_bytes(), ExpiredClaims::Refuse).await {
        Err(error @ RedriveError::CannotReread(_)) => assert!(error.to_string().contains("no payload"), "{error}"),
        other => panic!("expected CannotReread, got {other:?}"),
    }
    // Not a failure record at all.
    assert!(matches!(
        redrive_document(&router, Some(&stream), b"{\"Records\":[]}", ExpiredClaims::Refuse).await,
        Err(RedriveError::NotAFailureRecord(_))
    ));
}

/// A run of empty pages before each real page (of one record), as `GetRecords` may answer
/// in the middle of a shard; and, if `closes_after` is set, the shard's end (no next
/// iterator) after that many real pages.
struct Sparse {
    empty_pages: usize,
    closes_after: Option<usize>,
}

impl workspace_tests::StreamHook for Sparse {
    async fn iterator(
        &self,
        inner: &LiveStream,
        stream_arn: &str,
        shard_id: &str,
        at: &StartAt,
    ) -> Result<String, ddbstream::runner::SourceError> {
        let inner = inner.iterator(stream_arn, shard_id, at).await?;
        Ok(format!("{}|0|{inner}", self.empty_pages))
    }

    async fn records(
        &self,
        inner: &LiveStream,
        stream_arn: &str,
        iterator: &str,
        _limit: usize,
    ) -> Result<ddbstream::runner::RecordsPage, ddbstream::runner::SourceError> {
        let mut parts = iterator.splitn(3, '|');
        let empty: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let pages: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let rest = parts.next().unwrap_or_default();
        if empty > 0 {
            let next = Some(format!("{}|{pages}|{rest}", empty - 1));
            return Ok(ddbstream::runner::RecordsPage { records: Vec::new(), next_iterator: next });
        }
        let mut page = inner.records(stream_arn, rest, 1).await?;
        let closed = self.closes_after.is_some_and(|after| pages + 1 >= after);
        page.next_iterator = match page.next_iterator {
            Some(next) if !closed => Some(format!("{}|{}|{next}", self.empty_pages, pages + 1)),
            _ => None,
        };
        Ok(page)
    }
}

#[tokio::test(start_paused = true)]
async fn a_reread_goes_on_through_empty_pages_and_never_calls_unread_records_processed() {
    let (stream, records, metadata) = orders_in_a_stream(4).await;
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ran);
    let router = Router::new().fallback(move |_: Change<Item>| {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<(), BoxError>(())
        }
    });
    let seqs: Vec<String> = records.iter().map(|r| r.sequence_number.to_string()).collect();

    // Seven empty pages before the first record and between every two: all four are read.
    let sparse = Hooked { inner: stream.clone(), hook: Sparse { empty_pages: 7, closes_after: None } };
    let redriven = redrive_document(&router, Some(&sparse), metadata.as_bytes(), ExpiredClaims::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let processed: Vec<(String, RecordFate)> = seqs.iter().map(|s| (s.clone(), RecordFate::Processed)).collect();
    assert_eq!(redriven.records, processed);
    assert_eq!(ran.load(Ordering::SeqCst), 4);

    // A shard that ends after two records: those two run, the rest is reported unread.
    let closing = Hooked { inner: stream.clone(), hook: Sparse { empty_pages: 2, closes_after: Some(2) } };
    let redriven = redrive_document(&router, Some(&closing), metadata.as_bytes(), ExpiredClaims::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(redriven.records[..2], processed[..2]);
    assert!(
        matches!(&redriven.records[2..], [(range, RecordFate::Unread(_))] if *range == format!("records after {} to {}", seqs[1], seqs[3])),
        "{:?}",
        redriven.records
    );
    assert!(!redriven.all_processed());
    assert_eq!(ran.load(Ordering::SeqCst), 6);
}
