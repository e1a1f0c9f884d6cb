//! `ddbstream::dynamodb::ExactlyOnce`: one scenario suite, run against DynamoDB (moto, over
//! HTTP) and against the in-memory twin, which must give the same answers; and what only
//! DynamoDB can say (a failed condition of the user's own write, a missing table).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use ddbstream::dynamodb::{Applied, ExactlyOnce};
use ddbstream::testing::{kinesis_event, lambda_event, KeySchema, Table};
use ddbstream::{Change, Item, SequenceNumber, StreamViewType};
use workspace_tests::{capture_logs, collect_changes, create_table, local_client, local_dynamodb};

/// Three changes: item A (seq 1), item A again (seq 2), item B (seq 3).
async fn changes() -> Vec<Change<Item, Item>> {
    let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::NewImage);
    for (pk, v) in [("A", "1"), ("A", "2"), ("B", "1")] {
        let item = Item::from(HashMap::from([
            ("pk".to_owned(), serde_dynamo::AttributeValue::S(pk.into())),
            ("v".to_owned(), serde_dynamo::AttributeValue::N(v.into())),
        ]));
        table.put(item).unwrap_or_else(|e| panic!("{e}"));
    }
    collect_changes(&lambda_event(&table.stream().records())).await
}

/// A write of the change's sequence number into `data_table`.
fn write(data_table: &str, change: &Change<Item, Item>) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(data_table)
        .item("pk", AttributeValue::S(format!("data#{}", change.sequence_number())))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TransactWriteItem::builder().put(put).build()
}

/// The scenario suite: each step's answer, `Err` as a short kind.
async fn scenario(once: &ExactlyOnce, data_table: &str) -> Vec<Result<Applied, String>> {
    let c = changes().await;
    let apply = |i: usize| once.apply(&c[i], [write(data_table, &c[i])]);
    let keyed = |i: usize| once.apply_keyed(&c[i], "shared", [write(data_table, &c[i])]);
    let mut fake = c[0].clone();
    fake.meta.sequence_number = SequenceNumber::new("fake");
    let other = once.clone().consumer("other-function");
    let kind = |r: Result<Applied, ddbstream::dynamodb::WriteError>| {
        r.map_err(|e| {
            let e = e.to_string();
            if e.contains("at most 100 actions") {
                "limit".to_owned()
            } else if e.contains("two operations on one item") {
                "one item twice".to_owned()
            } else {
                "error".to_owned()
            }
        })
    };
    vec![
        kind(apply(0).await),                                                          // A seq 1: written
        kind(apply(0).await),                                                          // redelivered: skipped
        kind(apply(1).await),                                                          // A seq 2: written
        kind(apply(0).await),                                                          // A seq 1 after seq 2: skipped
        kind(apply(2).await),                                                          // B: its own guard
        kind(apply(2).await),                                                          // B redelivered
        kind(keyed(1).await),                                                          // a named guard
        kind(keyed(0).await),                                                          // older under that guard
        kind(keyed(2).await),                                                          // newer under that guard
        kind(once.apply(&fake, [write(data_table, &c[0])]).await),                     // no numeric sequence number
        kind(once.apply(&c[2], (0..100).map(|_| write(data_table, &c[2]))).await),     // too many writes
        kind(other.apply(&c[0], [write(data_table, &c[0])]).await), // another consumer: its own guard
        kind(other.apply(&c[0], [write(data_table, &c[0])]).await), // and its own redelivery
        kind(once.apply(&c[2], [bump(data_table, "x"), bump(data_table, "x")]).await), // one item twice
    ]
}

fn expected() -> Vec<Result<Applied, String>> {
    use Applied::*;
    vec![
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Err("error".into()),
        Err("limit".into()),
        Ok(Written),
        Ok(AlreadyApplied),
        Err("one item twice".into()),
    ]
}

/// A `Put` of item `pk` into `table` whose condition (the item exists) never holds there.
fn never(table: &str, pk: &str) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .condition_expression("attribute_exists(pk)")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TransactWriteItem::builder().put(put).build()
}

