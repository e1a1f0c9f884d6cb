//! Routing by table and ARN, fallbacks, filters, and batch handlers.

use ddbstream::{batch, each, BatchFailure, BoxError, Change, Context, Error, EventName, Item, Router};
use serde::Deserialize;
use workspace_tests::{expected, fixture, respond, CallLog};

const ORDERS_ARN: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T09:30:15.123";

#[derive(Debug, Deserialize)]
struct Order {
    amount: i64,
    #[serde(default)]
    fail: bool,
}

fn recorder<T: 'static>(
    log: &CallLog,
    tag: &'static str,
) -> impl Fn(Change<T>) -> std::future::Ready<Result<(), BoxError>> {
    let log = log.clone();
    move |change: Change<T>| {
        log.push(format!("{tag}:{}", change.sequence_number()));
        std::future::ready(Ok(()))
    }
}

fn seq(suffix: &str) -> String {
    format!("44215845000000000174504{suffix}")
}

#[tokio::test]
async fn a_stream_without_a_route_fails_the_batch_naming_the_arn_and_the_routes() {
    let log = CallLog::default();
    let router = Router::new()
        .stream("Orders", recorder::<Item>(&log, "orders"))
        .stream("Invoices", recorder::<Item>(&log, "inv"));
    let result = respond(&router, &fixture("customers-fallback.json"), &Context::default()).await;
    let Err(error @ Error::NoRoute { .. }) = result else { panic!("expected NoRoute, got {result:?}") };
    let message = error.to_string();
    assert!(message.contains("table/Customers/stream/2026-11-01T09:30:15.123"), "{message}");
    assert!(message.contains("routes: Orders, Invoices; no fallback"), "{message}");
    assert!(log.entries().is_empty());
}

#[tokio::test]
async fn a_fallback_takes_the_streams_nobody_routes() {
    let log = CallLog::default();
    let router =
        Router::new().stream("Orders", recorder::<Item>(&log, "orders")).fallback(recorder::<Item>(&log, "other"));
    let response = respond(&router, &fixture("customers-fallback.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [format!("other:{}", seq("40001")), format!("other:{}", seq("40002"))]);
}

#[tokio::test]
async fn an_arn_route_wins_over_a_table_route() {
    let log = CallLog::default();
    let router = Router::new()
        .stream("Orders", recorder::<Item>(&log, "table"))
        .stream(ORDERS_ARN, recorder::<Item>(&log, "arn"));
    let response = respond(&router, &fixture("orders-modify.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [format!("arn:{}", seq("39201"))]);
}

#[test]
#[should_panic(expected = "stream table `Orders` already has a route")]
fn one_stream_gets_one_handler() {
    let log = CallLog::default();
    let _ = Router::new().stream("Orders", recorder::<Item>(&log, "a")).stream("Orders", recorder::<Item>(&log, "b"));
}

#[tokio::test]
async fn filtered_out_records_count_as_processed() {
    let log = CallLog::default();
    let only_inserts = Router::new().stream("Orders", each(recorder::<Order>(&log, "i")).only([EventName::Insert]));
    let response = respond(&only_inserts, &fixture("orders-new-image.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [format!("i:{}", seq("39401"))]);

    let log = CallLog::default();
    let big = Router::new().stream(
        "Orders",
        each(recorder::<Order>(&log, "big")).filter(|c| c.new_image().is_some_and(|o| o.amount > 120)),
    );
    let response = respond(&big, &fixture("orders-new-image.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [format!("big:{}", seq("39402"))]);

    // A record that would fail, filtered out, is acknowledged as processed.
    let log = CallLog::default();
    let healthy = Router::new()
        .stream("Orders", each(recorder::<Order>(&log, "ok")).filter(|c| !c.new_image().is_some_and(|o| o.fail)));
    let response = respond(&healthy, &fixture("fault-fail-second.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [format!("ok:{}", seq("39501")), format!("ok:{}", seq("39503"))]);
}

/// A batch handler that records what it received and fails at the first `fail` order.
fn batch_router(log: &CallLog) -> Router {
    let log = log.clone();
    Router::new().stream(
        "Orders",
        batch(move |changes: Vec<Change<Order>>| {
            let log = log.clone();
            async move {
                log.push(changes.iter().map(|c| c.sequence_number().to_string()).collect::<Vec<_>>().join(","));
                match changes.iter().position(|c| c.new_image().is_some_and(|o| o.fail)) {
                    Some(index) => Err(BatchFailure::at(index, "refused")),
                    None => Ok(()),
                }
            }
        }),
    )
}

#[tokio::test]
async fn a_batch_handler_gets_every_change_in_order_and_names_the_first_failure() {
    let log = CallLog::default();
    let response = respond(&batch_router(&log), &fixture("fault-fail-second.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39502")))));
    assert_eq!(log.entries(), [[seq("39501"), seq("39502"), seq("39503")].join(",")]);

    let log = CallLog::default();
    let response = respond(&batch_router(&log), &fixture("orders-out-of-order.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(
        log.entries(),
        ["100000000000000000002,900000000000000000001,99999999999999999999999,1000000000000000000000000000000000000000"]
    );
}

#[tokio::test]
async fn a_batch_handler_gets_the_changes_before_an_undecodable_record() {
    let log = CallLog::default();
    let response = respond(&batch_router(&log), &fixture("fault-undecodable-image.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39802")))));
    assert_eq!(log.entries(), [seq("39801")]);
}

#[tokio::test]
async fn a_batch_handler_that_panics_or_names_a_bad_index_fails_from_the_start() {
    let panicking =
        Router::new().stream("Orders", batch(|_: Vec<Change<Order>>| async { panic!("batch handler blew up") }));
    let response = respond(&panicking, &fixture("orders-insert.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39101")))));

    let out_of_range =
        Router::new().stream("Orders", batch(|_: Vec<Change<Order>>| async { Err(BatchFailure::at(99, "somewhere")) }));
    let response = respond(&out_of_range, &fixture("orders-insert.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39101")))));
}

