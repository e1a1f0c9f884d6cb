//! Likes: `PostStats.like_count` per post, from the `Likes` table (pk `post#<id>`, sk
//! `user#<id>`): +1 on INSERT, -1 on REMOVE (TTL expiries included), nothing on MODIFY.
//! Each change counts exactly once, in stream order per like, however often Lambda
//! delivers it: [`ExactlyOnce`] guards the count in the same transaction. Route it with
//! `Router::new().with_state(likes).stream("Likes", on_like)`.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use ddbstream::dynamodb::ExactlyOnce;
use ddbstream::{BoxError, Change, EventName, Item, State};
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

/// Counts one like change.
pub async fn on_like(State(likes): State<Likes>, change: Change<Item, LikeKey>) -> Result<(), BoxError> {
    let delta = match change.event_name() {
        EventName::Insert => 1,
        EventName::Remove => -1,
        EventName::Modify => return Ok(()),
    };
    let count = Update::builder()
        .table_name(&likes.stats_table)
        .key("pk", AttributeValue::S(change.keys.pk.clone()))
        .update_expression("ADD like_count :delta")
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
        .build()?;
    likes.once.apply(&change, [TransactWriteItem::builder().update(count).build()]).await?;
    Ok(())
}