/// An `ADD` of one to item `pk` of `table`.
fn bump(table: &str, pk: &str) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TransactWriteItem::builder().update(update).build()
}

#[tokio::test]
async fn the_twin_follows_the_guard_rule() {
    let twin = ExactlyOnce::in_memory();
    assert_eq!(scenario(&twin, "Data").await, expected());
    let keys: Vec<String> = twin.applied().into_iter().map(|(key, _)| key).collect();
    let (a, b) = (r#"test#Things#{"pk":{"S":"A"}}"#, r#"test#Things#{"pk":{"S":"B"}}"#);
    assert_eq!(keys, [a, a, b, "test#shared", "test#shared", r#"other-function#Things#{"pk":{"S":"A"}}"#]);
}

#[tokio::test]
async fn dynamodb_and_the_twin_agree() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", None).await;
    let data = create_table(&client, "Data", "pk", None).await;
    let once = ExactlyOnce::new(client.clone(), &guards).consumer("test");
    let moto = scenario(&once, &data).await;
    assert_eq!(moto, expected());
    assert_eq!(scenario(&ExactlyOnce::in_memory(), &data).await, moto);
    // Only what the guard let through was written: the data of seq 1, 2 and 3 (2 and 3
    // once more under "shared", onto the same items).
    let written = client.scan().table_name(&data).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written.count(), 3, "{:?}", written.items());
}

/// Through Kinesis: item A at t0, A at t1, A at t1 again (a tie at the millisecond), B at t1.
async fn kinesis_changes() -> Vec<Change<Item, Item>> {
    let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    for (pk, v, advance) in [("A", "1", 0), ("A", "2", 1), ("A", "3", 0), ("B", "1", 0)] {
        table.advance(advance);
        let item = Item::from(HashMap::from([
            ("pk".to_owned(), serde_dynamo::AttributeValue::S(pk.into())),
            ("v".to_owned(), serde_dynamo::AttributeValue::N(v.into())),
        ]));
        table.put(item).unwrap_or_else(|e| panic!("{e}"));
    }
    collect_changes(&kinesis_event(&table.stream().records())).await
}

/// The Kinesis scenario suite: duplicates, an older change after a newer, a tie.
async fn kinesis_scenario(once: &ExactlyOnce, data_table: &str) -> Vec<Result<Applied, String>> {
    let c = kinesis_changes().await;
    let apply = |i: usize| once.apply(&c[i], [write(data_table, &c[i])]);
    let mut timeless = c[0].clone();
    timeless.meta.approximate_creation_time = None;
    let mut nameless = c[3].clone();
    nameless.meta.event_id = String::new();
    let kind = |r: Result<Applied, ddbstream::dynamodb::WriteError>| r.map_err(|_| "error".to_owned());
    vec![
        kind(apply(0).await),                                          // A at t0: written
        kind(apply(0).await),                                          // a duplicate: skipped
        kind(apply(1).await),                                          // A at t1: written
        kind(apply(0).await),                                          // A at t0 after t1: skipped
        kind(apply(2).await),                                          // A at t1, another event: written
        kind(apply(1).await),                                          // a duplicate of the tie: skipped
        kind(apply(2).await),                                          // and of the other: skipped
        kind(apply(3).await),                                          // B: its own guard
        kind(once.apply(&timeless, [write(data_table, &c[0])]).await), // no creation time
        kind(once.apply(&nameless, [write(data_table, &c[3])]).await), // no eventID
    ]
}

fn kinesis_expected() -> Vec<Result<Applied, String>> {
    use Applied::*;
    let error = || Err("error".to_owned());
    vec![
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(Written),
        Ok(AlreadyApplied),
        Ok(AlreadyApplied),
        Ok(Written),
        error(),
        error(),
    ]
}

#[tokio::test]
async fn through_kinesis_the_twin_orders_by_creation_time_and_skips_duplicates() {
    let c = kinesis_changes().await;
    assert!(c.iter().all(|change| change.meta.via_kinesis()));
    assert_eq!(c[1].meta.creation_micros(), c[2].meta.creation_micros(), "a tie at the millisecond");
    assert_eq!(kinesis_scenario(&ExactlyOnce::in_memory(), "Data").await, kinesis_expected());
}

#[tokio::test]
async fn through_kinesis_dynamodb_and_the_twin_agree() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", Some("sk")).await;
    let data = create_table(&client, "Data", "pk", None).await;
    let once = ExactlyOnce::new(client.clone(), &guards).sort_key("sk", "GUARD").consumer("test");
    let moto = kinesis_scenario(&once, &data).await;
    assert_eq!(moto, kinesis_expected());
    assert_eq!(kinesis_scenario(&ExactlyOnce::in_memory(), &data).await, moto);
    // The four distinct changes were written, each once.
    let written = client.scan().table_name(&data).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written.count(), 4, "{:?}", written.items());
}

