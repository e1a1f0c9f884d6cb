//! Exactly once at shard speed, measured (`make bench-exactly-once`, run by
//! `scripts/bench_exactly_once.py`): `CHANGES` changes (default 1,000) in one batch through
//! `Router::handle`, against the DynamoDB endpoint `AWS_ENDPOINT_URL` (the latency proxy,
//! answering itself or in front of moto), for three workloads and each contender, `ROUNDS`
//! interleaved rounds (default 3). Prints one JSON line per run: changes/s, and the
//! DynamoDB requests and write units per change that the proxy counted.
//!
//! With `CHECK=1` (the proxy in front of moto) each run's tables are new; the batch is
//! delivered again from each reported failure, as Lambda does, until none is reported; the
//! counters must then hold exactly one count per change; then the whole batch is delivered
//! again and, for the contenders that promise it, nothing may change. Redeliveries run one
//! change at a time: moto's transactions are not isolated from one another, so concurrent
//! ones there can show duplicates DynamoDB would not make.

#![allow(clippy::print_stdout)] // a benchmark prints its results for the script that runs it

use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use ddbstream::dynamodb::{ExactlyOnce, Fold, Idempotency};
use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{BatchFailure, BoxError, Change, Context, Item, Router, State, StreamViewType};

fn number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Which counter a change of thing `n` adds one to.
#[derive(Clone, Copy, Debug)]
enum Workload {
    /// 200 things, 50 counters (`n % 50`).
    KeyDiverse,
    /// One thing changing every time, one counter.
    HotItem,
    /// 200 things, one counter.
    HotTarget,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Self::KeyDiverse => "key-diverse",
            Self::HotItem => "hot item",
            Self::HotTarget => "hot target",
        }
    }

    fn things(self) -> usize {
        match self {
            Self::HotItem => 1,
            Self::KeyDiverse | Self::HotTarget => 200,
        }
    }

    fn counters(self) -> usize {
        match self {
            Self::KeyDiverse => 50,
            Self::HotItem | Self::HotTarget => 1,
        }
    }

    fn records(self, changes: usize) -> Vec<StreamRecord> {
        let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::KeysOnly);
        for i in 0..changes {
            let item =
                serde_dynamo::to_item(serde_json::json!({ "pk": format!("thing#{}", i % self.things()), "v": i }));
            if let Ok(item) = item {
                let _ = table.put(item);
            }
        }
        table.stream().records()
    }
}

/// The counter a change counts into.
fn counter_of(change: &Change<Item, Item>, counters: usize) -> String {
    let thing = match change.keys.get("pk") {
        Some(serde_dynamo::AttributeValue::S(pk)) => pk.strip_prefix("thing#").and_then(|n| n.parse::<usize>().ok()),
        _ => None,
    };
    format!("counter#{}", thing.unwrap_or(0) % counters)
}

fn add_one(table: &str, counter: &str) -> Result<TransactWriteItem, BoxError> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", AttributeValue::S(counter.to_owned()))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}

#[derive(Clone)]
struct Bench {
    client: Client,
    counters_table: String,
    counters: usize,
    once: ExactlyOnce,
    claims: Idempotency,
}

/// The contenders: name, whether a redelivery must change nothing, and the router. With
/// `sequential`, every router runs one change at a time: moto's transactions are not
/// isolated from one another, so a redelivery is checked there one change at a time.
fn contenders(bench: &Bench, sequential: bool) -> Vec<(&'static str, bool, Router)> {
    let limit = |per_key: usize| if sequential { 1 } else { per_key };
    let state = bench.clone();
    let exactly_once = |state: &Bench, per_key: usize, grouped: bool| {
        let mut state = state.clone();
        state.once = state.once.clone().group_commit(grouped);
        Router::new()
            .with_state(state)
            .stream("Things", |State(bench): State<Bench>, change: Change<Item, Item>| async move {
                let counter = counter_of(&change, bench.counters);
                bench.once.apply(&change, [add_one(&bench.counters_table, &counter)?]).await?;
                Ok::<(), BoxError>(())
            })
            .per_key_concurrency(limit(per_key))
    };
    let claims = Router::new().with_state(state.clone()).stream(
        "Things",
        |State(bench): State<Bench>, change: Change<Item, Item>| async move {
            let counter = counter_of(&change, bench.counters);
            bench
                .claims
                .once(&change, |_| async {
                    let update = bench
                        .client
                        .update_item()
                        .table_name(&bench.counters_table)
                        .key("pk", AttributeValue::S(counter.clone()))
                        .update_expression("ADD n :one")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()));
                    update.send().await.map(|_| ()).map_err(BoxError::from)
                })
                .await?;
            Ok::<(), BoxError>(())
        },
    );
    let plain = Router::new()
        .with_state(state.clone())
        .stream("Things", |State(bench): State<Bench>, change: Change<Item, Item>| async move {
            let counter = counter_of(&change, bench.counters);
            let update = bench
                .client
                .update_item()
                .table_name(&bench.counters_table)
                .key("pk", AttributeValue::S(counter))
                .update_expression("ADD n :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
            update.send().await?;
            Ok::<(), BoxError>(())
        })
        .per_key_concurrency(limit(64));
    let folded = Router::new().with_state(state).stream("Things", fold_counts);
    vec![
        ("ExactlyOnce, one transaction per change, sequential", true, exactly_once(bench, 1, false)),
        ("ExactlyOnce, one transaction per change, per-key 16", true, exactly_once(bench, 16, false)),
        ("ExactlyOnce, one transaction per change, per-key 64", true, exactly_once(bench, 64, false)),
        ("ExactlyOnce, group commit, per-key 64", true, exactly_once(bench, 64, true)),
        ("ExactlyOnce::fold (batch)", true, folded),
        ("claim, write, complete (Idempotency), sequential", true, claims),
        ("plain UpdateItem, no guarantee, per-key 64", false, plain),
    ]
}

