//! Operability: logs set up from Lambda's settings, with spans naming the invocation and
//! each record and item contents only where a route opts in; CloudWatch Embedded Metric
//! Format lines checked against the EMF specification.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ddbstream::logging::{subscriber, LogSettings};
use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{each, BoxError, Change, Context, Item, Router, StreamViewType};
use serde_dynamo::AttributeValue;
use serde_json::Value;
use workspace_tests::LogBuffer;

const SECRET: &str = "card-4242-4242-4242-4242";

/// One test of this file at a time: tracing caches whether a callsite (the record span) is
/// enabled across every subscriber alive, and a test running without one beside a test
/// with one can leave that cache stale for the other while both run.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Five inserts into `Orders` (pk k0..k4), each carrying a recognizable secret.
fn orders() -> Vec<StreamRecord> {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    (0..5)
        .filter_map(|n| {
            let item = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("k{n}"))),
                ("card".to_owned(), AttributeValue::S(format!("{SECRET}-{n}"))),
            ]);
            table.put(Item::from(item)).ok().flatten()
        })
        .collect()
}

fn pk(change: &Change<Item>) -> String {
    match change.keys.get("pk") {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => String::new(),
    }
}

async fn ok(_: Change<Item>) -> Result<(), BoxError> {
    Ok(())
}

fn context() -> Context {
    let mut context = Context::default();
    context.request_id = "req-0001".into();
    context
}

/// Runs `router` over `payload` with the JSON subscriber for `filter`, returning the lines.
async fn json_logs(router: &Router, payload: &[u8], filter: &str) -> Vec<Value> {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let settings = LogSettings { json: true, filter: filter.into() };
    let _guard = tracing::subscriber::set_default(subscriber(&settings, move || writer.clone()));
    let response = router.handle(payload, &context()).await;
    assert!(response.is_ok(), "{response:?}");
    buffer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[tokio::test]
async fn json_logs_carry_the_invocation_and_record_spans_and_never_item_contents() {
    let _one = ONE_AT_A_TIME.lock().await;
    let records = orders();
    let payload = lambda_event(&records);
    let failing = Router::new().stream("Orders", |change: Change<Item>| async move {
        if pk(&change) == "k2" {
            return Err::<(), BoxError>(format!("cannot charge {}", "the card").into());
        }
        Ok(())
    });
    let lines = json_logs(&failing, &payload, "debug").await;
    assert!(!lines.is_empty());
    let text = lines.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains(SECRET), "item contents leaked into the logs: {text}");
    // The failure's warning names the record by what the answer names it by, inside the
    // invocation's span.
    let warning = lines.iter().find(|l| l["level"] == "WARN").unwrap_or_else(|| panic!("no warning in {text}"));
    assert_eq!(warning["item_identifier"], records[2].sequence_number.as_str());
    let spans = |line: &Value| line["spans"].as_array().cloned().unwrap_or_default();
    let invocation = spans(warning).into_iter().find(|s| s["name"] == "invocation");
    assert_eq!(invocation.map(|s| s["request_id"].clone()), Some(Value::from("req-0001")));
    // Events while a record runs are in its span, which names it.
    let first = lines
        .iter()
        .flat_map(spans)
        .find(|s| s["name"] == "record" && s["sequence_number"] == records[0].sequence_number.as_str())
        .unwrap_or_else(|| panic!("no event in record 0's span: {text}"));
    assert_eq!(first["table"], "Orders");
    assert_eq!(first["event_name"], "INSERT");
    assert_eq!(first["event_id"], records[0].event_id.as_str());
}

#[tokio::test]
async fn a_record_through_kinesis_is_named_by_its_table_in_its_span() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A Kinesis stream's ARN names no table: the record's own `tableName` does.
    let records = orders();
    let payload = ddbstream::testing::kinesis_event(&records);
    let router = Router::new().stream("Orders", ok);
    let lines = json_logs(&router, &payload, "debug").await;
    let text = lines.iter().map(Value::to_string).collect::<String>();
    let spans: Vec<Value> = lines
        .iter()
        .flat_map(|line| line["spans"].as_array().cloned().unwrap_or_default())
        .filter(|span| span["name"] == "record")
        .collect();
    assert!(!spans.is_empty(), "no record span in {text}");
    assert!(spans.iter().all(|span| span["table"] == "Orders"), "{spans:?}");
}

#[tokio::test]
async fn item_contents_are_logged_only_by_routes_that_opt_in() {
    let _one = ONE_AT_A_TIME.lock().await;
    let payload = lambda_event(&orders());
    let quiet = Router::new().stream("Orders", each(ok));
    let text: String = json_logs(&quiet, &payload, "trace").await.iter().map(Value::to_string).collect();
    assert!(!text.contains(SECRET), "{text}");

    let opted_in = Router::new().stream("Orders", each(ok).log_items());
    let lines = json_logs(&opted_in, &payload, "info").await;
    let contents: Vec<&Value> = lines.iter().filter(|l| l["message"] == "record contents").collect();
    assert_eq!(contents.len(), 5);
    assert!(contents[0]["new_image"].as_str().is_some_and(|image| image.contains(&format!("{SECRET}-0"))));
}

