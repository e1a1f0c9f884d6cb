//! Work a handler leaves behind when it is abandoned at the deadline margin (blocking work,
//! spawned tasks, a thread it blocks) never runs alongside, or after, its record's
//! redelivery; the answer comes by the margin even when a handler blocks its thread; and
//! panics in an abandoned future's `Drop` or in an error's `Display` fail only their record.
//!
//! Each test writes "applied" markers to a shared log, as a handler would write an item,
//! and reads the order of writes the way a table would end up.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{BoxError, Change, Context, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;
use workspace_tests::context_with_budget;

/// Two changes of one item: `v` 1, then `v` 2.
fn two_changes_of_one_item() -> Vec<StreamRecord> {
    let mut table = Table::new("Items", KeySchema::hash("pk"), StreamViewType::NewImage);
    for v in 1..=2 {
        let item = Item::from(HashMap::from([
            ("pk".to_owned(), AttributeValue::S("item#1".into())),
            ("v".to_owned(), AttributeValue::N(v.to_string())),
        ]));
        table.put(item).unwrap_or_else(|e| panic!("{e}"));
    }
    table.stream().records()
}

/// The writes to the one item, in the order they happened.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<String>>>);

impl Writes {
    fn push(&self, write: String) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(write);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn v(change: &Change<Item>) -> String {
    match change.new_image().and_then(|item| item.get("v")) {
        Some(AttributeValue::N(v)) => v.clone(),
        _ => "?".into(),
    }
}

/// How the handler does its slow write of `v` = 1 (the first attempt only).
#[derive(Clone, Copy, Debug)]
enum Slow {
    /// `tokio::task::spawn_blocking(sleep, then write)`, awaited.
    SpawnBlocking,
    /// `tokio::spawn(async sleep, then write)`, awaited.
    Spawn,
    /// `std::thread::sleep`, then write, in the handler itself.
    BlockThread,
}

/// Writes each change's `v`; the first attempt at `v` = 1 takes `slow_for` to do it.
fn router(writes: &Writes, slow: Slow, slow_for: Duration) -> Router {
    let writes = writes.clone();
    let first = Arc::new(Mutex::new(true));
    Router::new()
        .stream("Items", move |change: Change<Item>| {
            let (writes, first) = (writes.clone(), first.clone());
            async move {
                let v = v(&change);
                let slow_now = v == "1" && std::mem::take(&mut *first.lock().unwrap_or_else(PoisonError::into_inner));
                if !slow_now {
                    writes.push(v);
                    return Ok::<(), BoxError>(());
                }
                let write = move || writes.push(format!("{v} (first attempt)"));
                match slow {
                    Slow::SpawnBlocking => tokio::task::spawn_blocking(move || {
                        std::thread::sleep(slow_for);
                        write();
                    })
                    .await
                    .map_err(|e| e.to_string())?,
                    Slow::Spawn => tokio::spawn(async move {
                        tokio::time::sleep(slow_for).await;
                        write();
                    })
                    .await
                    .map_err(|e| e.to_string())?,
                    Slow::BlockThread => {
                        std::thread::sleep(slow_for);
                        write();
                    }
                }
                Ok(())
            }
        })
        .deadline_margin(Duration::from_millis(400))
}

/// The identifiers a response names.
fn failure_of(response: &impl serde::Serialize) -> Vec<Option<String>> {
    let json = serde_json::to_value(response).unwrap_or_else(|e| panic!("{e}"));
    let failures = json["batchItemFailures"].as_array().cloned().unwrap_or_default();
    failures.iter().map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect()
}

/// The first invocation has 1 s (the margin leaves 600 ms); the slow write takes
/// `slow_for`. Lambda then redelivers both records; `redelivery` is its context.
async fn abandon_then_redeliver(slow: Slow, slow_for: Duration, redelivery: Context) -> Vec<String> {
    let records = two_changes_of_one_item();
    let payload = lambda_event(&records);
    let writes = Writes::default();
    let router = router(&writes, slow, slow_for);

    let started = Instant::now();
    let first = router.handle(&payload, &context_with_budget(Duration::from_secs(1))).await;
    let answered_after = started.elapsed();
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failure_of(&first), [Some(records[0].sequence_number.as_str().to_owned())], "{slow:?}");
    // Before Lambda's deadline (the margin's end, plus at most a quarter of the margin).
    assert!(answered_after < Duration::from_secs(1), "{slow:?}: answered after {answered_after:?}");

