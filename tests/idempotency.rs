//! `ddbstream::dynamodb::Idempotency`: one scenario suite against DynamoDB (moto, over HTTP)
//! and against the in-memory twin, which must give the same answers; the lease follows the
//! invocation's deadline; unsafe expiries are refused.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddbstream::dynamodb::{Effect, Idempotency};
use ddbstream::testing::{lambda_event, KeySchema, Table};
use ddbstream::{BoxError, Change, Context, Item, Router, State, StreamViewType};
use workspace_tests::{context_with_budget, create_table, local_client, local_dynamodb};

fn short(result: Result<Effect<u32>, BoxError>) -> String {
    match result {
        Ok(effect) => format!("{effect:?}"),
        Err(error) if error.to_string().contains("is being processed by another invocation") => "in progress".into(),
        Err(error) => format!("error: {error}"),
    }
}

/// The scenario suite; `prefix` keeps keys apart between runs on one table.
async fn scenario(claims: &Idempotency, prefix: &str) -> (Vec<String>, u32) {
    let runs = Arc::new(AtomicU32::new(0));
    let key = |k: &str| format!("{prefix}{k}");
    let run = |value: u32| {
        let runs = Arc::clone(&runs);
        move || async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<u32, BoxError>(value)
        }
    };
    let mut answers = vec![
        short(claims.once_keyed(&key("a"), run(7)).await),
        short(claims.once_keyed(&key("a"), run(8)).await),
        short(claims.once_keyed(&key("b"), || async { Err::<u32, BoxError>("the call failed".into()) }).await),
        short(claims.once_keyed(&key("b"), run(3)).await),
    ];
    // A claim in progress: the effect itself meets its own claim.
    let inner_key = key("c");
    let nested = claims
        .once_keyed(&key("c"), || async {
            let inner = short(claims.once_keyed(&inner_key, run(1)).await);
            Ok::<u32, BoxError>(if inner == "in progress" { 1 } else { 0 })
        })
        .await;
    answers.push(short(nested));
    (answers, runs.load(Ordering::SeqCst))
}

fn expected() -> Vec<String> {
    ["Ran(7)", "AlreadyDone(7)", "error: the call failed", "Ran(3)", "Ran(1)"].map(str::to_owned).to_vec()
}

#[tokio::test]
async fn the_twin_follows_the_claim_rules() {
    let (answers, runs) = scenario(&Idempotency::in_memory(), "").await;
    assert_eq!(answers, expected());
    assert_eq!(runs, 2, "the effect ran for a and for b's retry, never for a's redelivery");
}

#[tokio::test]
async fn dynamodb_and_the_twin_agree() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "Claims", "pk", None).await;
    let moto = scenario(&Idempotency::new(client.clone(), &table), "").await;
    assert_eq!(moto, scenario(&Idempotency::in_memory(), "").await);
    assert_eq!(moto.0, expected());
    // A done claim expires only after 48 h (24 h retention plus 24 h of record age).
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
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
    assert!(expires_at >= now + 48 * 3600 - 60, "expires_at {expires_at}, now {now}");
}

/// A change to drive a handler with.
fn one_change() -> Vec<u8> {
    let mut table = Table::new("Mails", KeySchema::hash("pk"), StreamViewType::KeysOnly);
    let item = Item::from(std::collections::HashMap::from([(
        "pk".to_owned(),
        serde_dynamo::AttributeValue::S("mail#1".into()),
    )]));
    table.put(item).unwrap_or_else(|e| panic!("{e}"));
    lambda_event(&table.stream().records())
}

/// An invocation that dies mid-effect keeps its claim until its deadline, then it is free.
async fn the_lease_follows_the_invocations_deadline(claims: Idempotency) {
    let router = Router::new()
        .with_state(claims.clone())
        .stream("Mails", |State(claims): State<Idempotency>, change: Change<Item>| async move {
            claims
                .once(&change, || async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<u32, BoxError>(0)
                })
                .await
                .map(drop)
        })
        .deadline_margin(Duration::from_secs(1));
    let payload = one_change();
    let started = std::time::Instant::now();
    let response = router.handle(&payload, &context_with_budget(Duration::from_secs(2))).await;
    assert_eq!(response.map(|r| r.batch_item_failures.len()).ok(), Some(1), "abandoned at the margin");
    let event_id = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()
        .and_then(|v| v["Records"][0]["eventID"].as_str().map(str::to_owned));
    let event_id = event_id.unwrap_or_default();
    let retry = || claims.once_keyed(&event_id, || async { Ok::<u32, BoxError>(5) });
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
    the_lease_follows_the_invocations_deadline(Idempotency::new(client, &table)).await;
}

#[test]
fn expiries_that_could_let_a_redelivery_through_are_refused() {
    let hours = |h: u64| Duration::from_secs(h * 3600);
    assert!(Idempotency::in_memory().expire_after(hours(47)).is_err());
    assert!(Idempotency::in_memory().expire_after(hours(48)).is_ok());
    let one_hour_age = Idempotency::in_memory().maximum_record_age(hours(1));
    assert!(one_hour_age.clone().expire_after(hours(25)).is_ok());
    let refused = one_hour_age.expire_after(hours(24)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("at least 90000 s"), "{refused}");
}