#[tokio::test]
async fn a_failed_condition_of_your_own_write_is_an_error_not_a_skip() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", None).await;
    let data = create_table(&client, "Data", "pk", None).await;
    let once = ExactlyOnce::new(client, &guards).consumer("test");
    let c = changes().await;
    let result = once.apply(&c[0], [never(&data, "x")]).await;
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("TransactWriteItems failed") && message.contains("ConditionalCheckFailed"), "{message}");
    // The guard was not written either: the change is still to be applied.
    assert_eq!(once.apply(&c[0], [write(&data, &c[0])]).await.ok(), Some(Applied::Written));
}

#[tokio::test]
async fn an_sdk_error_carries_its_source_chain() {
    if !local_dynamodb() {
        return;
    }
    let once = ExactlyOnce::new(local_client().await, "NoSuchGuardTable").consumer("test");
    let c = changes().await;
    let message =
        once.apply(&c[0], [write("NoSuchTable", &c[0])]).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with("TransactWriteItems failed: service error: "), "{message}");
    assert!(message.contains("ResourceNotFoundException"), "{message}");
}

#[tokio::test]
async fn self_guarded_writes_skip_what_their_own_conditions_refuse() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let view = create_table(&client, "View", "pk", None).await;
    let c = changes().await;
    let guarded = |change: &Change<Item, Item>| {
        let seq = change.sequence_number().sortable().unwrap_or_default();
        let put = Put::builder()
            .table_name(&view)
            .item("pk", AttributeValue::S("view#A".into()))
            .item("source_seq", AttributeValue::S(seq.clone()))
            .condition_expression("attribute_not_exists(pk) OR source_seq < :seq")
            .expression_attribute_values(":seq", AttributeValue::S(seq))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        vec![TransactWriteItem::builder().put(put).build()]
    };
    use ddbstream::dynamodb::apply_self_guarded;
    assert_eq!(apply_self_guarded(&client, guarded(&c[1])).await.ok(), Some(Applied::Written));
    assert_eq!(apply_self_guarded(&client, guarded(&c[1])).await.ok(), Some(Applied::AlreadyApplied));
    assert_eq!(apply_self_guarded(&client, guarded(&c[0])).await.ok(), Some(Applied::AlreadyApplied), "older");
    assert_eq!(apply_self_guarded(&client, Vec::new()).await.ok(), Some(Applied::Written));
    let missing = apply_self_guarded(&client, vec![write("NoSuchTable", &c[2])]).await.err().map(|e| e.to_string());
    assert!(missing.is_some_and(|m| m.contains("ResourceNotFoundException")));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Changes through Kinesis, duplicated and reordered as AWS says they may be, applied
    /// through the guard: no change is applied twice, an item's applied changes never go
    /// back in time, and each item's newest changes (every one of a tie) are applied.
    #[test]
    fn through_kinesis_duplicates_and_reordering_apply_nothing_twice_and_never_go_back(
        writes in proptest::collection::vec((0u8..3, 0u64..2), 1..30),
        duplicates in 0.0f64..0.6,
        reach in 0usize..6,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
        for (n, (item, advance)) in writes.iter().enumerate() {
            table.advance(*advance);
            let item = Item::from(HashMap::from([
                ("pk".to_owned(), serde_dynamo::AttributeValue::S(format!("item{item}"))),
                ("n".to_owned(), serde_dynamo::AttributeValue::N(n.to_string())),
            ]));
            table.put(item).unwrap_or_else(|e| panic!("{e}"));
        }
        let records = table.stream().records();
        let delivered = ddbstream::testing::kinesis_disorder(&records, duplicates, reach, seed);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        let (applied, all) = runtime.block_on(async {
            let once = ExactlyOnce::in_memory();
            let mut applied: Vec<(String, u128, String)> = Vec::new();
            for change in collect_changes::<Item, Item>(&kinesis_event(&delivered)).await {
                if once.apply(&change, []).await == Ok(Applied::Written) {
                    let key = once.guard_key(&change).unwrap_or_default();
                    applied.push((key, change.meta.creation_micros().unwrap_or_default(), change.meta.event_id.clone()));
                }
            }
            (applied, collect_changes::<Item, Item>(&kinesis_event(&records)).await)
        });
        let guard_key = |change: &Change<Item, Item>| ExactlyOnce::in_memory().guard_key(change).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for (_, _, event) in &applied {
            proptest::prop_assert!(seen.insert(event.clone()), "event {} applied twice", event);
        }
        let mut newest: HashMap<String, u128> = HashMap::new();
        for (key, time, event) in &applied {
            let last = newest.entry(key.clone()).or_insert(0);
            proptest::prop_assert!(*time >= *last, "{} went back in time with {}", key, event);
            *last = *time;
        }
        for change in &all {
            let key = guard_key(change);
            let latest = all.iter().filter(|c| guard_key(c) == key)
                .filter_map(|c| c.meta.creation_micros()).max();
            if change.meta.creation_micros() == latest {
                proptest::prop_assert!(seen.contains(&change.meta.event_id), "newest change {} of {} not applied", change.meta.event_id, key);
            }
        }
    }
}

