use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use ddbstream::dynamodb::ExactlyOnce;
use ddbstream::{BoxError, Change, EventName, Item, Router, State};

#[derive(Clone, serde::Deserialize, serde::Serialize)]
struct LikeKey {
    pk: String,
    sk: String,
}

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

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let client = aws_sdk_dynamodb::Client::new(&aws_config::load_from_env().await);
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let likes = Likes { once: ExactlyOnce::new(client, var("GUARDS_TABLE")?), stats_table: var("STATS_TABLE")? };
    Router::new().with_state(likes).stream(&var("LIKES_TABLE")?, on_like).run().await
}
