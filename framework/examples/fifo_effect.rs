//! An effect made exactly once by its sink (feature `dynamodb`): an order shipped sends one
//! message to an SQS FIFO queue, claimed through `Idempotency`, with the claim's
//! `EffectKey` digest as the message's `MessageDeduplicationId`.
//!
//! A claim makes a redelivery skip a *done* effect. What it cannot see is a crash between
//! the effect and the claim's completion: the claim then holds until its lease ends, and
//! the retry runs the effect again. Here the first delivery sends, then stalls until it is
//! abandoned at the deadline margin (as a function that times out or dies); the
//! redelivery, after the lease, sends again under the same deduplication id, and the queue
//! drops it. The example exits non-zero unless the queue holds exactly one message, and a
//! third delivery finds the claim done.
//!
//! It needs DynamoDB and SQS: against moto from this repository (after `make tools`),
//!
//! ```sh
//! scripts/with-moto cargo run -p ddbstream --example fifo_effect --features dynamodb,testing
//! ```
//!
//! (`scripts/run-examples` runs it so). SQS FIFO deduplicates for 5 minutes: the window
//! is closed when the retry comes within 5 minutes of the send, so keep the function's
//! timeout (the claim's lease) well under that.

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType};
use ddbstream::dynamodb::{Effect, EffectKey, Idempotency};
use ddbstream::testing::{lambda_event, KeySchema, Table};
use ddbstream::{BoxError, Change, Context, Router, State, StreamViewType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    pk: String,
    status: String,
}

/// What the function needs: its claims, the queue, and (for this example) whether the next
/// send should be followed by a crash.
#[derive(Clone)]
struct Notify {
    claims: Idempotency,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    crash_after_send: Arc<AtomicBool>,
}

/// One message per shipped order, its deduplication id the claim's key digest.
async fn on_order(State(notify): State<Notify>, change: Change<Order>) -> Result<(), BoxError> {
    let order = change.require_new()?;
    if order.status != "SHIPPED" {
        return Ok(());
    }
    let send = |key: EffectKey| async move {
        let sent = notify
            .sqs
            .send_message()
            .queue_url(&notify.queue_url)
            .message_group_id(&order.pk)
            .message_deduplication_id(key.digest())
            .message_body(format!("{} shipped", order.pk))
            .send()
            .await
            .map_err(|err| ddbstream::error_chain(&err))?;
        if notify.crash_after_send.swap(false, Ordering::SeqCst) {
            // The crash: nothing after the send happens until the invocation is abandoned.
            std::future::pending::<()>().await;
        }
        Ok::<String, BoxError>(sent.message_id().unwrap_or_default().to_owned())
    };
    match notify.claims.once(&change, send).await? {
        Effect::Ran(id) => println!("  sent message {id}"),
        Effect::AlreadyDone(id) => println!("  already sent, as message {id}: skipped"),
    }
    Ok(())
}

/// A context whose deadline is `budget` from now.
fn context(budget: Duration) -> Context {
    let deadline = SystemTime::now() + budget;
    let mut context = Context::default();
    context.deadline = deadline.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    context
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let claims_table = format!("Claims-{suffix}");
    dynamodb
        .create_table()
        .table_name(&claims_table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|err| ddbstream::error_chain(&err))?;
    let queue = sqs
        .create_queue()
        .queue_name(format!("shipped-{suffix}.fifo"))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .map_err(|err| ddbstream::error_chain(&err))?;

    let notify = Notify {
        claims: Idempotency::new(dynamodb, &claims_table).consumer("ship-notify"),
        sqs: sqs.clone(),
        queue_url: queue.queue_url().unwrap_or_default().to_owned(),
        crash_after_send: Arc::new(AtomicBool::new(true)),
    };
    let router =
        Router::new().with_state(notify.clone()).stream("Orders", on_order).deadline_margin(Duration::from_millis(500));

    let mut orders = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage);
    orders.put_value(&Order { pk: "order#1".into(), status: "SHIPPED".into() })?;
    let event = lambda_event(&orders.stream().records());

    println!("first delivery: sends, then crashes before its claim is done");
    let first = router.handle(&event, &context(Duration::from_millis(1500))).await?;
    // The claim holds until the first invocation's deadline.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    println!("redelivery after the lease: the effect runs again, under the same key");
    let second = router.handle(&event, &context(Duration::from_secs(10))).await?;
    println!("third delivery: the claim is done");
    let third = router.handle(&event, &context(Duration::from_secs(10))).await?;

    let received = sqs
        .receive_message()
        .queue_url(&notify.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .map_err(|err| ddbstream::error_chain(&err))?;
    let messages = received.messages().len();
    println!("the queue holds {messages} message(s)");
    let failures = [&first, &second, &third].map(|answer| answer.batch_item_failures.len());
    if failures != [1, 0, 0] || messages != 1 {
        return Err(format!("expected failures [1, 0, 0] and one message, got {failures:?} and {messages}").into());
    }
    Ok(())
}
