//! `ddbstream::dynamodb::Idempotency`: one scenario suite against DynamoDB (moto, over HTTP)
//! and against the in-memory twin, which must give the same answers (claims per consumer,
//! a panicking effect, owned claims); the lease follows the invocation's deadline; claims
//! outlive every path back, and a redrive refuses what they may have forgotten; an effect
//! with a deduplicating sink (SQS FIFO) is once even across a crash before its claim is done.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddbstream::dynamodb::{Effect, EffectKey, Idempotency};
use ddbstream::redrive::{redrive, ExpiredClaims, RecordFate};
use ddbstream::runner::DynamoDbStreams;
use ddbstream::testing::{kinesis_event, lambda_event, KeySchema, Table, CLOCK_START};
use ddbstream::{BoxError, Change, Context, Item, Router, State, StreamViewType};
use futures_util::FutureExt;
use workspace_tests::{
    collect_changes, context_with_budget, create_table, failure_record, local_client, local_dynamodb, unique_name,
};

fn short(result: Result<Effect<u32>, BoxError>) -> String {
    match result {
        Ok(effect) => format!("{effect:?}"),
        Err(error) if error.to_string().contains("is being processed by another invocation") => "in progress".into(),
        Err(error) if error.to_string().contains("is no longer this invocation's") => {
            let released = if error.to_string().contains("not released") { " (not released)" } else { "" };
            format!("stale{released}")
        }
        Err(error) => format!("error: {error}"),
    }
}

/// A change of the `Mails` table made `age` before now (its claims' lifetime counts from then).
fn mail_event(pk: &str, made_ago: Option<Duration>) -> Vec<u8> {
    let mut table = Table::new("Mails", KeySchema::hash("pk"), StreamViewType::KeysOnly);
    if let Some(age) = made_ago {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        table.advance(now.saturating_sub(age.as_secs()).saturating_sub(CLOCK_START));
    }
    let item =
        Item::from(std::collections::HashMap::from([("pk".to_owned(), serde_dynamo::AttributeValue::S(pk.into()))]));
    table.put(item).unwrap_or_else(|e| panic!("{e}"));
    lambda_event(&table.stream().records())
}

async fn mail_change() -> Change<Item> {
    collect_changes::<Item, Item>(&mail_event("mail#1", None)).await.remove(0)
}

/// The scenario suite.
async fn scenario(claims: &Idempotency) -> (Vec<String>, u32) {
    let change = mail_change().await;
    let runs = Arc::new(AtomicU32::new(0));
    let run = |value: u32| {
        let runs = Arc::clone(&runs);
        move |_: EffectKey| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<u32, BoxError>(value)
        }
    };
    let c = &change;
    let mut answers = vec![
        short(claims.once_keyed(c, "a", run(7)).await),
        short(claims.once_keyed(c, "a", run(8)).await),
        short(claims.once_keyed(c, "b", |_| async { Err::<u32, BoxError>("the call failed".into()) }).await),
        short(claims.once_keyed(c, "b", run(3)).await),
    ];
    // A claim in progress: the effect itself meets its own claim.
    let nested = claims
        .once_keyed(c, "c", |_| async {
            let inner = short(claims.once_keyed(c, "c", run(1)).await);
            Ok::<u32, BoxError>(if inner == "in progress" { 1 } else { 0 })
        })
        .await;
    answers.push(short(nested));
    // Another consumer on the same table: claims of its own.
    let other = claims.clone().consumer("other-function");
    answers.push(short(other.once_keyed(c, "a", run(9)).await));
    answers.push(short(other.once_keyed(c, "a", run(10)).await));
    // A panicking effect releases its claim: the retry runs at once.
    let panicked = std::panic::AssertUnwindSafe(claims.once_keyed(c, "p", |_| async {
        if runs.load(Ordering::SeqCst) < u32::MAX {
            panic!("the effect panicked");
        }
        Ok::<u32, BoxError>(0)
    }))
    .catch_unwind()
    .await;
    answers.push(if panicked.is_err() { "panicked".into() } else { "no panic".into() });
    answers.push(short(claims.once_keyed(c, "p", run(4)).await));
    // Owned claims. With a 400 ms lease, the first holder of "s" is still in its effect when
    // its lease runs out and a second takes the claim: the first, done while the second is
    // still running, cannot complete the second's claim.
    let short_lease = claims.clone().lease(Duration::from_millis(400));
    let first = short_lease.once_keyed(c, "s", |_| async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Ok::<u32, BoxError>(1)
    });
    let second = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let slow = run(2);
        claims
            .once_keyed(c, "s", |key| async move {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                slow(key).await
            })
            .await
    };
    let (first, second) = tokio::join!(first, second);
    answers.extend([short(first), short(second), short(claims.once_keyed(c, "s", run(0)).await)]);
    // Nor can it release it: its effect fails after the second took the claim, which holds.
    let first = short_lease.once_keyed(c, "r", |_| async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Err::<u32, BoxError>("the call failed".into())
    });
    let second = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        claims
            .once_keyed(c, "r", |_| async {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                Ok::<u32, BoxError>(5)
            })
            .await
    };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        short_lease.once_keyed(c, "r", run(0)).await
    };
    let (first, second, meanwhile) = tokio::join!(first, second, meanwhile);
    answers.extend([short(first), short(meanwhile), short(second)]);
    (answers, runs.load(Ordering::SeqCst))
}