/// A put of an item `pk` of about `bytes` bytes into `table`.
fn sized_put(table: &str, pk: &str, bytes: usize) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S("x".repeat(bytes)))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TransactWriteItem::builder().put(put).build()
}

/// What the twin refuses before the call, DynamoDB (moto) refuses when the same
/// transaction is sent to it as it is; and what the twin lets through, it accepts.
#[tokio::test]
async fn dynamodb_refuses_what_the_twin_refuses() {
    let c = changes().await;
    let twin = ExactlyOnce::in_memory();
    let cases: Vec<(&str, Vec<TransactWriteItem>, bool)> = vec![
        ("one item updated twice", vec![bump("Data", "x"), bump("Data", "x")], false),
        ("one item put and updated", vec![sized_put("Data", "x", 10), bump("Data", "x")], false),
        ("two items", vec![bump("Data", "x"), bump("Data", "y")], true),
        ("an item of 420 KB", vec![sized_put("Data", "x", 420 * 1024)], false),
        ("an item of 300 KB", vec![sized_put("Data", "x", 300 * 1024)], true),
    ];
    for (i, (case, writes, accepted)) in cases.iter().enumerate() {
        let change = &c[i % 3];
        let twin = twin.clone().consumer(format!("case{i}"));
        let answer = twin.apply(change, writes.clone()).await;
        assert_eq!(answer.is_ok(), *accepted, "twin, {case}: {answer:?}");
    }
    // A write onto the guard's own item: the twin knows the guard table's key.
    let guard_key = twin.guard_key(&c[0]).unwrap_or_default();
    let onto_guard = Put::builder()
        .table_name("in-memory")
        .item("pk", AttributeValue::S(guard_key))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = twin.apply(&c[0], [TransactWriteItem::builder().put(onto_guard).build()]).await;
    let refused = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("the guard and write 0 are two operations on one item"), "{refused}");

    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let data = create_table(&client, "Data", "pk", None).await;
    for (case, writes, accepted) in cases {
        let writes: Vec<TransactWriteItem> = writes.into_iter().map(|w| retable(w, &data)).collect();
        let answer = client.transact_write_items().set_transact_items(Some(writes)).send().await;
        let shown = answer.as_ref().map(drop).map_err(|e| ddbstream::error_chain(e));
        assert_eq!(answer.is_ok(), accepted, "moto, {case}: {shown:?}");
    }
    let guards = create_table(&client, "Guards", "pk", None).await;
    let once = ExactlyOnce::new(client.clone(), &guards).consumer("test");
    let guard = Put::builder()
        .table_name(&guards)
        .item("pk", AttributeValue::S(once.guard_key(&c[0]).unwrap_or_default()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let twice =
        vec![TransactWriteItem::builder().put(guard.clone()).build(), TransactWriteItem::builder().put(guard).build()];
    let answer = client.transact_write_items().set_transact_items(Some(twice)).send().await;
    assert!(answer.is_err(), "moto takes two puts of the guard's item in one transaction");
}

/// The same write, into `table`.
fn retable(write: TransactWriteItem, table: &str) -> TransactWriteItem {
    if let Some(put) = write.put() {
        let put = Put::builder().table_name(table).set_item(Some(put.item().clone())).build();
        return TransactWriteItem::builder().put(put.unwrap_or_else(|e| panic!("{e}"))).build();
    }
    let update = write.update().cloned().unwrap_or_else(|| panic!("a put or an update"));
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(update.key().clone()))
        .update_expression(update.update_expression())
        .set_expression_attribute_values(update.expression_attribute_values().cloned())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TransactWriteItem::builder().update(update).build()
}