#[test]
fn text_or_json_and_the_level_come_from_lambdas_settings() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    };
    let lambda = LogSettings::from_lookup(lookup(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ("RUST_LOG", "error"),
    ]));
    assert_eq!(lambda, LogSettings { json: true, filter: "debug".into() });
    let local = LogSettings::from_lookup(lookup(&[("RUST_LOG", "ddbstream=trace,warn")]));
    assert_eq!(local, LogSettings { json: false, filter: "ddbstream=trace,warn".into() });
}

/// Units the EMF specification allows.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the EMF specification and returns its metrics by name.
fn check_emf(line: &str) -> HashMap<String, f64> {
    let root: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("EMF line is not JSON ({e}): {line}"));
    let aws = &root["_aws"];
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let timestamp = aws["Timestamp"].as_u64().unwrap_or_else(|| panic!("_aws.Timestamp must be integer ms: {line}"));
    assert!(timestamp <= now_ms && now_ms - timestamp < 60_000, "Timestamp {timestamp} is not now");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("CloudWatchMetrics: {line}"));
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert!(directive["Namespace"].as_str().is_some_and(|n| !n.is_empty() && n.len() <= 255));
    let dimension_sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("Dimensions: {line}"));
    for set in dimension_sets {
        let keys = set.as_array().unwrap_or_else(|| panic!("a dimension set is an array: {line}"));
        assert!(keys.len() <= 30);
        for key in keys {
            let key = key.as_str().unwrap_or_else(|| panic!("dimension keys are strings: {line}"));
            assert!(root[key].is_string(), "dimension {key} must be a top-level string member: {line}");
        }
    }
    let metrics = directive["Metrics"].as_array().unwrap_or_else(|| panic!("Metrics: {line}"));
    assert!(metrics.len() <= 100);
    let mut names = BTreeSet::new();
    let mut values = HashMap::new();
    for metric in metrics {
        let name = metric["Name"].as_str().unwrap_or_else(|| panic!("metric Name: {line}"));
        assert!(names.insert(name), "metric {name} defined twice");
        let unit = metric["Unit"].as_str().unwrap_or("None");
        assert!(UNITS.contains(&unit), "unit {unit} is not an EMF unit");
        let value = root[name].as_f64().unwrap_or_else(|| panic!("metric {name} must be a top-level number: {line}"));
        values.insert(name.to_owned(), value);
    }
    values
}

fn metered(router: Router) -> (Router, Arc<Mutex<Vec<String>>>) {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let router = router.metrics_to("Shop/Streams", move |line| {
        sink.lock().unwrap_or_else(|e| e.into_inner()).push(line.to_owned());
    });
    (router, lines)
}

#[tokio::test]
async fn each_invocation_emits_one_emf_line_with_what_happened() {
    let _one = ONE_AT_A_TIME.lock().await;
    let records = orders();
    let (router, lines) = metered(
        Router::new().stream(
            "Orders",
            each(|change: Change<Item>| async move {
                if pk(&change) == "k3" {
                    return Err::<(), BoxError>("declined".into());
                }
                Ok(())
            })
            .filter(|change| pk(change) != "k1"),
        ),
    );
    let response = router.handle(&lambda_event(&records), &context()).await;
    let failures = response.map(|r| r.batch_item_failures.len()).ok();
    assert_eq!(failures, Some(1));
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(lines.len(), 1);
    let metrics = check_emf(&lines[0]);
    assert_eq!(metrics["RecordsReceived"], 5.0);
    assert_eq!(metrics["RecordsProcessed"], 2.0, "k0 and k2; k1 filtered; k3 failed; k4 not started");
    assert_eq!(metrics["RecordsFiltered"], 1.0);
    assert_eq!(metrics["RecordsFailed"], 1.0);
    assert_eq!(metrics["RecordsUndecodable"], 0.0);
    assert!(metrics["HandlerDuration"] >= 0.0);
    // The test kit's clock starts in 2026-11 at whole seconds: the age is at least that far back.
    let created = records.iter().map(|r| r.approximate_creation_time).min().unwrap_or(0) as f64 * 1_000.0;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);
    assert!((metrics["IteratorAge"] - (now - created)).abs() < 60_000.0, "{}", metrics["IteratorAge"]);
    let root: Value = serde_json::from_str(&lines[0]).unwrap_or_default();
    assert_eq!(root["table"], "Orders");
    assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop/Streams");
}

#[tokio::test]
async fn an_undecodable_record_is_counted_as_such() {
    let _one = ONE_AT_A_TIME.lock().await;
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        pk: String,
        amount: i64,
    }
    let (router, lines) = metered(Router::new().stream("Orders", |_: Change<Order>| async { Ok::<(), BoxError>(()) }));
    let response = router.handle(&lambda_event(&orders()), &context()).await;
    assert_eq!(response.map(|r| r.batch_item_failures.len()).ok(), Some(1));
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let metrics = check_emf(&lines[0]);
    assert_eq!((metrics["RecordsUndecodable"], metrics["RecordsFailed"], metrics["RecordsProcessed"]), (1.0, 0.0, 0.0));
}
