//! One test per failure-semantics rule, each asserting the exact response JSON.

use std::time::Duration;

use ddbstream::{BoxError, Change, Context, Error, Router};
use serde::Deserialize;
use workspace_tests::{capture_logs, context_with_budget, expected, fixture, respond, CallLog};

#[derive(Debug, Deserialize)]
struct Order {
    amount: i64,
    #[serde(default)]
    fail: bool,
}

/// An `Orders` route that records every call and fails records whose image sets `fail`.
fn orders(log: &CallLog) -> Router {
    let log = log.clone();
    Router::new().stream("Orders", move |change: Change<Order>| {
        let log = log.clone();
        async move {
            log.push(change.sequence_number().as_str());
            match change.new_image() {
                Some(order) if order.fail => Err::<(), BoxError>(format!("order of {} refused", order.amount).into()),
                _ => Ok(()),
            }
        }
    })
}

const SEQ: &str = "44215845000000000174504";

fn seq(suffix: &str) -> String {
    format!("{SEQ}{suffix}")
}

#[tokio::test]
async fn success_is_an_empty_failure_list() {
    let log = CallLog::default();
    let response = respond(&orders(&log), &fixture("orders-insert.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    assert_eq!(log.entries(), [seq("39101"), seq("39102")]);
}

#[tokio::test]
async fn records_run_in_numeric_sequence_order_whatever_the_payload_order() {
    let log = CallLog::default();
    let response = respond(&orders(&log), &fixture("orders-out-of-order.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(None)));
    // Text order would put the 40-digit number first; payload order is different again.
    assert_eq!(
        log.entries(),
        [
            "100000000000000000002",
            "900000000000000000001",
            "99999999999999999999999",
            "1000000000000000000000000000000000000000"
        ]
    );
}

#[tokio::test]
async fn the_first_failure_is_reported_and_nothing_after_it_runs() {
    let log = CallLog::default();
    let response = respond(&orders(&log), &fixture("fault-fail-second.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39502")))));
    assert_eq!(log.entries(), [seq("39501"), seq("39502")], "39503 must not start");
}

#[tokio::test]
async fn an_image_that_does_not_fit_fails_alone_naming_the_field() {
    let log = CallLog::default();
    let router = orders(&log);
    let (response, logs) =
        capture_logs(respond(&router, &fixture("fault-undecodable-image.json"), &Context::default())).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39802")))));
    assert_eq!(log.entries(), [seq("39801")]);
    assert!(logs.contains("NewImage field `amount`: invalid type: string <redacted>, expected i64"), "{logs}");
    assert!(!logs.contains("twelve"), "the offending value is item content: {logs}");
}

#[tokio::test]
async fn a_malformed_record_fails_alone_naming_the_field() {
    let log = CallLog::default();
    let router = orders(&log);
    let (response, logs) =
        capture_logs(respond(&router, &fixture("fault-malformed-record.json"), &Context::default())).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39803")))));
    assert_eq!(log.entries(), [seq("39801")]);
    assert!(logs.contains("record field `dynamodb.SizeBytes`: invalid type: string"), "{logs}");
}

#[tokio::test]
async fn a_failure_without_a_numeric_sequence_number_fails_the_whole_batch() {
    let log = CallLog::default();
    let result = respond(&orders(&log), &fixture("fault-missing-sequence-number.json"), &Context::default()).await;
    let Err(error @ Error::Unreportable { .. }) = result else { panic!("expected Unreportable, got {result:?}") };
    let message = error.to_string();
    assert!(
        message.contains("eventID") && message.contains("no identifier to report it by (a numeric SequenceNumber"),
        "{message}"
    );
    assert!(message.contains("missing field `SequenceNumber`"), "{message}");
    // Records without a usable number go first, so nothing else ran before the batch failed.
    assert!(log.entries().is_empty(), "{:?}", log.entries());
}

#[tokio::test]
async fn a_non_numeric_sequence_number_is_processed_but_never_reported() {
    let payload =
        String::from_utf8(fixture("fault-fail-second.json")).unwrap_or_default().replace(&seq("39501"), "not-a-number");
    let log = CallLog::default();
    let response = respond(&orders(&log), payload.as_bytes(), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39502")))));
    assert_eq!(log.entries(), ["not-a-number".to_owned(), seq("39502")]);

    let payload = payload.replace(&seq("39502"), "also-not-a-number");
    let result = respond(&orders(&log), payload.as_bytes(), &Context::default()).await;
    assert!(matches!(result, Err(Error::Unreportable { position: 1, .. })), "{result:?}");
}

#[tokio::test]
async fn a_panicking_handler_fails_its_record_and_the_router_lives_on() {
    let router = handlers::fault_injection::router();
    let (response, logs) = capture_logs(respond(&router, &fixture("fault-panic.json"), &Context::default())).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39602")))));
    assert!(logs.contains("handler panicked") && logs.contains("`panic` is set on order order#4001"), "{logs}");
    let again = respond(&router, &fixture("orders-insert.json"), &Context::default()).await;
    assert_eq!(again.ok(), Some(expected(None)));
}

#[tokio::test]
async fn no_record_starts_inside_the_deadline_margin() {
    // A handler that blocks its thread cannot be abandoned (nothing can pre-empt it), but
    // once it returns past the margin, the next record is not started and is reported.
    let log = CallLog::default();
    let sink = log.clone();
    let router = Router::new()
        .stream("Orders", move |change: Change<Order>| {
            sink.push(change.sequence_number().as_str());
            std::thread::sleep(Duration::from_millis(700));
            std::future::ready(Ok::<(), BoxError>(()))
        })
        .deadline_margin(Duration::from_secs(1));
    let (response, logs) = capture_logs(respond(
        &router,
        &fixture("orders-insert.json"),
        &context_with_budget(Duration::from_millis(1_500)),
    ))
    .await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39102")))));
    assert_eq!(log.entries(), [seq("39101")]);
    assert!(logs.contains("not started"), "{logs}");
}

#[tokio::test]
async fn a_margin_that_leaves_no_time_is_a_configuration_error() {
    let log = CallLog::default();
    let router = orders(&log).deadline_margin(Duration::from_secs(1));
    let result =
        respond(&router, &fixture("orders-insert.json"), &context_with_budget(Duration::from_millis(500))).await;
    let message = result.err().map(|e| (e.kind(), e.to_string()));
    assert!(
        message.as_ref().is_some_and(|(kind, text)| *kind == "Config" && text.contains("DDBSTREAM_DEADLINE_MARGIN_MS")),
        "{message:?}"
    );
    assert!(log.entries().is_empty());
}

#[tokio::test]
async fn a_handler_still_running_at_the_deadline_margin_is_abandoned_and_reported() {
    // 701 sleeps 20 ms, 702 sleeps 3 s: with 2 s to spend, 702 is cut off and reported.
    let router = handlers::fault_injection::router().deadline_margin(Duration::from_secs(1));
    let (response, logs) =
        capture_logs(respond(&router, &fixture("fault-sleep.json"), &context_with_budget(Duration::from_secs(3))))
            .await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39702")))));
    assert!(logs.contains("abandoned"), "{logs}");
}

#[tokio::test]
async fn a_payload_that_is_not_a_stream_event_is_an_invocation_error() {
    let router = orders(&CallLog::default());
    let cases: [(&[u8], &str); 3] = [
        (&fixture("not-a-stream-event.json"), "not a DynamoDB Streams event: the payload has no `Records` array"),
        (b"<xml/>", "not a DynamoDB Streams event: the payload is not valid JSON"),
        (
            br#"{"Records": {"eventName": "INSERT"}}"#,
            "not a DynamoDB Streams event: the payload is JSON but not a stream event",
        ),
    ];
    for (payload, message) in cases {
        let result = respond(&router, payload, &Context::default()).await;
        let error = result.err().map(|e| (e.kind(), e.to_string()));
        assert!(
            error.as_ref().is_some_and(|(kind, text)| *kind == "NotAStreamEvent" && text.starts_with(message)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn every_record_failing_is_still_a_partial_response_unless_asked_otherwise() {
    let log = CallLog::default();
    let response = respond(&orders(&log), &fixture("fault-fail-first.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39511")))));
    assert_eq!(log.entries(), [seq("39511")]);

    let strict = orders(&log).error_when_nothing_processed(true);
    let result = respond(&strict, &fixture("fault-fail-first.json"), &Context::default()).await;
    assert!(
        matches!(&result, Err(Error::NothingProcessed { sequence_number, .. }) if *sequence_number == seq("39511")),
        "{result:?}"
    );
    // Once something was processed, the partial response stands even in strict mode.
    let response = respond(&strict, &fixture("fault-fail-second.json"), &Context::default()).await;
    assert_eq!(response.ok(), Some(expected(Some(&seq("39502")))));
}

#[tokio::test]
async fn logs_name_each_record_but_never_its_contents() {
    let router = orders(&CallLog::default());
    let mut context = Context::default();
    context.request_id = "req-7".into();
    let (response, logs) = capture_logs(respond(&router, &fixture("orders-insert.json"), &context)).await;
    assert_eq!(response.ok(), Some(expected(None)));
    let sequence_number = format!("sequence_number=\"{}\"", seq("39101"));
    for wanted in ["request_id=req-7", "table=\"Orders\"", "event_name=\"INSERT\"", &sequence_number, "event_id=\""] {
        assert!(logs.contains(wanted), "missing {wanted:?} in {logs}");
    }
    for secret in ["Ada Lovelace", "order#1001", "BOOK-1", "St James", "4250", "12345678901234567890123456789012345678"]
    {
        assert!(!logs.contains(secret), "item content {secret:?} leaked into {logs}");
    }
}
