//! Typed changes: images per view type, typed keys, metadata, and every attribute type.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use ddbstream::{BoxError, Change, ChangeKind, Context, EventName, Item, Router, StreamViewType};
use serde::Deserialize;
use serde_dynamo::AttributeValue;
use workspace_tests::{capture_logs, collect_changes, expected, fixture, respond};

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Order {
    pk: String,
    amount: i64,
    status: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct OrderKey {
    pk: String,
}

/// Runs a fixture through a typed route and returns the changes it received.
async fn changes<T, K>(name: &str) -> Vec<Change<T, K>>
where
    T: serde::de::DeserializeOwned + Send + 'static,
    K: serde::de::DeserializeOwned + Send + 'static,
{
    collect_changes(&fixture(name)).await
}

/// The first record of a fixture, alone in its batch.
fn first_record_of(name: &str) -> Vec<u8> {
    let event: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({"Records": [event["Records"][0]]})).unwrap_or_default()
}

fn shape<T, K>(change: &Change<T, K>) -> (EventName, bool, bool) {
    (change.event_name(), change.old_image().is_some(), change.new_image().is_some())
}

#[tokio::test]
async fn images_are_exactly_those_the_view_type_carries() {
    use EventName::{Insert, Modify, Remove};
    let cases = [
        ("orders-keys-only.json", [(Insert, false, false), (Modify, false, false), (Remove, false, false)]),
        ("orders-new-image.json", [(Insert, false, true), (Modify, false, true), (Remove, false, false)]),
        ("orders-old-image.json", [(Insert, false, false), (Modify, true, false), (Remove, true, false)]),
    ];
    for (name, shapes) in cases {
        let got: Vec<_> = changes::<Order, OrderKey>(name).await.iter().map(shape).collect();
        assert_eq!(got, shapes, "{name}");
    }
    let mut got = Vec::new();
    for name in ["orders-insert.json", "orders-modify.json", "orders-remove-ttl.json"] {
        got.extend(changes::<Item, Item>(name).await.iter().map(shape));
    }
    assert_eq!(
        got,
        [
            (Insert, false, true),
            (Insert, false, true),
            (Modify, true, true),
            (Remove, true, false),
            (Remove, true, false)
        ]
    );
}

#[tokio::test]
async fn typed_images_keys_and_kinds() {
    let modify = changes::<Order, OrderKey>("orders-modify.json").await;
    let [change] = modify.as_slice() else { panic!("one change expected") };
    assert_eq!(change.keys, OrderKey { pk: "order#1001".into() });
    let ChangeKind::Modify { old: Some(old), new: Some(new) } = &change.kind else { panic!("{:?}", change.kind) };
    assert_eq!((old.status.as_str(), new.status.as_str(), new.amount), ("NEW", "SHIPPED", 4250));
    assert_eq!(change.require_old().map(|o| &o.pk), Ok(&"order#1001".to_owned()));

    let keys_only = changes::<Order, OrderKey>("orders-keys-only.json").await;
    let message = keys_only[0].require_new().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("carries no NewImage: the stream's view type is KEYS_ONLY"), "{message}");
}

