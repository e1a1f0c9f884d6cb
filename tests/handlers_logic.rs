//! The handlers' business logic with no AWS: the exact writes each change of the canned
//! streams plans, and the audit items.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use ddbstream::{Change, Item};
use handlers::model::{Customer, CustomerKey, Order, OrderKey};
use handlers::store::{item, n, s};
use handlers::{audit, orders, replica};
use workspace_tests::{collect_changes, fixture};

/// The changes of a canned stream, decoded by the framework as a handler receives them.
async fn changes<T, K>(name: &str) -> Vec<Change<T, K>>
where
    T: serde::de::DeserializeOwned + Send + 'static,
    K: serde::de::DeserializeOwned + Send + 'static,
{
    collect_changes(&fixture(&format!("handlers/{name}"))).await
}

fn seq(table_prefix: &str, n: u32) -> String {
    format!("{:0>40}", format!("{table_prefix}21584500000000017450439{n:03}"))
}

/// A write reduced to what matters: kind, key or item, condition, update expression, values.
fn describe(write: &TransactWriteItem) -> String {
    let sorted = |map: Option<&std::collections::HashMap<String, AttributeValue>>| {
        let mut pairs: Vec<String> = map.into_iter().flatten().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.sort();
        pairs.join(" ")
    };
    if let Some(put) = write.put() {
        format!(
            "PUT {} [{}] IF {}",
            put.table_name(),
            sorted(Some(put.item())),
            put.condition_expression().unwrap_or("-")
        )
    } else if let Some(update) = write.update() {
        format!(
            "UPDATE {} [{}] {} [{}]",
            update.table_name(),
            sorted(Some(update.key())),
            update.update_expression(),
            sorted(update.expression_attribute_values())
        )
    } else {
        format!("{write:?}")
    }
}

fn order_tables() -> orders::Tables {
    orders::Tables { orders: "Orders".into(), totals: "Totals".into(), outbox: "Outbox".into() }
}

#[tokio::test]
async fn order_changes_plan_totals_and_one_notification() {
    let changes = changes::<Order, OrderKey>("orders-stream.json").await;
    let plans: Vec<Vec<String>> = changes
        .iter()
        .map(|c| orders::plan(c, &order_tables()).unwrap_or_else(|e| panic!("{e}")).iter().map(describe).collect())
        .collect();
    let totals = |customer: &str, amount: i64, count: i64| {
        format!(
            "UPDATE Totals [pk={:?} sk={:?}] ADD total_amount :amount, order_count :count SET customer_id = :customer [:amount={:?} :count={:?} :customer={:?}]",
            AttributeValue::S(format!("CUSTOMER#{customer}")),
            AttributeValue::S("TOTALS".into()),
            AttributeValue::N(amount.to_string()),
            AttributeValue::N(count.to_string()),
            AttributeValue::S(customer.into()),
        )
    };
    // The guard is not in the plan: `ExactlyOnce` adds it (tests/exactly_once.rs).
    assert_eq!(plans[0], [totals("c1", 10_000, 1)], "insert");
    assert!(plans[2].is_empty(), "status change only: no totals delta");
    assert_eq!(plans[3].len(), 1, "shipping: the notification");
    assert!(plans[3][0].starts_with("PUT Outbox [") && plans[3][0].ends_with("IF -"), "{}", plans[3][0]);
    assert!(plans[3][0].contains(&format!("sk={:?}", AttributeValue::S(format!("SHIPPED#{}", seq("55", 4))))));
    assert_eq!(plans[4], [totals("c1", -5_000, -1), totals("c2", 7_000, 1)], "moved to another customer, new amount");
    assert_eq!(plans[6], [totals("c2", -3_000, -1)], "TTL expiry of a draft");
    assert_eq!(plans[7], [totals("c2", -7_000, -1)], "removal");
}

#[tokio::test]
async fn customer_changes_plan_the_view_with_tombstones() {
    let changes = changes::<Customer, CustomerKey>("customers-stream.json").await;
    let plans: Vec<Vec<String>> = changes
        .iter()
        .map(|c| replica::plan(c, "ByEmail").unwrap_or_else(|e| panic!("{e}")).iter().map(describe).collect())
        .collect();
    let condition = "IF attribute_not_exists(email) OR source_seq < :seq";
    let live = |email: &str, id: &str, name: &str, tier: Option<&str>, n: u32| {
        let mut fields = vec![
            format!("customer_id={:?}", AttributeValue::S(id.into())),
            format!("deleted={:?}", AttributeValue::Bool(false)),
            format!("email={:?}", AttributeValue::S(email.into())),
            format!("name={:?}", AttributeValue::S(name.into())),
            format!("source_seq={:?}", AttributeValue::S(seq("66", n))),
        ];
        fields.extend(tier.map(|t| format!("tier={:?}", AttributeValue::S(t.into()))));
        fields.sort();
        format!("PUT ByEmail [{}] {condition}", fields.join(" "))
    };
    let tombstone = |email: &str, id: &str, n: u32, at: u64| {
        let mut fields = [
            format!("customer_id={:?}", AttributeValue::S(id.into())),
            format!("deleted={:?}", AttributeValue::Bool(true)),
            format!("email={:?}", AttributeValue::S(email.into())),
            format!("expires_at={:?}", AttributeValue::N((at + replica::TOMBSTONE_SECONDS).to_string())),
            format!("source_seq={:?}", AttributeValue::S(seq("66", n))),
        ];
        fields.sort();
        format!("PUT ByEmail [{}] {condition}", fields.join(" "))
    };
    assert_eq!(plans[0], [live("ada@example.com", "c1", "Ada Lovelace", Some("basic"), 1)]);
    assert_eq!(plans[2], [live("ada@example.com", "c1", "Ada Lovelace", Some("gold"), 3)]);
    assert_eq!(
        plans[3],
        [
            live("ada@analytical.example", "c1", "Ada Lovelace", Some("gold"), 4),
            tombstone("ada@example.com", "c1", 4, 1_795_000_004)
        ],
        "an email change moves the view's key"
    );
    assert_eq!(plans[4], [tombstone("bob@example.com", "c2", 5, 1_795_000_005)]);
}

#[tokio::test]
async fn audit_items_keep_the_record_and_mark_ttl_expiries() {
    let changes = changes::<Item, Item>("orders-stream.json").await;
    let items: Vec<_> = changes.iter().map(|c| audit::audit_item(c).unwrap_or_else(|e| panic!("{e}"))).collect();
    let expired: Vec<bool> =
        items.iter().map(|i| i.get("expired_by_ttl") == Some(&AttributeValue::Bool(true))).collect();
    assert_eq!(expired, [false, false, false, false, false, false, true, false]);
    let ttl = &items[6];
    assert_eq!(ttl.get("pk"), Some(&s("Orders#order_id=o3")));
    assert_eq!(ttl.get("sk"), Some(&s(seq("55", 7))));
    assert_eq!(ttl.get("event_name"), Some(&s("REMOVE")));
    assert_eq!(ttl.get("changed_at"), Some(&n(1_795_003_601)));
    assert_eq!(ttl.get("retain_until"), Some(&n(1_795_003_601 + audit::RETENTION_SECONDS)));
    assert!(ttl.get("new").is_none());
    let old = ttl.get("old").and_then(|o| o.as_m().ok()).cloned().unwrap_or_default();
    assert_eq!(old.get("expires_at"), Some(&n(1_795_003_600)));
    assert_eq!(old.get("status"), Some(&s("DRAFT")));
    assert_eq!(items[0].get("keys"), Some(&AttributeValue::M(item([("order_id", s("o1"))]))));
}
