//! The runner against moto's DynamoDB Streams over real HTTP (started by
//! `scripts/with-moto`, reached through `AWS_ENDPOINT_URL`): records written to a table
//! reach the handler in order; a restarted runner resumes from its DynamoDB checkpoint; a
//! bootstrap replica equals the source table after writes during the scan.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use aws_sdk_dynamodb::Client;
use ddbstream::runner::{scan_table, DynamoDbCheckpoints, DynamoDbStreams, Runner};
use ddbstream::{BoxError, Change, Item, Router};
use serde_dynamo::AttributeValue;
use workspace_tests::{create_streamed_table, local_client, local_dynamodb, scan_all, unique_name};

async fn streams() -> DynamoDbStreams {
    DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&aws_config::load_from_env().await))
}

async fn put(client: &Client, table: &str, pk: &str, version: u32) {
    client
        .put_item()
        .table_name(table)
        .item("pk", Sdk::S(pk.to_owned()))
        .item("version", Sdk::N(version.to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {pk}: {e:?}"));
}

async fn delete(client: &Client, table: &str, pk: &str) {
    client
        .delete_item()
        .table_name(table)
        .key("pk", Sdk::S(pk.to_owned()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("delete {pk}: {e:?}"));
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

/// Logs (event name, key, new version) per change.
fn recording(table: &str, seen: &Seen) -> Router {
    let seen = seen.clone();
    Router::new().stream(table, move |change: Change<Item>| {
        let version = change.new_image().map(|new| text(new, "version"));
        seen.lock().unwrap_or_else(|e| e.into_inner()).push((
            change.event_name().as_str().to_owned(),
            text(&change.keys, "pk"),
            version,
        ));
        async { Ok::<(), BoxError>(()) }
    })
}

fn fast<S: ddbstream::runner::StreamSource, C: ddbstream::runner::CheckpointStore>(
    runner: Runner<S, C>,
) -> Runner<S, C> {
    runner.backoff(Duration::from_millis(10), Duration::from_millis(100)).poll_interval(Duration::from_millis(20))
}

#[tokio::test]
async fn writes_reach_the_handler_in_order_and_a_restart_resumes_from_the_dynamodb_checkpoint() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_streamed_table(&client, "runner-orders", "pk", "NEW_AND_OLD_IMAGES").await;
    let checkpoint_table = unique_name("runner-checkpoints");
    let checkpoints = DynamoDbCheckpoints::new(client.clone(), &checkpoint_table);
    checkpoints.create_table().await.unwrap_or_else(|e| panic!("{e}"));
    let mut expected = Vec::new();
    for n in 0..12u32 {
        let pk = format!("order#{}", n % 4);
        put(&client, &table, &pk, n).await;
        expected.push(((if n < 4 { "INSERT" } else { "MODIFY" }).to_owned(), pk, Some(n.to_string())));
    }
    delete(&client, &table, "order#0").await;
    expected.push(("REMOVE".to_owned(), "order#0".to_owned(), None));

    let seen = Seen::default();
    let runner = fast(Runner::new(streams().await, table.clone(), recording(&table, &seen)))
        .batch_size(5)
        .checkpoints(checkpoints.clone());
    let report = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed, 13);
    assert_eq!(*seen.lock().unwrap_or_else(|e| e.into_inner()), expected, "every write, in write order");
    // The checkpoint items say where in the shard, when and how far behind; the lease was
    // released when the run ended.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let items = scan_all(&client, &checkpoint_table).await;
    assert!(!items.is_empty());
    for item in &items {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
            _ => String::new(),
        };
        assert!(text("owner").is_empty(), "released: {item:?}");
        let updated: u128 = text("updated_at").parse().unwrap_or(0);
        assert!(updated + 120_000 >= now_ms && updated <= now_ms + 1_000, "{item:?}");
        assert!(
            text("position").ends_with(&text("sequence_number")) && !text("sequence_number").is_empty(),
            "{item:?}"
        );
        assert!(text("lag_ms").parse::<u64>().is_ok() && text("heartbeat").parse::<u64>().is_ok(), "{item:?}");
        assert_eq!(text("lease_ms"), "10000", "{item:?}");
    }

    // While a runner runs, its lease is in the item: owner and expiry.
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let watching = fast(Runner::new(streams().await, table.clone(), recording(&table, &Seen::default())))
        .owner("moto-test-owner")
        .checkpoints(checkpoints.clone());
    let (report, items) = tokio::join!(watching.run(stop.notified()), async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let items = scan_all(&client, &checkpoint_table).await;
        stop.notify_one();
        items
    });
    report.unwrap_or_else(|e| panic!("{e}"));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    for item in &items {
        assert_eq!(item.get("owner"), Some(&AttributeValue::S("moto-test-owner".into())), "{item:?}");
        let expires: u128 = match item.get("lease_expires_at") {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            other => panic!("no lease expiry: {other:?}"),
        };
        assert!(expires > now_ms && expires <= now_ms + 10_000, "{item:?}");
    }

    // A new runner (a restart) on the same checkpoint table sees only what came after.
    for n in 12..17u32 {
        put(&client, &table, "order#9", n).await;
        expected.push((
            (if n == 12 { "INSERT" } else { "MODIFY" }).to_owned(),
            "order#9".to_owned(),
            Some(n.to_string()),
        ));
    }
    let restarted =
        fast(Runner::new(streams().await, table.clone(), recording(&table, &seen))).checkpoints(checkpoints);
    let report = restarted.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed, 5);
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        expected,
        "resumed after the checkpoint, nothing twice"
    );
}

