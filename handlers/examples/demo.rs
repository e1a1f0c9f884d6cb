//! The local demo (`make demo`): the deployable handlers' logic, run by the stream runner
//! against live local streams (moto, started by `scripts/with-moto`) while a workload
//! writes, updates and deletes orders and customers. It shows the changes flowing, a
//! failure retried, a restart resuming from its checkpoints, and checks the derived tables
//! against the source tables at the end. Exit status 1 if a check fails.

#![allow(clippy::print_stdout)] // a demo prints for the person running it

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;
use ddbstream::runner::{DynamoDbCheckpoints, DynamoDbStreams, Runner, RunnerError};
use ddbstream::{BoxError, Change, Router, State};
use handlers::model::{Order, OrderKey};
use handlers::{audit, orders, replica};
use tokio::sync::watch;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

type Demo<T> = Result<T, BoxError>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

async fn create(client: &Client, name: &str, keys: &[&str], stream: bool) -> Demo<()> {
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (key, kind) in keys.iter().zip([KeyType::Hash, KeyType::Range]) {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder().attribute_name(*key).attribute_type(ScalarAttributeType::S).build()?,
            )
            .key_schema(KeySchemaElement::builder().attribute_name(*key).key_type(kind).build()?);
    }
    if stream {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()?,
        );
    }
    request.send().await?;
    Ok(())
}

async fn put(client: &Client, table: &str, item: &[(&str, AttributeValue)]) -> Demo<()> {
    let mut request = client.put_item().table_name(table);
    for (name, value) in item {
        request = request.item(*name, value.clone());
    }
    request.send().await?;
    Ok(())
}

async fn delete(client: &Client, table: &str, key: &str, value: &str) -> Demo<()> {
    client.delete_item().table_name(table).key(key, s(value)).send().await?;
    Ok(())
}

/// The workload: customers sign up (one changes email, one leaves), orders are placed,
/// paid, shipped, and some cancelled, with a little time between writes.
async fn workload(client: &Client) -> Demo<u32> {
    let pause = || tokio::time::sleep(Duration::from_millis(15));
    let mut writes = 0;
    for c in 1..=4 {
        let id = format!("cust-{c}");
        put(
            client,
            "Customers",
            &[("customer_id", s(&id)), ("email", s(format!("{id}@example.com"))), ("name", s(format!("Customer {c}")))],
        )
        .await?;
        writes += 1;
        pause().await;
    }
    for o in 1..=12i64 {
        let order = [
            ("order_id", s(format!("order-{o:04}"))),
            ("customer_id", s(format!("cust-{}", 1 + o % 4))),
            ("amount", n(1_000 + 250 * o)),
        ];
        put(client, "Orders", &[order[0].clone(), order[1].clone(), order[2].clone(), ("status", s("NEW"))]).await?;
        writes += 1;
        pause().await;
        if o % 3 != 0 {
            put(client, "Orders", &[order[0].clone(), order[1].clone(), order[2].clone(), ("status", s("PAID"))])
                .await?;
            writes += 1;
            pause().await;
        }
        if o % 3 == 1 {
            put(client, "Orders", &[order[0].clone(), order[1].clone(), order[2].clone(), ("status", s("SHIPPED"))])
                .await?;
            writes += 1;
            pause().await;
        }
    }
    Ok(writes)
}

/// More writes while no runner runs: cancellations, an email change, a customer leaving.
async fn workload_while_stopped(client: &Client) -> Demo<u32> {
    for o in [3, 6] {
        delete(client, "Orders", "order_id", &format!("order-{o:04}")).await?;
    }
    put(
        client,
        "Customers",
        &[
            ("customer_id", s("cust-2")),
            ("email", s("second@example.com")),
            ("name", s("Customer 2")),
            ("tier", s("gold")),
        ],
    )
    .await?;
    delete(client, "Customers", "customer_id", "cust-4").await?;
    Ok(4)
}

