//! Exactly-once writes to DynamoDB (feature `dynamodb`): `ExactlyOnce` applies a change's
//! writes at most once per item, never behind a newer change of that item, through a guard
//! item checked and written in the same `TransactWriteItems` as your writes. Lambda delivers
//! at least once; the counts below move once per change however often a batch comes.
//!
//! ```sh
//! cargo run -p ddbstream --example exactly_once --features dynamodb,testing
//! ```
//!
//! The Likes function (`PostStats.like_count` per post: +1 on INSERT, -1 on REMOVE) runs
//! against `ExactlyOnce::in_memory()`, the twin with the same rule, limits and errors that
//! records the writes it lets through, so no AWS is needed (the `testing` feature builds the
//! events). Against DynamoDB, `ExactlyOnce::new(client, "Guards")` with an SDK client. The
//! batch is delivered twice, then redelivered from its third record; the example exits
//! non-zero unless each change counted once.

#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use ddbstream::dynamodb::ExactlyOnce;
use ddbstream::testing::{lambda_event, KeySchema, Table};
use ddbstream::{BoxError, Change, Context, EventName, Item, Router, State, StreamViewType};
use serde::{Deserialize, Serialize};

/// A like's key: `post#<id>`, `user#<id>`.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct LikeKey {
    pk: String,
    sk: String,
}

/// What the handler needs: the guard and the counters' table.
#[derive(Clone)]
struct Likes {
    once: ExactlyOnce,
    stats_table: String,
}

/// What a like change does to its post's count: +1, -1, or nothing.
fn delta(change: &Change<Item, LikeKey>) -> Option<i64> {
    match change.event_name() {
        EventName::Insert => Some(1),
        EventName::Remove => Some(-1),
        EventName::Modify => None,
    }
}

/// Counts one like change (one transaction per change).
async fn on_like(State(likes): State<Likes>, change: Change<Item, LikeKey>) -> Result<(), BoxError> {
    let Some(delta) = delta(&change) else { return Ok(()) };
    let count = Update::builder()
        .table_name(&likes.stats_table)
        .key("pk", AttributeValue::S(change.keys.pk.clone()))
        .update_expression("ADD like_count :delta")
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
        .build()?;
    likes.once.apply(&change, [TransactWriteItem::builder().update(count).build()]).await?;
    Ok(())
}

/// The counts the twin's applied writes add up to, per post.
fn counts(once: &ExactlyOnce) -> BTreeMap<String, i64> {
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

fn like(post: &str, user: &str) -> Item {
    Item::from(HashMap::from([
        ("pk".to_owned(), serde_dynamo::AttributeValue::S(post.to_owned())),
        ("sk".to_owned(), serde_dynamo::AttributeValue::S(user.to_owned())),
    ]))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::KeysOnly);
    for (post, user) in [("post#1", "user#a"), ("post#1", "user#b"), ("post#2", "user#a")] {
        table.put(like(post, user))?;
    }
    table.delete(like("post#1", "user#a"))?;
    let records = table.stream().records();

    let likes = Likes { once: ExactlyOnce::in_memory(), stats_table: "PostStats".into() };
    let router = Router::new().with_state(likes.clone()).stream("Likes", on_like);
    let expected: BTreeMap<String, i64> = BTreeMap::from([("post#1".to_owned(), 1), ("post#2".to_owned(), 1)]);
    // One delivery, the same batch again, and a redelivery from its third record.
    let deliveries = [("first delivery", &records[..]), ("redelivery", &records[..]), ("retry", &records[2..])];
    for (delivery, batch) in deliveries {
        let answer = router.handle(&lambda_event(batch), &Context::default()).await?;
        let now = counts(&likes.once);
        println!("{delivery:<15} {} writes applied, counts {now:?}", likes.once.applied().len());
        if !answer.batch_item_failures.is_empty() || now != expected {
            return Err(format!("after the {delivery}: expected {expected:?}, got {now:?} ({answer:?})").into());
        }
    }
    Ok(())
}