#[test]
#[should_panic(expected = "is not a stream ARN")]
fn a_table_arn_is_refused_at_registration() {
    let log = CallLog::default();
    let _ = Router::new().stream("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders", recorder::<Item>(&log, "t"));
}

#[tokio::test]
async fn a_panicking_filter_fails_its_record_not_the_batch() {
    let log = CallLog::default();
    let router = Router::new().stream(
        "Orders",
        each(recorder::<Order>(&log, "f"))
            .filter(|c| c.new_image().map(|o| o.amount).unwrap_or_else(|| panic!("no image")) > 0),
    );
    // orders-new-image.json: insert, modify, then a remove with no new image.
    let response = respond(&router, &fixture("orders-new-image.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39403")))));
    assert_eq!(log.entries(), [format!("f:{}", seq("39401")), format!("f:{}", seq("39402"))]);

    let batch_log = CallLog::default();
    let sink = batch_log.clone();
    let batched = Router::new().stream(
        "Orders",
        batch(move |changes: Vec<Change<Order>>| {
            sink.push(changes.len().to_string());
            std::future::ready(Ok(()))
        })
        .filter(|c| c.new_image().map(|o| o.amount).unwrap_or_else(|| panic!("no image")) > 0),
    );
    let response = respond(&batched, &fixture("orders-new-image.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39403")))));
    assert_eq!(batch_log.entries(), ["2"]);
}

#[tokio::test]
async fn the_question_mark_works_in_batch_handlers() {
    async fn parse_all(changes: Vec<Change<Item>>) -> Result<(), BatchFailure> {
        for change in &changes {
            let _: u64 = change.sequence_number().as_str().parse()?; // 28 digits overflow u64
        }
        Ok(())
    }
    let router = Router::new().stream("Orders", batch(parse_all));
    let response = respond(&router, &fixture("orders-insert.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39101")))));
}