/// The orders-projector's logic, with one injected transient failure on `order-0005`'s
/// first change, to show a retry from exactly that record.
fn orders_router(client: Client) -> Router {
    let tables = orders::Tables { orders: "Orders".into(), totals: "CustomerTotals".into(), outbox: "Outbox".into() };
    let failed_once = Arc::new(AtomicBool::new(false));
    Router::new().with_state(orders::Projector::new(client, tables)).stream(
        "Orders",
        move |State(projector): State<orders::Projector>, change: Change<Order, OrderKey>| {
            let failed_once = Arc::clone(&failed_once);
            async move {
                let status = change.new_image().map_or("(removed)", |o| o.status.as_str()).to_owned();
                if change.keys.order_id == "order-0005" && !failed_once.swap(true, Ordering::SeqCst) {
                    println!(
                        "  orders-projector  {:<6} {} -> {status}: injected failure (the runner retries it)",
                        change.event_name().as_str(),
                        change.keys.order_id
                    );
                    return Err::<(), BoxError>("injected transient failure".into());
                }
                let applied = orders::apply(&projector, change.clone()).await?;
                println!(
                    "  orders-projector  {:<6} {} -> {status} ({applied:?})",
                    change.event_name().as_str(),
                    change.keys.order_id
                );
                Ok(())
            }
        },
    )
}

fn customers_router(client: Client) -> Router {
    Router::new().with_state(client).stream(
        "Customers",
        |State(client): State<Client>, change: Change<handlers::model::Customer, handlers::model::CustomerKey>| async move {
            let email = change.new_image().map_or("(removed)", |c| c.email.as_str()).to_owned();
            let applied = replica::handle(&client, "CustomersByEmail", change.clone()).await?;
            println!(
                "  customers-replicator {:<6} {} -> {email} ({applied:?})",
                change.event_name().as_str(),
                change.keys.customer_id
            );
            Ok::<(), BoxError>(())
        },
    )
}

fn audit_router(client: Client) -> Router {
    audit::router(
        client,
        audit::Tables { orders: "Orders".into(), customers: "Customers".into(), audit: "Audit".into() },
    )
}

async fn scan(client: &Client, table: &str) -> Demo<Vec<BTreeMap<String, AttributeValue>>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await?;
        items.extend(page.items().iter().map(|i| i.clone().into_iter().collect::<BTreeMap<_, _>>()));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}

