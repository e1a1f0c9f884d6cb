//! Likes: `PostStats.like_count` per post, from the `Likes` table (pk `post#<id>`, sk
//! `user#<id>`): +1 on INSERT, -1 on REMOVE (TTL expiries included), nothing on MODIFY.
//! Each change counts exactly once, in stream order per like, however often Lambda
//! delivers it: [`ExactlyOnce`] guards the count in the same transaction. Route it with
//! `Router::new().with_state(likes).stream("Likes", on_like)`.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use ddbstream::dynamodb::{ExactlyOnce, Fold};
use ddbstream::{BatchFailure, BoxError, Change, EventName, Item, State};
use serde::{Deserialize, Serialize};

/// A like's key.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LikeKey {
    /// `post#<id>`.
    pub pk: String,
    /// `user#<id>`.
    pub sk: String,
}

/// What the handler needs: the guard and the counters' table.
#[derive(Clone, Debug)]
pub struct Likes {
    /// Guards in their own table.
    pub once: ExactlyOnce,
    /// `PostStats`.
    pub stats_table: String,
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
pub async fn on_like(State(likes): State<Likes>, change: Change<Item, LikeKey>) -> Result<(), BoxError> {
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

/// Counts a batch of like changes at once, for a viral post: the changes of one like share
/// its guard, and every post's count moves by one `ADD` per transaction
/// ([`ExactlyOnce::fold`]); 1,000 likes of one post are one transaction. Route it with
/// `Router::new().with_state(likes).stream("Likes", on_likes)`.
pub async fn on_likes(State(likes): State<Likes>, changes: Vec<Change<Item, LikeKey>>) -> Result<(), BatchFailure> {
    let folded = likes
        .once
        .fold(&changes, |change| {
            let Some(delta) = delta(change) else { return Ok(Fold::new()) };
            let post = [("pk", AttributeValue::S(change.keys.pk.clone()))];
            Ok(Fold::new().add(&likes.stats_table, post, "like_count", delta))
        })
        .await?;
    tracing::info!(
        written = folded.written,
        already_applied = folded.already_applied,
        transactions = folded.transactions,
        "likes counted"
    );
    Ok(())
}