/// A redelivery is logged by table and a digest of its guard, never by the item's key values.
#[tokio::test]
async fn logs_of_a_redelivery_carry_no_key_values() {
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Subscriber {
        email: String,
    }
    let mut table = Table::new("Subscribers", KeySchema::hash("email"), StreamViewType::KeysOnly);
    table.put_value(&Subscriber { email: "ada@example.com".into() }).unwrap_or_else(|e| panic!("{e}"));
    let change = collect_changes::<Item, Subscriber>(&lambda_event(&table.stream().records())).await.remove(0);
    let once = ExactlyOnce::in_memory();
    let (answers, logs) = capture_logs(async {
        let first = once.apply(&change, []).await;
        let again = once.apply(&change, []).await;
        (first, again)
    })
    .await;
    assert_eq!(answers, (Ok(Applied::Written), Ok(Applied::AlreadyApplied)));
    assert!(logs.contains("applied before") && logs.contains("Subscribers"), "{logs}");
    assert!(!logs.contains("ada@example.com"), "a key value leaked into {logs}");
}

#[tokio::test]
async fn conflicts_are_sent_again_and_give_the_same_answers() {
    let twin = ExactlyOnce::in_memory();
    twin.twin_faults(ddbstream::dynamodb::TwinFaults { conflict_every: 2, ..Default::default() });
    assert_eq!(scenario(&twin, "Data").await, expected());
    assert!(twin.twin_conflicts_made() >= 5, "{}", twin.twin_conflicts_made());
}

/// 1,000 changes of 200 items, each adding one to one of 50 counters.
fn counted_changes() -> Vec<u8> {
    let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::KeysOnly);
    for i in 0..1_000 {
        let item = serde_dynamo::to_item(serde_json::json!({ "pk": format!("thing#{}", i % 200), "v": i }));
        table.put(item.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    }
    lambda_event(&table.stream().records())
}

/// Adds one to `counter#<n % 50>` for each change of `thing#<n>`, through `ExactlyOnce`.
fn counting_router(once: ExactlyOnce, counters: String, per_key: usize) -> ddbstream::Router {
    ddbstream::Router::new()
        .with_state((once, counters))
        .stream(
            "Things",
            |ddbstream::State((once, counters)): ddbstream::State<(ExactlyOnce, String)>,
             change: Change<Item, Item>| async move {
                let thing = change.keys.get("pk").and_then(|v| match v {
                    serde_dynamo::AttributeValue::S(s) => s.strip_prefix("thing#").and_then(|n| n.parse::<u32>().ok()),
                    _ => None,
                });
                let counter = format!("counter#{}", thing.unwrap_or_default() % 50);
                once.apply(&change, [bump(&counters, &counter)]).await?;
                Ok::<(), ddbstream::BoxError>(())
            },
        )
        .per_key_concurrency(per_key)
}