/// The folded contender: one `ADD` per counter per transaction, one guard per thing.
async fn fold_counts(State(bench): State<Bench>, changes: Vec<Change<Item, Item>>) -> Result<(), BatchFailure> {
    bench
        .once
        .fold(&changes, |change| {
            let counter = counter_of(change, bench.counters);
            Ok(Fold::new().add(&bench.counters_table, [("pk", AttributeValue::S(counter))], "n", 1))
        })
        .await?;
    Ok(())
}

async fn create(client: &Client, name: &str) -> Result<(), BoxError> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .send()
        .await?;
    Ok(())
}

/// The sum of the counters.
async fn total(client: &Client, table: &str) -> Result<u64, BoxError> {
    let mut sum = 0;
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await?;
        for item in page.items() {
            sum += item.get("n").and_then(|n| n.as_n().ok()).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(sum);
        }
    }
}

/// The proxy's counts since the last reset: requests, write units, conflicts.
async fn stats(http: &str, reset: bool) -> Result<(u64, u64, u64), BoxError> {
    let path = if reset { "/_reset" } else { "/_stats" };
    let body = fetch(http, path).await?;
    let value: serde_json::Value = serde_json::from_str(&body)?;
    let requests = value["requests"].as_object().map_or(0, |ops| ops.values().filter_map(|v| v.as_u64()).sum());
    Ok((requests, value["write_units"].as_u64().unwrap_or(0), value["conflicts"].as_u64().unwrap_or(0)))
}

/// A tiny HTTP/1.1 GET (the proxy's own counters, on loopback: blocking is fine here).
async fn fetch(base: &str, path: &str) -> Result<String, BoxError> {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (changes, rounds) = (number("CHANGES", 1_000), number("ROUNDS", 3));
    let check = std::env::var("CHECK").is_ok_and(|v| v == "1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL names the proxy")?;
    let client = Client::new(&aws_config::load_from_env().await);
    let workloads = [Workload::KeyDiverse, Workload::HotItem, Workload::HotTarget];
    for round in 0..rounds {
        for (which, workload) in workloads.into_iter().enumerate() {
            let records = workload.records(changes);
            let payload = lambda_event(&records);
            let probe = Bench {
                client: client.clone(),
                counters_table: String::new(),
                counters: workload.counters(),
                once: ExactlyOnce::in_memory(),
                claims: Idempotency::in_memory(),
            };
            for index in 0..contenders(&probe, false).len() {
                let suffix = format!("{}-{round}-{which}-{index}", std::process::id());
                let bench = Bench {
                    client: client.clone(),
                    counters_table: format!("Counters-{suffix}"),
                    counters: workload.counters(),
                    once: ExactlyOnce::new(client.clone(), format!("Guards-{suffix}")).consumer("bench"),
                    claims: Idempotency::new(client.clone(), format!("Claims-{suffix}")).consumer("bench"),
                };
                if check {
                    for table in [&bench.counters_table, &format!("Guards-{suffix}"), &format!("Claims-{suffix}")] {
                        create(&client, table).await?;
                    }
                }
                let (name, promise, router) = contenders(&bench, false).swap_remove(index);
                let (_, _, one_at_a_time) = contenders(&bench, true).swap_remove(index);
                stats(&endpoint, true).await?;
                let started = Instant::now();
                let response = router.handle(&payload, &Context::default()).await?;
                let seconds = started.elapsed().as_secs_f64();
                let (requests, units, conflicts) = stats(&endpoint, false).await?;
                let failures = response.batch_item_failures.len();
                let mut verdict = serde_json::Value::Null;
                if check {
                    // As Lambda does: the batch again from the reported record, until none is.
                    let mut reported = response.batch_item_failures.first().and_then(|f| f.item_identifier.clone());
                    let mut redeliveries = 0;
                    while let Some(id) = reported.take().filter(|_| redeliveries < 20) {
                        let from = records.iter().position(|r| r.sequence_number.as_str() == id).unwrap_or(0);
                        let again = one_at_a_time.handle(&lambda_event(&records[from..]), &Context::default()).await?;
                        reported = again.batch_item_failures.first().and_then(|f| f.item_identifier.clone());
                        redeliveries += 1;
                    }
                    let first = total(&client, &bench.counters_table).await?;
                    one_at_a_time.handle(&payload, &Context::default()).await?;
                    let second = total(&client, &bench.counters_table).await?;
                    let exact = first == changes as u64;
                    let unchanged = second == first;
                    verdict = serde_json::json!({ "total": first, "after_redelivery": second,
                        "exact": exact, "redelivery_unchanged": unchanged || !promise });
                }
                let line = serde_json::json!({
                    "round": round, "workload": workload.name(), "contender": name, "changes": changes,
                    "seconds": seconds, "changes_per_s": changes as f64 / seconds, "failures": failures,
                    "requests_per_change": requests as f64 / changes as f64,
                    "write_units_per_change": units as f64 / changes as f64, "conflicts": conflicts, "check": verdict,
                });
                println!("{line}");
            }
        }
    }
    Ok(())
}