fn text(item: &BTreeMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v) | AttributeValue::N(v)) => v.clone(),
        Some(AttributeValue::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

struct Checks(u32);

impl Checks {
    fn check(&mut self, what: &str, ok: bool, detail: String) {
        println!(
            "  [{}] {what}{}",
            if ok { "ok" } else { "FAIL" },
            if ok { String::new() } else { format!(": {detail}") }
        );
        if !ok {
            self.0 += 1;
        }
    }
}

async fn runners(client: &Client, streams: &DynamoDbStreams, shutdown: watch::Receiver<bool>, drain: bool) -> Demo<()> {
    let checkpoints = |consumer: &str| DynamoDbCheckpoints::new(client.clone(), "Checkpoints").consumer(consumer);
    let fast = |runner: Runner<DynamoDbStreams, DynamoDbCheckpoints>| {
        runner.backoff(Duration::from_millis(200), Duration::from_secs(2)).poll_interval(Duration::from_millis(100))
    };
    let all = [
        fast(
            Runner::new(streams.clone(), "Orders", orders_router(client.clone()))
                .checkpoints(checkpoints("orders-projector")),
        ),
        fast(
            Runner::new(streams.clone(), "Customers", customers_router(client.clone()))
                .checkpoints(checkpoints("customers-replicator")),
        ),
        fast(
            Runner::new(streams.clone(), "Orders", audit_router(client.clone()))
                .checkpoints(checkpoints("audit-archive")),
        ),
        fast(
            Runner::new(streams.clone(), "Customers", audit_router(client.clone()))
                .checkpoints(checkpoints("audit-archive")),
        ),
    ];
    let stop = |mut shutdown: watch::Receiver<bool>| async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let results = futures_util::future::join_all(all.iter().map(|runner| {
        let stop = stop(shutdown.clone());
        async move {
            if drain {
                runner.run_until_caught_up(stop).await
            } else {
                runner.run(stop).await
            }
        }
    }))
    .await;
    for (name, result) in
        ["orders-projector", "customers-replicator", "audit-archive (Orders)", "audit-archive (Customers)"]
            .iter()
            .zip(results)
    {
        let report = result.map_err(|e: RunnerError| format!("{name}: {e}"))?;
        println!(
            "  {name}: {} processed, {} failed attempts retried, {} to the sink",
            report.processed, report.failed_attempts, report.sent_to_sink
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Demo<()> {
    let filter = Targets::new().with_target("ddbstream::runner", Level::INFO).with_default(Level::WARN);
    let format = tracing_subscriber::fmt::layer().compact().with_target(false).without_time();
    tracing_subscriber::registry().with(format).with(filter).init();
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err("run through scripts/with-moto (make demo does): the demo needs a local DynamoDB".into());
    }
    let config = aws_config::load_from_env().await;
    let client = Client::new(&config);
    let streams = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));

    println!("== tables (local DynamoDB at {})", std::env::var("AWS_ENDPOINT_URL").unwrap_or_default());
    create(&client, "Orders", &["order_id"], true).await?;
    create(&client, "Customers", &["customer_id"], true).await?;
    for table in ["CustomerTotals", "Outbox", "Audit"] {
        create(&client, table, &["pk", "sk"], false).await?;
    }
    create(&client, "CustomersByEmail", &["email"], false).await?;
    DynamoDbCheckpoints::new(client.clone(), "Checkpoints").create_table().await?;
    println!("  Orders, Customers (streams: NEW_AND_OLD_IMAGES); CustomerTotals, Outbox, CustomersByEmail, Audit; Checkpoints");

    println!("\n== four runners read the streams while the workload writes");
    let (stop, shutdown) = watch::channel(false);
    let (written, ran) = tokio::join!(
        async {
            let written = workload(&client).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = stop.send(true);
            written
        },
        async {
            tokio::select! {
                ran = runners(&client, &streams, shutdown, false) => ran,
                () = ddbstream::runner::signal() => Err::<(), BoxError>("interrupted".into()),
            }
        }
    );
    let written = written?;
    println!("  workload: {written} writes");
    ran?;

    println!("\n== with the runners stopped: 2 orders cancelled, 1 customer changes email, 1 leaves");
    let written = written + workload_while_stopped(&client).await?;

    println!("\n== restart: new runners resume from their checkpoints and drain what is left");
    let (_never, idle) = watch::channel(false);
    runners(&client, &streams, idle, true).await?;

    println!("\n== derived tables against the source tables");
    let mut checks = Checks(0);
    let orders = scan(&client, "Orders").await?;
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for order in &orders {
        let entry = expected.entry(text(order, "customer_id")).or_default();
        entry.0 += text(order, "amount").parse::<i64>().unwrap_or(0);
        entry.1 += 1;
    }
    let totals: BTreeMap<String, (i64, i64)> = scan(&client, "CustomerTotals")
        .await?
        .iter()
        .filter(|i| text(i, "sk") == "TOTALS")
        .map(|i| {
            (
                text(i, "customer_id"),
                (text(i, "total_amount").parse().unwrap_or(0), text(i, "order_count").parse().unwrap_or(0)),
            )
        })
        .filter(|(_, (amount, count))| *amount != 0 || *count != 0)
        .collect();
    for (customer, (amount, count)) in &totals {
        println!("  CustomerTotals  {customer}: {count} orders, {amount} cents");
    }
    checks.check(
        "CustomerTotals equals the sum of Orders per customer",
        totals == expected,
        format!("{totals:?} != {expected:?}"),
    );

    let shipped: Vec<String> = (1..=12).filter(|o| o % 3 == 1).map(|o| format!("ORDER#order-{o:04}")).collect();
    let outbox: Vec<String> = scan(&client, "Outbox")
        .await?
        .iter()
        .map(|i| text(i, "pk"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let outbox_count = scan(&client, "Outbox").await?.len();
    println!("  Outbox          {outbox_count} notifications: {}", outbox.join(", "));
    checks.check(
        "one Outbox notification per shipped order",
        outbox == shipped && outbox_count == shipped.len(),
        format!("{outbox:?}"),
    );

    let customers: BTreeMap<String, String> =
        scan(&client, "Customers").await?.iter().map(|c| (text(c, "email"), text(c, "customer_id"))).collect();
    let by_email: BTreeMap<String, String> = scan(&client, "CustomersByEmail")
        .await?
        .iter()
        .filter(|i| text(i, "deleted") != "true")
        .map(|i| (text(i, "email"), text(i, "customer_id")))
        .collect();
    for (email, customer) in &by_email {
        println!("  CustomersByEmail {email} -> {customer}");
    }
    checks.check(
        "CustomersByEmail equals Customers keyed by email",
        by_email == customers,
        format!("{by_email:?} != {customers:?}"),
    );

    let audit = scan(&client, "Audit").await?.len();
    let changes = written as usize;
    println!("  Audit           {audit} entries");
    checks.check(
        "Audit holds every change of both streams once",
        audit == changes,
        format!("{audit} entries for {changes} writes"),
    );

    if checks.0 > 0 {
        return Err(format!("{} check(s) failed", checks.0).into());
    }
    println!("\nAll checks passed.");
    Ok(())
}