#[tokio::test]
async fn concurrent_changes_share_transactions_and_each_counts_once() {
    let payload = counted_changes();
    let once = ExactlyOnce::in_memory().twin_latency(std::time::Duration::from_millis(2));
    once.twin_faults(ddbstream::dynamodb::TwinFaults { conflict_every: 7, ..Default::default() });
    let router = counting_router(once.clone(), "Counters".into(), 64);
    for delivery in 0..2 {
        let response = router.handle(&payload, &ddbstream::Context::default()).await;
        assert!(response.unwrap_or_else(|e| panic!("{e}")).batch_item_failures.is_empty());
        for counter in 0..50 {
            let key = HashMap::from([("pk".to_owned(), AttributeValue::S(format!("counter#{counter}")))]);
            let n = once.twin_item("Counters", &key).and_then(|item| item.get("n").cloned());
            assert_eq!(n, Some(AttributeValue::N("20".into())), "counter#{counter} after delivery {delivery}");
        }
        if delivery == 0 {
            // Up to 64 changes at once, in groups of distinct counters: far fewer
            // transactions than changes (one each, alone).
            let transactions = once.twin_transactions();
            assert!(transactions < 250, "{transactions} transactions for 1,000 changes");
            // No group was one DynamoDB would refuse (two operations on one counter).
            assert_eq!(once.twin_refusals(), 0);
            assert_eq!(once.applied().len(), 1_000);
        }
    }
    assert_eq!(once.applied().len(), 1_000, "the redelivery wrote nothing");
}

#[tokio::test]
async fn in_a_group_each_change_gets_the_answer_it_would_get_alone() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", None).await;
    let data = create_table(&client, "Data", "pk", None).await;
    let once = ExactlyOnce::new(client.clone(), &guards).consumer("test");
    let c = changes().await;
    assert_eq!(once.apply(&c[0], [write(&data, &c[0])]).await, Ok(Applied::Written));
    let never = never(&data, "never");
    // The first goes alone; the four behind it share one transaction, which DynamoDB
    // cancels (a guard and a condition refuse): each still gets its own answer.
    let answers = futures_util::future::join_all([
        Box::pin(once.apply_keyed(&c[2], "first", [bump(&data, "first")]))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
        Box::pin(once.apply(&c[0], [write(&data, &c[0])])),
        Box::pin(once.apply(&c[2], [never])),
        Box::pin(once.apply(&c[1], [write(&data, &c[1])])),
        Box::pin(once.apply_keyed(&c[2], "other", [bump(&data, "other")])),
    ])
    .await;
    let answers: Vec<Result<Applied, bool>> =
        answers.into_iter().map(|a| a.map_err(|e| e.to_string().contains("ConditionalCheckFailed"))).collect();
    use Applied::*;
    assert_eq!(answers, [Ok(Written), Ok(AlreadyApplied), Err(true), Ok(Written), Ok(Written)]);
    // The refused condition's change was not applied: it still is to be.
    assert_eq!(once.apply(&c[2], [write(&data, &c[2])]).await, Ok(Written));
    let written = client.scan().table_name(&data).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written.count(), 5, "{:?}", written.items());
}

#[tokio::test]
async fn grouped_changes_on_dynamodb_count_once_through_a_redelivery() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", None).await;
    let counters = create_table(&client, "Counters", "pk", None).await;
    let once = ExactlyOnce::new(client.clone(), &guards).consumer("test");
    let router = counting_router(once, counters.clone(), 16);
    let payload = counted_changes();
    for delivery in 0..2 {
        let response = router.handle(&payload, &ddbstream::Context::default()).await;
        assert!(response.unwrap_or_else(|e| panic!("{e}")).batch_item_failures.is_empty());
        let items = workspace_tests::scan_all(&client, &counters).await;
        assert_eq!(items.len(), 50);
        for item in &items {
            assert_eq!(workspace_tests::number(item, "n"), 20, "after delivery {delivery}: {item:?}");
        }
    }
}