#[tokio::test]
async fn metadata_and_ttl_expiry() {
    let removes = changes::<Order, OrderKey>("orders-remove-ttl.json").await;
    let [ttl, user] = removes.as_slice() else { panic!("two removes expected") };
    assert!(ttl.is_ttl_expiry());
    assert!(!user.is_ttl_expiry());
    let meta = &ttl.meta;
    assert_eq!(meta.sequence_number.as_str(), "4421584500000000017450439301");
    assert_eq!(meta.event_id.len(), 32);
    assert_eq!(meta.event_name, EventName::Remove);
    assert_eq!(meta.table_name.as_deref(), Some("Orders"));
    assert_eq!(meta.stream_arn, "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T09:30:15.123");
    assert_eq!(meta.region, "eu-west-1");
    assert_eq!(meta.approximate_creation_time, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)));
    assert!(meta.size_bytes > 0);
    assert_eq!(meta.view_type, StreamViewType::NewAndOldImages);
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Address {
    city: String,
    lines: Vec<Option<String>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Customer {
    id: String,
    name: String,
    address: Address,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Line {
    sku: String,
    qty: u32,
    price: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct RichOrder {
    pk: String,
    customer: Customer,
    items: Vec<Line>,
    tags: BTreeSet<String>,
    scores: Vec<f64>,
    // serde_dynamo has no exact typed target for 38 digits (no u128, N never into String);
    // the untyped `Item` keeps them exactly, as asserted below.
    exact_total: f64,
    tiny: f64,
    gift: bool,
    coupon: Option<String>,
}

#[tokio::test]
async fn nested_maps_lists_sets_binary_and_large_numbers() {
    let inserts = collect_changes::<RichOrder, OrderKey>(&first_record_of("orders-insert.json")).await;
    let order = inserts[0].require_new().cloned().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(order.customer.address.lines, [Some("12 St James's Square".to_owned()), None]);
    assert_eq!(order.items[1], Line { sku: "PEN-7".into(), qty: 10, price: 1.5 });
    assert_eq!(order.tags, BTreeSet::from(["gift".to_owned(), "priority".to_owned()]));
    assert_eq!(order.scores, [1.0, 2.5, -3.0]);
    assert_eq!(order.exact_total, 1.234_567_890_123_456_8e37);
    assert_eq!(order.tiny, 1e-38);
    assert!(order.gift);
    assert_eq!(order.coupon, None);

    // Untyped, every attribute stays exactly as DynamoDB sent it.
    let untyped = changes::<Item, Item>("orders-insert.json").await;
    let item = untyped[0].require_new().cloned().unwrap_or_default();
    assert_eq!(item.get("exact_total"), Some(&AttributeValue::N("12345678901234567890123456789012345678".into())));
    assert_eq!(item.get("signature"), Some(&AttributeValue::B(vec![0xde, 0xad, 0xbe, 0xef])));
    assert_eq!(item.get("attachments"), Some(&AttributeValue::Bs(vec![vec![0, 1, 2], vec![0xff]])));
    assert_eq!(item.get("scores"), Some(&AttributeValue::Ns(vec!["1".into(), "2.5".into(), "-3".into()])));
    assert_eq!(item.get("coupon"), Some(&AttributeValue::Null(true)));
}

#[tokio::test]
async fn a_promised_image_that_is_missing_fails_the_record() {
    let payload = String::from_utf8(fixture("orders-modify.json")).unwrap_or_default();
    let mut event: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
    if let Some(stream) = event.pointer_mut("/Records/0/dynamodb").and_then(|v| v.as_object_mut()) {
        stream.remove("OldImage");
    }
    let router = Router::new().stream("Orders", |_: Change<Order>| async { Ok::<(), BoxError>(()) });
    let (response, logs) = capture_logs(router.handle_event(&event, &Context::default())).await;
    let response = response.map(|r| serde_json::to_string(&r).unwrap_or_default());
    assert_eq!(response.ok(), Some(expected(Some("4421584500000000017450439201"))));
    assert!(logs.contains("OldImage: missing, but NEW_AND_OLD_IMAGES streams carry it on MODIFY records"), "{logs}");
}

#[derive(Debug, Deserialize)]
struct Account {
    #[allow(dead_code)]
    balances: std::collections::HashMap<String, u32>,
    #[serde(flatten)]
    #[allow(dead_code)]
    flags: Flags,
}

#[derive(Debug, Deserialize)]
struct Flags {
    #[allow(dead_code)]
    vip: bool,
}

#[tokio::test]
async fn decode_errors_never_carry_item_values() {
    let record = |image: &str| {
        format!(
            r#"{{"Records":[{{"eventID":"0123456789abcdef0123456789abcdef","eventName":"INSERT","awsRegion":"eu-west-1",
            "eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/Accounts/stream/2026-11-01T00:00:00.000",
            "dynamodb":{{"Keys":{{"id":{{"S":"a1"}}}},"NewImage":{image},"SequenceNumber":"111111111111111111111",
            "SizeBytes":10,"StreamViewType":"NEW_IMAGE"}}}}]}}"#
        )
    };
    let cases = [
        // A number where a flattened bool is expected: serde quotes it in backticks.
        (r#"{"balances":{"M":{}},"vip":{"N":"4250"}}"#, "4250"),
        // A map key that is item content, in the error's path.
        (r#"{"balances":{"M":{"alice@example.com":{"S":"lots"}}},"vip":{"BOOL":true}}"#, "alice@example.com"),
        // A value with an escaped quote inside.
        (r#"{"balances":{"M":{}},"vip":{"S":"x\"4242 4242"}}"#, "4242"),
    ];
    for (image, secret) in cases {
        let router = Router::new().fallback(|_: Change<Account>| async { Ok::<(), BoxError>(()) });
        let (response, logs) = capture_logs(respond(&router, record(image).as_bytes(), &Context::default())).await;
        assert_eq!(response.ok(), Some(expected(Some("111111111111111111111"))), "{image}");
        assert!(logs.contains("does not decode: NewImage"), "{logs}");
        assert!(!logs.contains(secret), "{secret:?} leaked: {logs}");
    }
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Ledger {
    owner: String,
    balances: std::collections::BTreeMap<String, u64>,
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Entry {
    amount: u64,
}

#[tokio::test]
async fn decode_error_paths_name_struct_fields_and_positions_but_never_map_keys() {
    let cases = [
        // A map key that looks like a field name is still item content.
        (r#"{"owner":{"S":"o"},"balances":{"M":{"jane_doe_1984":{"S":"lots"}}},"entries":{"L":[]}}"#, "balances.<key>"),
        (r#"{"owner":{"S":"o"},"balances":{"M":{}},"entries":{"L":[{"M":{"amount":{"S":"x"}}}]}}"#, "entries.0.amount"),
        (r#"{"owner":{"L":[]},"balances":{"M":{}},"entries":{"L":[]}}"#, "owner"),
    ];
    for (image, path) in cases {
        let raw = serde_json::value::RawValue::from_string(image.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let payload = format!(
            r#"{{"Records":[{{"eventID":"0123456789abcdef0123456789abcdef","eventName":"INSERT","awsRegion":"eu-west-1",
            "eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/Ledgers/stream/2026-11-01T00:00:00.000",
            "dynamodb":{{"Keys":{{"id":{{"S":"a1"}}}},"NewImage":{},"SequenceNumber":"111111111111111111111",
            "SizeBytes":10,"StreamViewType":"NEW_IMAGE"}}}}]}}"#,
            raw.get()
        );
        let router = Router::new().fallback(|_: Change<Ledger>| async { Ok::<(), BoxError>(()) });
        let (response, logs) = capture_logs(respond(&router, payload.as_bytes(), &Context::default())).await;
        assert_eq!(response.ok(), Some(expected(Some("111111111111111111111"))), "{image}");
        assert!(logs.contains(&format!("NewImage field `{path}`")), "{path}: {logs}");
        assert!(!logs.contains("jane_doe_1984"), "a map key leaked: {logs}");
    }
}