#[tokio::test]
async fn a_bootstrap_replica_equals_the_source_after_writes_during_the_scan() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_streamed_table(&client, "runner-source", "pk", "NEW_AND_OLD_IMAGES").await;
    for n in 0..120u32 {
        put(&client, &table, &format!("item#{n:03}"), 0).await;
    }
    let replica: Arc<Mutex<BTreeMap<String, Item>>> = Arc::default();
    let applied = replica.clone();
    let router = Router::new().stream(&table, move |change: Change<Item>| {
        let mut replica = applied.lock().unwrap_or_else(|e| e.into_inner());
        match change.new_image() {
            Some(new) => replica.insert(text(&change.keys, "pk"), new.clone()),
            None => replica.remove(&text(&change.keys, "pk")),
        };
        async { Ok::<(), BoxError>(()) }
    });
    let runner = fast(Runner::new(streams().await, table.clone(), router)).bookmark_refresh(Duration::from_millis(50));

    // Writes land while the scan runs: updates, deletes and new items.
    let writer = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            for n in 0..40u32 {
                match n % 3 {
                    0 => put(&client, &table, &format!("item#{:03}", n * 3), n + 1).await,
                    1 => delete(&client, &table, &format!("item#{:03}", 119 - n)).await,
                    _ => put(&client, &table, &format!("new#{n:03}"), n).await,
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let scanned = replica.clone();
    let scan = scan_table(&client, &table, 4, |item: HashMap<String, Sdk>| {
        let item = Item::from(item);
        scanned.lock().unwrap_or_else(|e| e.into_inner()).insert(text(&item, "pk"), item);
        async { Ok::<(), BoxError>(()) }
    });
    let bootstrapped = runner.bootstrap(scan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(bootstrapped.scanned >= 80, "scanned {}", bootstrapped.scanned);
    writer.await.unwrap_or_else(|e| panic!("{e}"));
    bootstrapped.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));

    let source: BTreeMap<String, Item> =
        scan_all(&client, &table).await.into_iter().map(|i| (text(&i, "pk"), i)).collect();
    assert_eq!(source.len(), 120 - 13 + 13, "the writes happened");
    assert_eq!(*replica.lock().unwrap_or_else(|e| e.into_inner()), source);
}

#[tokio::test]
async fn a_missing_checkpoint_table_is_named_without_the_raw_response() {
    use ddbstream::runner::CheckpointStore;
    if !local_dynamodb() {
        return;
    }
    let store = DynamoDbCheckpoints::new(local_client().await, "NoSuchCheckpoints");
    let error = store.load("arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/x", "shardId-1").await;
    let message = error.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("table `NoSuchCheckpoints`: GetItem failed"), "{message}");
    assert!(message.contains("ResourceNotFoundException"), "{message}");
    assert!(message.len() < 400 && !message.contains("raw"), "{} bytes: {message}", message.len());
}

/// A stream call's error is one line: the service's code and message, not the raw HTTP
/// response (headers, body, SDK internals).
#[tokio::test]
async fn a_stream_calls_error_is_one_line_without_the_raw_response() {
    if !local_dynamodb() {
        return;
    }
    use ddbstream::runner::StreamSource;
    let streams = streams().await;
    let client = local_client().await;
    let table = create_streamed_table(&client, "Orders", "pk", "KEYS_ONLY").await;
    let arn = streams.stream_of_table(&table).await.unwrap_or_else(|e| panic!("{e}"));
    let error = match streams.records(&arn, "not-an-iterator", 10).await {
        Err(error) => error.to_string(),
        Ok(page) => panic!("a bogus iterator read {} records", page.records.len()),
    };
    assert!(error.len() < 300 && !error.contains('\n'), "{} characters: {error}", error.len());
    for raw in ["headers", "HeaderMap", "body", "Response {"] {
        assert!(!error.contains(raw), "{raw:?} in {error}");
    }
}