    let second = router.handle(&payload, &redelivery).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(failure_of(&second).is_empty(), "{slow:?}: {second:?}");
    // Whatever the first attempt left running has ended or been stopped by now, and
    // nothing more of it may appear.
    tokio::time::sleep(slow_for).await;
    writes.all()
}

/// The redelivery writes 1 then 2, last; the abandoned attempt's write, if it happened at
/// all, came before both.
fn assert_redelivery_wins(slow: Slow, writes: &[String]) {
    let tail: Vec<&str> = writes.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["1", "2"], "{slow:?}: writes {writes:?}");
    assert!(writes.len() <= 3, "{slow:?}: writes {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_blocking_work_ends_before_the_redelivery_starts() {
    for redelivery in [Context::default(), context_with_budget(Duration::from_secs(5))] {
        let writes = abandon_then_redeliver(Slow::SpawnBlocking, Duration::from_millis(1200), redelivery).await;
        assert_eq!(writes, ["1 (first attempt)", "1", "2"]);
    }
}

#[tokio::test]
async fn abandoned_blocking_work_ends_before_the_redelivery_starts_on_a_current_thread_runtime() {
    let writes = abandon_then_redeliver(Slow::SpawnBlocking, Duration::from_millis(1200), Context::default()).await;
    assert_eq!(writes, ["1 (first attempt)", "1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_spawned_tasks_are_stopped_before_the_redelivery_starts() {
    for redelivery in [Context::default(), context_with_budget(Duration::from_secs(5))] {
        let writes = abandon_then_redeliver(Slow::Spawn, Duration::from_millis(1200), redelivery).await;
        // The spawned task was cancelled with the retired runtime: its write never happens.
        assert_eq!(writes, ["1", "2"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_blocks_its_thread_is_answered_by_the_margin_and_ends_before_the_redelivery() {
    for redelivery in [Context::default(), context_with_budget(Duration::from_secs(5))] {
        let writes = abandon_then_redeliver(Slow::BlockThread, Duration::from_millis(1500), redelivery).await;
        assert_redelivery_wins(Slow::BlockThread, &writes);
        assert_eq!(writes, ["1 (first attempt)", "1", "2"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_work_that_outlasts_the_next_deadline_starts_nothing_in_that_invocation() {
    let records = two_changes_of_one_item();
    let payload = lambda_event(&records);
    let writes = Writes::default();
    let router = router(&writes, Slow::SpawnBlocking, Duration::from_millis(2500));
    let first = router.handle(&payload, &context_with_budget(Duration::from_secs(1))).await;
    assert_eq!(failure_of(&first.unwrap_or_else(|e| panic!("{e}"))).len(), 1);
    // The redelivery's margin ends 600 ms in; the stale work needs about 1.8 s more:
    // nothing starts, the first record is reported as not started.
    let second = router.handle(&payload, &context_with_budget(Duration::from_secs(1))).await;
    let second = second.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failure_of(&second), [Some(records[0].sequence_number.as_str().to_owned())]);
    assert!(writes.all().is_empty(), "{:?}", writes.all());
    let third = router.handle(&payload, &Context::default()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(failure_of(&third).is_empty());
    assert_eq!(writes.all(), ["1 (first attempt)", "1", "2"]);
}

/// A future whose `Drop` panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a panicking Drop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_drop_of_an_abandoned_handler_fails_only_its_record() {
    let records = two_changes_of_one_item();
    let router = Router::new()
        .stream("Items", |_: Change<Item>| async {
            let _guard = PanicsOnDrop;
            tokio::time::sleep(Duration::from_secs(30)).await;
            std::mem::forget(_guard);
            Ok::<(), BoxError>(())
        })
        .deadline_margin(Duration::from_millis(200));
    let response = router.handle(&lambda_event(&records), &context_with_budget(Duration::from_secs(1))).await;
    let response = response.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failure_of(&response), [Some(records[0].sequence_number.as_str().to_owned())]);
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct PanickingDisplay;

impl fmt::Display for PanickingDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("a panicking Display")
    }
}

impl std::error::Error for PanickingDisplay {}

#[tokio::test]
async fn a_handler_error_whose_display_panics_fails_only_its_record() {
    let records = two_changes_of_one_item();
    for strict in [false, true] {
        let router = Router::new()
            .stream("Items", |change: Change<Item>| async move {
                if v(&change) == "2" {
                    return Err(PanickingDisplay);
                }
                Ok(())
            })
            .error_when_nothing_processed(strict);
        let response = router.handle(&lambda_event(&records), &Context::default()).await;
        let response = response.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(failure_of(&response), [Some(records[1].sequence_number.as_str().to_owned())]);
    }
}
