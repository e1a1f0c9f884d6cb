//! Invocations served at once by one router (Lambda Managed Instances,
//! `AWS_LAMBDA_MAX_CONCURRENCY` above 1): each has its own deadline, answer and metrics, and
//! one invocation's abandonment does not touch the work of another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{BoxError, Change, Context, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;
use workspace_tests::context_with_budget;

fn records(table: &str, count: usize) -> Vec<StreamRecord> {
    let mut table = Table::new(table, KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    (0..count)
        .filter_map(|n| {
            let item = HashMap::from([("pk".to_owned(), AttributeValue::S(format!("item#{n}")))]);
            table.put(Item::from(item)).ok().flatten()
        })
        .collect()
}

/// `Blocking` holds its thread for 1.5 s; `Spawning` spawns a task that sleeps 0.8 s and
/// waits for it (work in the invocation's handler runtime).
fn router(lines: &Arc<Mutex<Vec<String>>>) -> Router {
    let lines = lines.clone();
    Router::new()
        .deadline_margin(Duration::from_millis(200))
        .metrics_to("Test", move |line| lines.lock().unwrap_or_else(PoisonError::into_inner).push(line.to_owned()))
        .stream("Blocking", |_: Change<Item>| async {
            std::thread::sleep(Duration::from_millis(1_500));
            Ok::<(), BoxError>(())
        })
        .stream("Spawning", |_: Change<Item>| async {
            let task = tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            });
            match task.await {
                Ok(_) => Ok(()),
                Err(err) => Err::<(), BoxError>(format!("the handler's own task was stopped: {err}").into()),
            }
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_invocations_abandonment_leaves_the_others_work_alone() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let router = router(&lines);
    let (blocking, spawning) = (records("Blocking", 2), records("Spawning", 2));
    let mut spawning_context = Context::default();
    spawning_context.request_id = "spawning".into();
    let (blocking_payload, blocking_context) =
        (lambda_event(&blocking), context_with_budget(Duration::from_millis(600)));
    let (abandoned, finished) = tokio::join!(router.handle(&blocking_payload, &blocking_context), async {
        // Start while the blocking invocation runs, and outlive its abandonment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        router.handle(&lambda_event(&spawning), &spawning_context).await
    },);
    // The first is abandoned at its own deadline margin and names its first record.
    let abandoned = abandoned.map(|r| r.failed_identifiers().iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(abandoned.ok(), Some(vec![blocking[0].sequence_number.to_string()]));
    // The second, which has no deadline, finished every record: its handler's own task was
    // not cancelled when the first invocation's handler runtime was retired.
    let finished = finished.unwrap_or_else(|err| panic!("{err}"));
    assert!(finished.batch_item_failures.is_empty(), "{finished:?}");
    // One metrics line each, with its own counts.
    let lines = lines.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let processed: Vec<(String, u64)> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|emf| {
            (
                emf["table"].as_str().unwrap_or_default().to_owned(),
                emf["RecordsProcessed"].as_f64().unwrap_or(99.0) as u64,
            )
        })
        .collect();
    assert_eq!(processed.len(), 2, "{lines:?}");
    assert!(
        processed.contains(&("Blocking".to_owned(), 0)) && processed.contains(&("Spawning".to_owned(), 2)),
        "{processed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invocations_at_once_each_keep_their_own_deadline() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let router = Arc::new(router(&lines));
    let spawning = records("Spawning", 1);
    // Eight invocations at once, half with a deadline too short for the handler's 0.8 s.
    let calls = (0..8).map(|n| {
        let (router, payload) = (router.clone(), lambda_event(&spawning));
        tokio::spawn(async move {
            let budget = if n % 2 == 0 { Duration::from_millis(500) } else { Duration::from_secs(10) };
            let response = router.handle(&payload, &context_with_budget(budget)).await;
            (n, response.map(|r| r.batch_item_failures.len()))
        })
    });
    for call in calls {
        let (n, failures) = call.await.unwrap_or_else(|err| panic!("{err}"));
        let expected = if n % 2 == 0 { 1 } else { 0 };
        assert_eq!(failures.ok(), Some(expected), "invocation {n}");
    }
}