fn expected() -> Vec<String> {
    [
        "Ran(7)",
        "AlreadyDone(7)",
        "error: the call failed",
        "Ran(3)",
        "Ran(1)",
        "Ran(9)",
        "AlreadyDone(9)",
        "panicked",
        "Ran(4)",
        "stale",
        "Ran(2)",
        "AlreadyDone(2)",
        "stale (not released)",
        "in progress",
        "Ran(5)",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twin_follows_the_claim_rules() {
    let (answers, runs) = scenario(&Idempotency::in_memory()).await;
    assert_eq!(answers, expected());
    assert_eq!(runs, 5, "a, b's retry, the other consumer's a, p's retry, s's second holder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_and_the_twin_agree() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "Claims", "pk", None).await;
    let moto = scenario(&Idempotency::new(client.clone(), &table).consumer("test")).await;
    assert_eq!(moto, scenario(&Idempotency::in_memory()).await);
    assert_eq!(moto.0, expected());
    // A done claim is kept the stream's 24 h plus the redrive window's 7 days.
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("test#a".into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expires_at: u64 = item
        .item()
        .and_then(|i| i.get("expires_at"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let lifetime = 24 * 3600 + 7 * 24 * 3600;
    assert!(expires_at.abs_diff(now + lifetime) < 120, "expires_at {expires_at}, now {now}");
}

#[tokio::test]
async fn done_claims_outlive_every_path_back() {
    let hours = |h: u64| Duration::from_secs(h * 3600);
    let stream = mail_change().await;
    let mut table = Table::new("Mails", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    table.put_value(&serde_json::json!({"pk": "mail#1"})).unwrap_or_else(|e| panic!("{e}"));
    let kinesis = collect_changes::<Item, Item>(&kinesis_event(&table.stream().records())).await.remove(0);
    assert!(kinesis.meta.via_kinesis());
    let claims = Idempotency::in_memory();
    let week = hours(7 * 24);
    assert_eq!(claims.claim_lifetime(&stream), hours(24) + week, "a DynamoDB stream's 24 h, then a redrive");
    assert_eq!(claims.claim_lifetime(&kinesis), hours(365 * 24) + week, "Kinesis: its longest retention");
    let stated = claims.clone().kinesis_retention(hours(48));
    assert_eq!(stated.claim_lifetime(&kinesis), hours(48) + week);
    assert_eq!(stated.claim_lifetime(&stream), hours(24) + week);
    let aged = claims.clone().maximum_record_age(hours(1));
    assert_eq!((aged.claim_lifetime(&stream), aged.claim_lifetime(&kinesis)), (hours(1) + week, hours(1) + week));
    assert_eq!(claims.redrive_window(hours(90 * 24)).claim_lifetime(&stream), hours(24 + 90 * 24));
}

/// A router whose handler sends a mail per change, once.
fn mailer(claims: Idempotency, sent: Arc<AtomicU32>) -> Router {
    Router::new().with_state((claims, sent)).stream(
        "Mails",
        |State((claims, sent)): State<(Idempotency, Arc<AtomicU32>)>, change: Change<Item>| async move {
            claims
                .once(&change, |_| async move { Ok::<u32, BoxError>(sent.fetch_add(1, Ordering::SeqCst)) })
                .await
                .map(drop)
        },
    )
}

/// An S3 failure destination's document holding `payload`, its record's event id `event_id`.
fn failure_document(payload: &[u8], event_id: &str) -> Vec<u8> {
    let mut payload: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    payload["Records"][0]["eventID"] = event_id.into();
    let records = payload["Records"].as_array().cloned().unwrap_or_default();
    let stream_arn = payload["Records"][0]["eventSourceARN"].as_str().unwrap_or_default().to_owned();
    failure_record(&records, "shardId-1", &stream_arn, true).to_string().into_bytes()
}

/// A redrive of a record older than its claims are kept is refused, naming it, unless run
/// with `ExpiredClaims::Run`; a younger one runs (its claim, had it run, would be there).
async fn a_redrive_refuses_records_whose_claims_may_have_expired(claims: Idempotency) {
    let sent = Arc::new(AtomicU32::new(0));
    let router = mailer(claims, Arc::clone(&sent));
    let old = failure_document(&mail_event("mail#old", Some(Duration::from_secs(9 * 24 * 3600))), "event-old");
    let young = failure_document(&mail_event("mail#young", Some(Duration::from_secs(6 * 24 * 3600))), "event-young");
    let fates = |document: &[u8], expired: ExpiredClaims| {
        let router = &router;
        let document = document.to_vec();
        async move {
            let redriven = redrive::<DynamoDbStreams>(router, None, &document, expired).await;
            redriven.map(|r| r.records.into_iter().map(|(_, fate)| fate).collect::<Vec<_>>()).unwrap_or_default()
        }
    };
    let refused = fates(&old, ExpiredClaims::Refuse).await;
    assert!(
        matches!(&refused[..], [RecordFate::Failed(why)] if why.contains("redrive refused record") && why.contains("--force")),
        "{refused:?}"
    );
    assert_eq!(sent.load(Ordering::SeqCst), 0, "nothing sent for a refused record");
    assert_eq!(fates(&young, ExpiredClaims::Refuse).await, [RecordFate::Processed]);
    assert_eq!(fates(&old, ExpiredClaims::Run).await, [RecordFate::Processed]);
    assert_eq!(sent.load(Ordering::SeqCst), 2);
    // Once done, a redrive finds the claim and skips the effect, forced or not.
    assert_eq!(fates(&old, ExpiredClaims::Refuse).await, [RecordFate::Processed]);
    assert_eq!(sent.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_redrive_refuses_records_whose_claims_may_have_expired_in_the_twin() {
    a_redrive_refuses_records_whose_claims_may_have_expired(Idempotency::in_memory()).await;
}

#[tokio::test]
async fn a_redrive_refuses_records_whose_claims_may_have_expired_in_dynamodb() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "Claims", "pk", None).await;
    a_redrive_refuses_records_whose_claims_may_have_expired(Idempotency::new(client, &table).consumer("mailer")).await;
}

/// An invocation that dies mid-effect keeps its claim until its deadline, then it is free.
async fn the_lease_follows_the_invocations_deadline(claims: Idempotency) {
    let router = Router::new()
        .with_state(claims.clone())
        .stream("Mails", |State(claims): State<Idempotency>, change: Change<Item>| async move {
            claims
                .once(&change, |_| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<u32, BoxError>(0)
                })
                .await
                .map(drop)
        })
        .deadline_margin(Duration::from_secs(1));
    let payload = mail_event("mail#1", None);
    let change = collect_changes::<Item, Item>(&payload).await.remove(0);
    let started = std::time::Instant::now();
    let response = router.handle(&payload, &context_with_budget(Duration::from_secs(2))).await;
    assert_eq!(response.map(|r| r.batch_item_failures.len()).ok(), Some(1), "abandoned at the margin");
    let retry = || claims.once(&change, |_| async { Ok::<u32, BoxError>(5) });
    assert_eq!(short(retry().await), "in progress", "the claim holds until the invocation's deadline");
    tokio::time::sleep(Duration::from_millis(2200).saturating_sub(started.elapsed())).await;
    assert_eq!(short(retry().await), "Ran(5)", "after the deadline the claim is free");
    let _ = Context::default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_follows_the_invocations_deadline_in_the_twin() {
    the_lease_follows_the_invocations_deadline(Idempotency::in_memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_follows_the_invocations_deadline_in_dynamodb() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "Claims", "pk", None).await;
    the_lease_follows_the_invocations_deadline(Idempotency::new(client, &table).consumer("test")).await;
}

#[tokio::test]
async fn claims_need_a_consumer_outside_lambda() {
    if std::env::var(ddbstream::dynamodb::FUNCTION_NAME_ENV).is_ok() {
        return;
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).region("us-east-1").load().await;
    let claims = Idempotency::new(aws_sdk_dynamodb::Client::new(&config), "Claims");
    let change = mail_change().await;
    let error = claims.once(&change, |_| async { Ok::<u32, BoxError>(1) }).await.err().map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("name the consumer with .consumer(")));
}

/// The effect sends to an SQS FIFO queue with its key's digest as the deduplication id. The
/// invocation "crashes" after the send and before its claim is done (its future is dropped,
/// as a process that dies); after the lease the redelivery runs the effect again, and the
/// queue drops the second send: one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_send_and_complete_leaves_one_message_in_a_fifo_queue() {
    if !local_dynamodb() {
        return;
    }
    let config = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let created = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique_name("shipped")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let queue = created.queue_url().unwrap_or_default().to_owned();
    let client = local_client().await;
    let table = create_table(&client, "Claims", "pk", None).await;
    let claims = Idempotency::new(client, &table).consumer("ship-notify").lease(Duration::from_millis(500));
    let change = mail_change().await;
    let send = |key: EffectKey| {
        let (sqs, queue) = (sqs.clone(), queue.clone());
        async move {
            let sent = sqs
                .send_message()
                .queue_url(&queue)
                .message_body("order shipped")
                .message_group_id("orders")
                .message_deduplication_id(key.digest())
                .send()
                .await
                .map_err(|e| ddbstream::error_chain(&e))?;
            Ok::<String, BoxError>(sent.message_id().unwrap_or_default().to_owned())
        }
    };
    let crashed = claims.once(&change, |key| async move {
        let sent = send(key).await;
        std::future::pending::<()>().await; // dies here: the claim is never completed
        sent
    });
    assert!(tokio::time::timeout(Duration::from_millis(300), crashed).await.is_err(), "the first attempt dies");
    tokio::time::sleep(Duration::from_millis(400)).await; // the dead attempt's lease runs out
    let redelivered = claims.once(&change, send).await.map_err(|e| e.to_string());
    assert!(matches!(redelivered, Ok(Effect::Ran(_))), "{redelivered:?}");
    let again = claims.once(&change, send).await.map_err(|e| e.to_string());
    assert!(matches!(again, Ok(Effect::AlreadyDone(_))), "{again:?}");
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(received.messages().len(), 1, "the queue dropped the second send of the same key");
}
