//! The handlers against a real local DynamoDB (moto over HTTP): canned stream batches go
//! through the real router, then the target tables are read back and compared exactly.
//! Covers redelivery, a partial failure retried from the reported sequence number,
//! out-of-order replays (nothing double-counted or resurrected) and TTL deletes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use ddbstream::{BoxError, Change, Context, Item, Router};
use handlers::model::{Order, OrderKey};
use handlers::{audit, orders, replica};
use serde_dynamo::AttributeValue as V;
use workspace_tests::{create_table, fixture, local_client, local_dynamodb, scan_all};

fn seq(prefix: &str, n: u32) -> String {
    format!("{prefix}21584500000000017450439{n:03}")
}

fn padded(prefix: &str, n: u32) -> V {
    V::S(format!("{:0>40}", seq(prefix, n)))
}

fn s(v: &str) -> V {
    V::S(v.to_owned())
}

fn n(v: i64) -> V {
    V::N(v.to_string())
}

fn item(pairs: Vec<(&str, V)>) -> Item {
    Item::from(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<std::collections::HashMap<_, _>>())
}

fn sorted(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by_key(|item| {
        let mut pairs: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.sort();
        pairs.join(";")
    });
    items
}

/// The records of a canned stream, as a payload; `keep` picks them by sequence number.
fn payload(name: &str, keep: impl Fn(&str) -> bool) -> Vec<u8> {
    let event: serde_json::Value = serde_json::from_slice(&fixture(&format!("handlers/{name}"))).unwrap_or_default();
    let records: Vec<serde_json::Value> = event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| keep(r["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default()))
        .cloned()
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

async fn deliver(router: &Router, payload: &[u8]) -> Vec<String> {
    let response = router.handle(payload, &Context::default()).await.unwrap_or_else(|e| panic!("{e}"));
    response.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect()
}

async fn order_tables(client: &Client) -> orders::Tables {
    orders::Tables {
        orders: "Orders".into(),
        totals: create_table(client, "CustomerTotals", "pk", Some("sk")).await,
        outbox: create_table(client, "Outbox", "pk", Some("sk")).await,
    }
}

fn expected_totals() -> Vec<Item> {
    sorted(vec![
        item(vec![
            ("pk", s("CUSTOMER#c1")),
            ("sk", s("TOTALS")),
            ("customer_id", s("c1")),
            ("total_amount", n(10_000)),
            ("order_count", n(1)),
        ]),
        item(vec![
            ("pk", s("CUSTOMER#c2")),
            ("sk", s("TOTALS")),
            ("customer_id", s("c2")),
            ("total_amount", n(0)),
            ("order_count", n(0)),
        ]),
        guard("o1", 4),
        guard("o2", 8),
        guard("o3", 7),
    ])
}

/// An order's guard: the last change applied to it.
fn guard(order: &str, n: u32) -> Item {
    item(vec![
        ("pk", V::S(format!(r#"orders-projector#Orders#{{"order_id":"{order}"}}"#))),
        ("sk", s("GUARD")),
        ("last_seq", padded("55", n)),
    ])
}

fn expected_outbox() -> Vec<Item> {
    let V::S(shipped_seq) = padded("55", 4) else { unreachable!() };
    vec![item(vec![
        ("pk", s("ORDER#o1")),
        ("sk", V::S(format!("SHIPPED#{shipped_seq}"))),
        ("kind", s("order_shipped")),
        ("order_id", s("o1")),
        ("customer_id", s("c1")),
        ("amount", n(10_000)),
        ("shipped_at", n(1_795_000_004)),
        ("sent", V::Bool(false)),
    ])]
}

#[tokio::test]
async fn orders_projector_totals_and_outbox_survive_redelivery_and_replays() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let tables = order_tables(&client).await;
    let router = orders::router(client.clone(), tables.clone());
    let all = payload("orders-stream.json", |_| true);

    assert_eq!(deliver(&router, &all).await, Vec::<String>::new());
    assert_eq!(scan_all(&client, &tables.totals).await, expected_totals());
    assert_eq!(scan_all(&client, &tables.outbox).await, expected_outbox());

    // Redelivery of the whole batch: nothing counted twice, no second notification.
    assert_eq!(deliver(&router, &all).await, Vec::<String>::new());
    // Out-of-order replay of older records, including o2's insert after its removal.
    let older = payload("orders-stream.json", |number| number <= seq("55", 3).as_str());
    assert_eq!(deliver(&router, &older).await, Vec::<String>::new());
    assert_eq!(scan_all(&client, &tables.totals).await, expected_totals());
    assert_eq!(scan_all(&client, &tables.outbox).await, expected_outbox());
}

#[tokio::test]
async fn a_partial_failure_retried_from_the_reported_sequence_number_ends_the_same() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let tables = order_tables(&client).await;
    // The real handler, with one transient failure: the first attempt at the shipping change.
    let failed_once: Arc<Mutex<HashSet<String>>> = Arc::default();
    let projector = orders::Projector::new(client.clone(), tables.clone());
    let router = Router::new().stream("Orders", move |change: Change<Order, OrderKey>| {
        let (projector, failed_once) = (projector.clone(), Arc::clone(&failed_once));
        async move {
            let number = change.sequence_number().to_string();
            let first_attempt = failed_once.lock().unwrap_or_else(PoisonError::into_inner).insert(number.clone());
            if number == seq("55", 4) && first_attempt {
                return Err::<(), BoxError>("throttled (injected)".into());
            }
            orders::apply(&projector, change).await.map(|_| ())
        }
    });
    let all = payload("orders-stream.json", |_| true);
    let reported = deliver(&router, &all).await;
    assert_eq!(reported, [seq("55", 4)]);
    // Lambda redelivers from the reported record on.
    let from = reported[0].clone();
    let tail = payload("orders-stream.json", |seq| {
        ddbstream::SequenceNumber::new(seq) >= ddbstream::SequenceNumber::new(from.as_str())
    });
    assert_eq!(deliver(&router, &tail).await, Vec::<String>::new());
    assert_eq!(scan_all(&client, &tables.totals).await, expected_totals());
    assert_eq!(scan_all(&client, &tables.outbox).await, expected_outbox());
}

fn expected_view() -> Vec<Item> {
    sorted(vec![
        item(vec![
            ("email", s("ada@analytical.example")),
            ("customer_id", s("c1")),
            ("name", s("Ada Lovelace")),
            ("tier", s("gold")),
            ("deleted", V::Bool(false)),
            ("source_seq", padded("66", 4)),
        ]),
        item(vec![
            ("email", s("ada@example.com")),
            ("customer_id", s("c1")),
            ("deleted", V::Bool(true)),
            ("source_seq", padded("66", 4)),
            ("expires_at", n(1_795_000_004 + (24 + 90 * 24) * 3600)),
        ]),
        item(vec![
            ("email", s("bob@example.com")),
            ("customer_id", s("c2")),
            ("deleted", V::Bool(true)),
            ("source_seq", padded("66", 5)),
            ("expires_at", n(1_795_000_005 + (24 + 90 * 24) * 3600)),
        ]),
    ])
}

#[tokio::test]
async fn customers_replicator_keeps_the_view_by_email_without_resurrections() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let by_email = create_table(&client, "CustomersByEmail", "email", None).await;
    let router =
        replica::router(client.clone(), replica::Tables { customers: "Customers".into(), by_email: by_email.clone() });
    let all = payload("customers-stream.json", |_| true);
    assert_eq!(deliver(&router, &all).await, Vec::<String>::new());
    assert_eq!(scan_all(&client, &by_email).await, expected_view());
    // Redelivery, then a replay of the inserts: Bob stays deleted, Ada's old email stays a tombstone.
    assert_eq!(deliver(&router, &all).await, Vec::<String>::new());
    let inserts = payload("customers-stream.json", |number| number <= seq("66", 2).as_str());
    assert_eq!(deliver(&router, &inserts).await, Vec::<String>::new());
    assert_eq!(scan_all(&client, &by_email).await, expected_view());
}

#[tokio::test]
async fn audit_archive_records_both_streams_once_each_with_ttl_marked() {
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "Audit", "pk", Some("sk")).await;
    let router = audit::router(
        client.clone(),
        audit::Tables { orders: "Orders".into(), customers: "Customers".into(), audit: table.clone() },
    );
    for name in ["orders-stream.json", "customers-stream.json"] {
        let all = payload(name, |_| true);
        assert_eq!(deliver(&router, &all).await, Vec::<String>::new());
        assert_eq!(deliver(&router, &all).await, Vec::<String>::new(), "redelivery");
    }
    let items = scan_all(&client, &table).await;
    assert_eq!(items.len(), 13, "8 order changes and 5 customer changes, each once");
    let ttl: Vec<_> = items.iter().filter(|i| i.get("expired_by_ttl") == Some(&V::Bool(true))).collect();
    assert_eq!(ttl.len(), 1);
    assert_eq!(ttl[0].get("pk"), Some(&s("Orders#order_id=o3")));
    assert_eq!(ttl[0].get("sk"), Some(&padded("55", 7)));
    let bob_removed = items
        .iter()
        .find(|i| i.get("pk") == Some(&s("Customers#customer_id=c2")) && i.get("event_name") == Some(&s("REMOVE")))
        .unwrap_or_else(|| panic!("Bob's removal is archived"));
    let old = match bob_removed.get("old") {
        Some(V::M(old)) => old.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(old.get("email"), Some(&s("bob@example.com")));
    assert_eq!(bob_removed.get("expired_by_ttl"), Some(&V::Bool(false)));
}

#[tokio::test]
async fn order_windows_writes_each_window_once_from_kinesis_windows() {
    use ddbstream::testing::{kinesis_event, window_event, KeySchema, Table, WindowInvocation};
    use handlers::order_windows;
    if !local_dynamodb() {
        return;
    }
    let client = local_client().await;
    let table = create_table(&client, "OrderWindows", "window_start", Some("shard_id")).await;
    let router = order_windows::router(order_windows::Windows { client: client.clone(), table: table.clone() });
    let mut orders = Table::new("Orders", KeySchema::hash("order_id"), ddbstream::StreamViewType::NewAndOldImages);
    let mut records = Vec::new();
    for (id, amount) in [("o1", 1_000), ("o2", 250)] {
        let order =
            item(vec![("order_id", s(id)), ("customer_id", s("c1")), ("amount", n(amount)), ("status", s("NEW"))]);
        records.extend(orders.put(order).ok().flatten());
    }
    // A modify adds nothing to the window's totals.
    let paid = item(vec![("order_id", s("o1")), ("customer_id", s("c1")), ("amount", n(1_000)), ("status", s("PAID"))]);
    records.extend(orders.put(paid).ok().flatten());
    let kinesis_arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes";
    let window =
        WindowInvocation::holding(records[0].approximate_creation_time, 300, "shardId-000000000000", kinesis_arn);

    let first = router.handle(&window_event(&kinesis_event(&records[..2]), &window), &Context::default()).await;
    let state = first.ok().and_then(|r| r.state).unwrap_or_default();
    assert_eq!(state, serde_json::json!({"orders": 2, "amount": 1250}));
    assert!(scan_all(&client, &table).await.is_empty(), "nothing is written before the window ends");
    // The final invocation, run twice (an answer lost): one item.
    let last = window.with_state(state).last();
    for _ in 0..2 {
        let response = router.handle(&window_event(&kinesis_event(&records[2..]), &last), &Context::default()).await;
        assert_eq!(response.ok().and_then(|r| r.state), Some(serde_json::json!({"orders": 2, "amount": 1250})));
    }
    let expected = item(vec![
        ("window_start", s(&ddbstream::testing::iso8601(last.start))),
        ("shard_id", s("shardId-000000000000")),
        ("window_end", s(&ddbstream::testing::iso8601(last.start + 300))),
        ("orders", n(2)),
        ("amount", n(1_250)),
        ("terminated_early", V::Bool(false)),
    ]);
    assert_eq!(scan_all(&client, &table).await, vec![expected]);
}
