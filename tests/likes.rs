//! The Likes example (`handlers::likes`): exactly one count per like change, through
//! redeliveries and a partial failure retried from the reported sequence number, against
//! the in-memory twin and against DynamoDB (moto).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use ddbstream::dynamodb::ExactlyOnce;
use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{BoxError, Change, Context, Item, Router, State, StreamViewType};
use handlers::likes::{on_like, LikeKey, Likes};
use workspace_tests::{create_table, local_client, local_dynamodb};

/// Likes of two posts, with an unlike and a TTL expiry: post#1 ends at 1, post#2 at 1.
fn like_changes() -> Vec<StreamRecord> {
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::KeysOnly);
    let like = |post: &str, user: &str| {
        Item::from(HashMap::from([
            ("pk".to_owned(), serde_dynamo::AttributeValue::S(post.into())),
            ("sk".to_owned(), serde_dynamo::AttributeValue::S(user.into())),
        ]))
    };
    for (post, user) in [("post#1", "user#a"), ("post#1", "user#b"), ("post#2", "user#a"), ("post#1", "user#c")] {
        table.put(like(post, user)).unwrap_or_else(|e| panic!("{e}"));
    }
    table.delete(like("post#1", "user#a")).unwrap_or_else(|e| panic!("{e}"));
    table.put(like("post#2", "user#b")).unwrap_or_else(|e| panic!("{e}"));
    table.delete(like("post#2", "user#b")).unwrap_or_else(|e| panic!("{e}"));
    table.delete(like("post#1", "user#c")).unwrap_or_else(|e| panic!("{e}"));
    table.stream().records()
}

/// The expected counts of `like_changes()`.
fn expected_counts() -> BTreeMap<String, i64> {
    BTreeMap::from([("post#1".to_owned(), 1), ("post#2".to_owned(), 1)])
}

/// The counts as the twin's applied writes add them up.
fn twin_counts(once: &ExactlyOnce) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (_, writes) in once.applied() {
        for write in writes {
            let Some(update) = write.update() else { continue };
            let post = update.key().get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let delta = update.expression_attribute_values().and_then(|v| v.get(":delta"));
            let delta: i64 = delta.and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
            *counts.entry(post).or_default() += delta;
        }
    }
    counts
}

/// A router that fails the record with sequence number `fail_at` once, then behaves as the
/// Likes function.
fn flaky_router(likes: Likes, fail_at: String) -> Router {
    let failed = Arc::new(AtomicBool::new(false));
    Router::new().with_state(likes).stream("Likes", move |state: State<Likes>, change: Change<Item, LikeKey>| {
        let fail = change.sequence_number().as_str() == fail_at && !failed.swap(true, Ordering::Relaxed);
        async move {
            if fail {
                return Err::<(), BoxError>("a transient failure".into());
            }
            on_like(state, change).await
        }
    })
}

fn reported(response: &impl serde::Serialize) -> Vec<String> {
    let json = serde_json::to_value(response).unwrap_or_else(|e| panic!("{e}"));
    let failures = json["batchItemFailures"].as_array().cloned().unwrap_or_default();
    failures.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect()
}

/// Redelivery, then a partial failure retried from the reported record, then a replay:
/// `counts` reads the counts after each step, which must be the expected ones throughout.
async fn redeliveries_count_once<F, Fut>(likes: Likes, counts: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = BTreeMap<String, i64>>,
{
    let payload = lambda_event(&like_changes());
    let plain = Router::new().with_state(likes).stream("Likes", on_like);
    for _ in 0..2 {
        let response = plain.handle(&payload, &Context::default()).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(reported(&response).is_empty());
        assert_eq!(counts().await, expected_counts());
    }
}

/// A partial failure at record 3: Lambda redelivers from it; nothing counts twice.
async fn partial_failure_counts_once<F, Fut>(likes: Likes, counts: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = BTreeMap<String, i64>>,
{
    let records = like_changes();
    let failing = records[3].sequence_number.as_str().to_owned();
    let flaky = flaky_router(likes, failing.clone());
    let response = flaky.handle(&lambda_event(&records), &Context::default()).await;
    assert_eq!(reported(&response.unwrap_or_else(|e| panic!("{e}"))), [failing]);
    assert_eq!(counts().await, BTreeMap::from([("post#1".to_owned(), 2), ("post#2".to_owned(), 1)]));
    // Lambda redelivers from the reported record; then the whole batch once more.
    for batch in [&records[3..], &records[..]] {
        let response = flaky.handle(&lambda_event(batch), &Context::default()).await;
        assert!(reported(&response.unwrap_or_else(|e| panic!("{e}"))).is_empty());
        assert_eq!(counts().await, expected_counts());
    }
}

#[tokio::test]
async fn against_the_twin() {
    let likes = Likes { once: ExactlyOnce::in_memory(), stats_table: "PostStats".into() };
    redeliveries_count_once(likes.clone(), || std::future::ready(twin_counts(&likes.once))).await;
    let likes = Likes { once: ExactlyOnce::in_memory(), stats_table: "PostStats".into() };
    partial_failure_counts_once(likes.clone(), || std::future::ready(twin_counts(&likes.once))).await;
}

#[tokio::test]
async fn against_dynamodb() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    for step in 0..2 {
        let guards = create_table(&client, "Guards", "pk", None).await;
        let stats = create_table(&client, "PostStats", "pk", None).await;
        let likes =
            Likes { once: ExactlyOnce::new(client.clone(), &guards).consumer("likes"), stats_table: stats.clone() };
        let counts = || async {
            let items = client.scan().table_name(&stats).send().await.unwrap_or_else(|e| panic!("{e}"));
            let count = |item: &HashMap<String, AttributeValue>| {
                let post = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let n = item.get("like_count").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                (post, n.unwrap_or(0))
            };
            items.items().iter().map(count).collect::<BTreeMap<String, i64>>()
        };
        match step {
            0 => redeliveries_count_once(likes, counts).await,
            _ => partial_failure_counts_once(likes, counts).await,
        }
    }
}

/// The Likes logic as each copy states it: from `delta`'s doc comment to the end of
/// `on_like`, `pub` dropped.
fn likes_logic(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text.find("/// What a like change does").unwrap_or_else(|| panic!("{relative}: no `delta`"));
    let body = &text[start..];
    let on_like = body.find("fn on_like(").unwrap_or_else(|| panic!("{relative}: no `on_like`"));
    let end = on_like + body[on_like..].find("\n}\n").unwrap_or_else(|| panic!("{relative}: `on_like` unclosed"));
    body[..end + 2].replace("pub async fn", "async fn").replace("pub fn", "fn")
}

#[test]
fn the_likes_logic_is_the_same_in_the_readme_the_example_the_handler_and_the_outside_crate() {
    let handler = likes_logic("handlers/src/likes.rs");
    for copy in ["README.md", "framework/examples/exactly_once.rs", "tests/outside-crate/src/main.rs"] {
        assert_eq!(likes_logic(copy), handler, "{copy} states the Likes logic differently from handlers/src/likes.rs");
    }
}
