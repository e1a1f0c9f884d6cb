//! The test kit (feature `testing`): an in-memory table whose writes produce the stream
//! records DynamoDB would, typed changes of them for unit tests of your logic, the exact
//! events Lambda would send, and a simulator of Lambda's event source mapping (batches,
//! retries from the reported record, the on-failure destination).
//!
//! ```sh
//! cargo run -p ddbstream --example test_kit --features testing
//! ```
//!
//! In your crate, enable the kit for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! ddbstream = { version = "0.1", features = ["testing"] }
//! ```
//!
//! Each step checks what it shows and the example exits non-zero if a check fails.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ddbstream::testing::{
    changes, lambda_event, write_fixture, EventSourceMapping, Fate, KeySchema, Simulator, StreamRecord, Table,
};
use ddbstream::{BoxError, Change, ChangeKind, Context, EventName, Item, Router, StreamViewType};
use serde::{Deserialize, Serialize};
use serde_dynamo::AttributeValue;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    pk: String,
    status: String,
    amount: i64,
}

#[derive(Clone, Debug, Deserialize)]
struct OrderKey {
    pk: String,
}

/// The logic under test: what a change means, as a plain function of the change.
fn describe(change: &Change<Order, OrderKey>) -> String {
    match &change.kind {
        ChangeKind::Insert { new: Some(order) } => format!("{} placed for {}", order.pk, order.amount),
        ChangeKind::Modify { old: Some(old), new: Some(new) } => format!("{} {}->{}", new.pk, old.status, new.status),
        ChangeKind::Remove { .. } if change.is_ttl_expiry() => format!("{} expired", change.keys.pk),
        ChangeKind::Remove { .. } => format!("{} removed", change.keys.pk),
        _ => format!("{} changed", change.keys.pk),
    }
}

/// Fails unless `ok`, naming the check.
fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok {
        println!("ok   {what}");
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// Takes one of the failures left, if any are.
fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn key(pk: &str) -> Item {
    Item::from(HashMap::from([("pk".to_owned(), AttributeValue::S(pk.to_owned()))]))
}

fn order(pk: &str, status: &str, amount: i64) -> Order {
    Order { pk: pk.to_owned(), status: status.to_owned(), amount }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Writes to an in-memory table produce the records its stream would hold.
    let mut orders = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    orders.put_value(&order("order#1", "NEW", 4250))?;
    orders.put_value(&order("order#2", "NEW", 999))?;
    orders.put_value(&order("order#1", "PAID", 4250))?;
    orders.delete(key("order#2"))?;
    orders.put_value(&order("order#3", "NEW", 10))?;
    orders.expire(key("order#3"))?;
    let records: Vec<StreamRecord> = orders.stream().records();
    let names: Vec<EventName> = records.iter().map(|record| record.event_name).collect();
    let (insert, modify, remove) = (EventName::Insert, EventName::Modify, EventName::Remove);
    check(
        names == [insert, insert, modify, remove, insert, remove],
        "six writes, six records: inserts, a modify, a delete and a TTL expiry",
    )?;

    // Unit tests of the logic: the typed changes, decoded exactly as a route decodes them.
    let typed: Vec<Change<Order, OrderKey>> = changes(&records)?;
    let described: Vec<String> = typed.iter().map(describe).collect();
    let expected = [
        "order#1 placed for 4250",
        "order#2 placed for 999",
        "order#1 NEW->PAID",
        "order#2 removed",
        "order#3 placed for 10",
        "order#3 expired",
    ];
    check(described == expected, "the logic reads each typed change")?;

    // The exact event Lambda would send, through a router.
    let router = Router::new().stream("Orders", |change: Change<Order, OrderKey>| async move {
        tracing::debug!(what = %describe(&change), "change");
        Ok::<(), BoxError>(())
    });
    let answer = router.handle(&lambda_event(&records), &Context::default()).await?;
    check(answer.batch_item_failures.is_empty(), "the router processes the whole event")?;

    // Lambda's event source mapping, simulated: a handler that fails order#2 twice is
    // retried from that record until it succeeds, and every record is acknowledged.
    let failures_left = Arc::new(AtomicUsize::new(2));
    let flaky = Router::new().stream("Orders", move |change: Change<Order, OrderKey>| {
        let failures_left = Arc::clone(&failures_left);
        async move {
            if change.keys.pk == "order#2" && take_one(&failures_left) {
                return Err::<(), BoxError>("a transient failure".into());
            }
            Ok(())
        }
    });
    let shard = orders.stream().describe().first().map(|shard| shard.shard_id.clone()).ok_or("no shard")?;
    let shard_records = orders.stream().shard_records(&shard)?.to_vec();
    let mut lambda = Simulator::new(&flaky, EventSourceMapping::default(), &shard, shard_records.clone());
    let trace = lambda.run().await;
    check(trace.invocations().len() == 3, "two failed invocations, then one that succeeds")?;
    check(
        shard_records.iter().all(|record| matches!(trace.fate(&record.sequence_number), Fate::Acknowledged(_))),
        "every record is acknowledged",
    )?;
    check(trace.attempts(&shard_records[1].sequence_number).len() == 3, "order#2's first change ran three times")?;

    // A fixture file for `cargo lambda invoke --data-file`, or for a test.
    let fixture = std::env::temp_dir().join("ddbstream-test-kit-orders.json");
    write_fixture(&fixture, &records)?;
    check(std::fs::read(&fixture)?.starts_with(b"{"), "the fixture is written")?;
    println!("fixture: {}", fixture.display());
    Ok(())
}