/// Interleaved keys: a1 b1 a2(fail) b2 a3 b3, every handler call taking 10 ms.
fn interleaved() -> Vec<u8> {
    let record = |i: usize, key: &str, fail: bool| {
        serde_json::json!({
            "eventID": format!("{i:032x}"), "eventName": "INSERT", "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
            "dynamodb": {"Keys": {"pk": {"S": key}}, "NewImage": {"pk": {"S": key}, "amount": {"N": i.to_string()}, "fail": {"BOOL": fail}},
                "SequenceNumber": format!("1000000000000000000{i:02}"), "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}
        })
    };
    let records = vec![
        record(1, "a", false),
        record(2, "b", false),
        record(3, "a", true),
        record(4, "b", false),
        record(5, "a", false),
        record(6, "b", false),
    ];
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn per_key_concurrency_keeps_each_key_in_order_and_reports_the_lowest_failure() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let log = CallLog::default();
    let in_flight = std::sync::Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let (sink, gauge) = (log.clone(), std::sync::Arc::clone(&in_flight));
    let router = Router::new()
        .stream("Orders", move |change: Change<Order>| {
            let (sink, gauge) = (sink.clone(), std::sync::Arc::clone(&gauge));
            async move {
                let now = gauge.0.fetch_add(1, Ordering::SeqCst) + 1;
                gauge.1.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                gauge.0.fetch_sub(1, Ordering::SeqCst);
                let order = change.require_new()?;
                sink.push(format!("{}", order.amount));
                if order.fail {
                    return Err::<(), BoxError>("refused".into());
                }
                Ok(())
            }
        })
        .per_key_concurrency(4);
    let response = respond(&router, &interleaved(), &Context::default()).await;
    assert_eq!(
        response.ok(),
        Some(expected(Some("100000000000000000003"))),
        "a2, the lowest failed or not-started record"
    );
    let calls = log.entries();
    let a: Vec<&str> = calls.iter().map(String::as_str).filter(|c| ["1", "3", "5"].contains(c)).collect();
    let b: Vec<&str> = calls.iter().map(String::as_str).filter(|c| ["2", "4", "6"].contains(c)).collect();
    assert_eq!(a, ["1", "3"], "key a stops at its failure: a3 is not started");
    assert_eq!(b, ["2", "4", "6"], "key b goes on, in order");
    assert_eq!(in_flight.1.load(Ordering::SeqCst), 2, "the two keys ran at the same time");

    // In order (the default), nothing after the failure runs.
    let log = CallLog::default();
    let sequential = Router::new().stream("Orders", recorder::<Order>(&log, "s"));
    let response = respond(&sequential, &interleaved(), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)), "the recorder never fails");
}

/// Shared state for the state tests: where each call is logged, and a tag.
#[derive(Clone)]
struct Shared {
    log: CallLog,
    tag: &'static str,
}

async fn with_state(ddbstream::State(shared): ddbstream::State<Shared>, change: Change<Item>) -> Result<(), BoxError> {
    shared.log.push(format!("{}:{}", shared.tag, change.sequence_number()));
    Ok(())
}

#[tokio::test]
async fn handlers_take_the_routers_state_and_plain_handlers_keep_working() {
    let log = CallLog::default();
    let router = Router::new()
        .with_state(Shared { log: log.clone(), tag: "state" })
        .stream("Orders", with_state)
        .fallback(recorder::<Item>(&log, "plain"));
    let response = respond(&router, &fixture("orders-modify.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    let response = respond(&router, &fixture("customers-fallback.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    let entries = log.entries();
    assert!(
        entries.iter().any(|e| e.starts_with("state:")) && entries.iter().any(|e| e.starts_with("plain:")),
        "{entries:?}"
    );
}

#[test]
fn a_handler_taking_state_the_router_lacks_is_refused_at_registration() {
    let panic = std::panic::catch_unwind(|| Router::new().stream("Orders", with_state))
        .err()
        .and_then(|p| p.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(panic.contains("takes State<") && panic.contains("Router::with_state"), "{panic}");
}

async fn batch_with_state(
    ddbstream::State(shared): ddbstream::State<Shared>,
    changes: Vec<Change<Item>>,
) -> Result<(), BatchFailure> {
    for change in changes {
        shared.log.push(format!("{}:{}", shared.tag, change.sequence_number()));
    }
    Ok(())
}

#[tokio::test]
async fn batch_handlers_take_the_routers_state_too() {
    let log = CallLog::default();
    let router = Router::new().with_state(Shared { log: log.clone(), tag: "batch" }).stream("Orders", batch_with_state);
    let response = respond(&router, &fixture("orders-modify.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert!(!log.entries().is_empty() && log.entries().iter().all(|e| e.starts_with("batch:")), "{:?}", log.entries());
}
