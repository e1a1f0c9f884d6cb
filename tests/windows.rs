//! Tumbling windows: a window route folds each change into a typed state in stream order,
//! every answer carries the state, a failed change leaves the state as it was before it,
//! and the final step runs once per window with the whole window's state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ddbstream::testing::{
    kinesis_event, lambda_event, window_event, Delivery, EventSourceMapping, Fate, KeySchema, Simulator, StreamRecord,
    Table, WindowInvocation,
};
use ddbstream::{window, BoxError, Change, Context, Error, Item, Router, State, StreamViewType, WindowEnd};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_dynamo::AttributeValue;
use serde_json::json;
use workspace_tests::{context_with_budget, number};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Totals {
    orders: u64,
    amount: i64,
    /// The `n` of each change folded, in order.
    order: Vec<u64>,
}

#[derive(Deserialize)]
struct Order {
    n: u64,
    amount: i64,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    panic: bool,
}

/// Adds the change, and only then fails or panics when the order asks: a failed fold must
/// not leave its half-done change in the state.
fn add(totals: &mut Totals, change: Change<Order>) -> Result<(), BoxError> {
    let order = change.require_new()?;
    totals.orders += 1;
    totals.amount += order.amount;
    totals.order.push(order.n);
    if order.panic {
        panic!("order {} panics", order.n);
    }
    if order.fail {
        return Err(format!("order {} fails", order.n).into());
    }
    Ok(())
}

type Ends = Arc<Mutex<Vec<WindowEnd<Totals>>>>;

fn ends_of(ends: &Ends) -> Vec<WindowEnd<Totals>> {
    ends.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn router(ends: &Ends) -> Router {
    let ends = ends.clone();
    Router::new().stream(
        "Orders",
        window(add, move |end: WindowEnd<Totals>| {
            let ends = ends.clone();
            async move {
                ends.lock().unwrap_or_else(PoisonError::into_inner).push(end);
                Ok::<(), BoxError>(())
            }
        }),
    )
}

fn order(n: u64, amount: i64) -> Item {
    Item::from(HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("order#{n}"))),
        ("n".to_owned(), AttributeValue::N(n.to_string())),
        ("amount".to_owned(), AttributeValue::N(amount.to_string())),
    ]))
}

fn with(item: Item, name: &str, value: AttributeValue) -> Item {
    let mut item: HashMap<String, AttributeValue> = item.into();
    item.insert(name.to_owned(), value);
    Item::from(item)
}

fn orders(items: impl IntoIterator<Item = Item>) -> Vec<StreamRecord> {
    let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    items.into_iter().filter_map(|item| table.put(item).ok().flatten()).collect()
}

fn first_window(records: &[StreamRecord]) -> WindowInvocation {
    let at = records.first().map_or(ddbstream::testing::CLOCK_START, |r| r.approximate_creation_time);
    let arn = records.first().map_or("", |r| r.stream_arn.as_str());
    WindowInvocation::holding(at, 300, "shardId-000000000001", arn)
}

async fn handle(router: &Router, payload: &[u8]) -> Result<ddbstream::BatchResponse, Error> {
    router.handle(payload, &Context::default()).await
}

#[tokio::test]
async fn every_answer_carries_the_state_folded_in_stream_order() {
    let ends = Ends::default();
    let mut records = orders((1..=4).map(|n| order(n, 10 * n as i64)));
    records.reverse(); // the payload's order does not matter: stream order does
    let window = first_window(&records);
    let response = handle(&router(&ends), &window_event(&lambda_event(&records), &window)).await;
    let response = response.unwrap_or_else(|err| panic!("{err}"));
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(response.state, Some(json!({"orders": 4, "amount": 100, "order": [1, 2, 3, 4]})));
    assert!(ends_of(&ends).is_empty(), "not the final invocation: no final step");

    // The next invocation of the window starts from the state answered.
    let more = orders([order(5, 7)]);
    let next = window.clone().with_state(response.state.unwrap_or_default());
    let response = handle(&router(&ends), &window_event(&lambda_event(&more), &next)).await;
    assert_eq!(
        response.ok().and_then(|r| r.state),
        Some(json!({"orders": 5, "amount": 107, "order": [1, 2, 3, 4, 5]}))
    );
}

#[tokio::test]
async fn a_failed_change_is_reported_with_the_state_as_of_the_changes_before_it() {
    let cases = [
        ("fail", AttributeValue::Bool(true)),
        ("panic", AttributeValue::Bool(true)),
        ("amount", AttributeValue::S("not a number".into())),
    ];
    for (name, value) in cases {
        let ends = Ends::default();
        let records = orders([order(1, 5), with(order(2, 6), name, value.clone()), order(3, 7)]);
        let window = first_window(&records).with_state(json!({"orders": 10, "amount": 1000, "order": [0]}));
        let response = handle(&router(&ends), &window_event(&lambda_event(&records), &window.last())).await;
        let response = response.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(response.failed_identifiers(), vec![records[1].sequence_number.as_str()], "{name}");
        assert_eq!(response.state, Some(json!({"orders": 11, "amount": 1005, "order": [0, 1]})), "{name}");
        assert!(ends_of(&ends).is_empty(), "{name}: a final invocation that failed a change does not end the window");
    }
}

#[tokio::test]
async fn the_final_step_runs_at_the_final_invocation_with_the_whole_windows_state() {
    let ends = Ends::default();
    let records = orders([order(1, 5), order(2, 6)]);
    let window = first_window(&records).with_state(json!({"orders": 1, "amount": 1, "order": [0]}));
    // The final invocation may bring records: they are folded first.
    let response = handle(&router(&ends), &window_event(&lambda_event(&records), &window.clone().last())).await;
    assert_eq!(response.ok().and_then(|r| r.state), Some(json!({"orders": 3, "amount": 12, "order": [0, 1, 2]})));
    let ended = ends_of(&ends);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].state, Totals { orders: 3, amount: 12, order: vec![0, 1, 2] });
    assert_eq!(
        (ended[0].start.as_str(), ended[0].shard_id.as_str()),
        (ddbstream::testing::iso8601(window.start).as_str(), "shardId-000000000001")
    );
    assert_eq!(ended[0].event_source_arn, records[0].stream_arn);

    // Without records, and without a `Records` field at all.
    for payload in [window_event(&lambda_event(&[]), &window.clone().last()), {
        let mut bare: serde_json::Value =
            serde_json::from_slice(&window_event(b"{}", &window.clone().last())).unwrap_or_default();
        bare.as_object_mut().map(|o| o.remove("Records"));
        serde_json::to_vec(&bare).unwrap_or_default()
    }] {
        let ends = Ends::default();
        let response = handle(&router(&ends), &payload).await;
        assert_eq!(response.ok().and_then(|r| r.state), Some(json!({"orders": 1, "amount": 1, "order": [0]})));
        assert_eq!(ends_of(&ends).len(), 1);
    }
}

#[tokio::test]
async fn a_failed_final_step_fails_the_invocation() {
    let router = Router::new().stream(
        "Orders",
        window(add, |_: WindowEnd<Totals>| async { Err::<(), BoxError>("the totals table is down".into()) }),
    );
    let records = orders([order(1, 5)]);
    let response = handle(&router, &window_event(&lambda_event(&records), &first_window(&records).last())).await;
    match response {
        Err(error @ Error::Window(_)) => {
            assert_eq!(error.kind(), "Window");
            assert!(error.to_string().contains("the totals table is down"), "{error}");
        }
        other => panic!("expected a Window error, got {other:?}"),
    }
}

/// A state that keeps each change's `n` and a filler of `filler` bytes per change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Heavy(Vec<(u64, String)>);

/// Each end of a heavy window: the `n`s it holds, and whether it ended early.
type HeavyEnds = Arc<Mutex<Vec<(Vec<u64>, bool)>>>;

/// A router whose window keeps `filler` bytes per change (a change with `huge` keeps
/// 1.1 MB), recording each end as (the `n`s it holds, whether it ended early).
fn heavy_router(filler: usize, ends: &HeavyEnds) -> Router {
    let ends = ends.clone();
    Router::new().stream(
        "Orders",
        window(
            move |heavy: &mut Heavy, change: Change<Item>| {
                let image = change.new_image().cloned().unwrap_or_default();
                let n = number(&image, "n");
                let size = if image.contains_key("huge") { 1_100_000 } else { filler };
                heavy.0.push((n, "x".repeat(size)));
                Ok::<(), BoxError>(())
            },
            move |end: WindowEnd<Heavy>| {
                let ends = ends.clone();
                async move {
                    let held = end.state.0.iter().map(|(n, _)| *n).collect();
                    ends.lock().unwrap_or_else(PoisonError::into_inner).push((held, end.terminated_early));
                    Ok::<(), BoxError>(())
                }
            },
        ),
    )
}

fn held(state: &Option<serde_json::Value>) -> Vec<u64> {
    let state: Heavy = state.clone().and_then(|s| serde_json::from_value(s).ok()).unwrap_or_default();
    state.0.iter().map(|(n, _)| *n).collect()
}

/// AWS: "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
/// terminates the window early." The framework never answers more: it ends the window early
/// before the change that would pass the limit and goes on in the same window with a fresh
/// state; the final step then runs once more, for the rest.
#[tokio::test]
async fn a_state_that_would_pass_one_megabyte_ends_the_window_early_and_goes_on_fresh() {
    let ends = HeavyEnds::default();
    let router = heavy_router(300_000, &ends);
    let records = orders((1..=5).map(|n| order(n, 1)));
    let window = first_window(&records);
    let response = handle(&router, &window_event(&lambda_event(&records), &window)).await;
    let response = response.unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    assert_eq!(ends.lock().unwrap_or_else(PoisonError::into_inner).clone(), [(vec![1, 2, 3], true)]);
    assert_eq!(held(&response.state), [4, 5], "the same window, a fresh state from change 4");
    // The final invocation ends the rest, once, not early.
    let last = window.clone().with_state(response.state.clone().unwrap_or_default()).last();
    let response = handle(&router, &window_event(&lambda_event(&[]), &last)).await;
    assert!(response.is_ok(), "{response:?}");
    assert_eq!(
        ends.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        [(vec![1, 2, 3], true), (vec![4, 5], false)]
    );

    // A final invocation whose own records pass the limit: ended early first, then ended.
    let ends = HeavyEnds::default();
    let router = heavy_router(300_000, &ends);
    let response = handle(&router, &window_event(&lambda_event(&records), &window.clone().last())).await;
    assert!(response.is_ok_and(|r| r.batch_item_failures.is_empty()));
    assert_eq!(
        ends.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        [(vec![1, 2, 3], true), (vec![4, 5], false)]
    );
}

#[tokio::test]
async fn a_change_that_alone_passes_one_megabyte_fails_as_itself() {
    let ends = HeavyEnds::default();
    let router = heavy_router(10, &ends);
    let records =
        orders([order(1, 1), order(2, 1), with(order(3, 1), "huge", AttributeValue::Bool(true)), order(4, 1)]);
    let response = handle(&router, &window_event(&lambda_event(&records), &first_window(&records))).await;
    let response = response.unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<String> = response.failed_identifiers().iter().map(|id| (*id).to_owned()).collect();
    assert_eq!(failed, [records[2].sequence_number.to_string()]);
    assert_eq!(ends.lock().unwrap_or_else(PoisonError::into_inner).clone(), [(vec![1, 2], true)]);
    assert!(held(&response.state).is_empty(), "the retry starts from the huge change with a fresh state");
}

/// AWS: "Records are always processed in order the first time. If records are processed
/// more than once, they may be processed out of order." The simulator sends a window's
/// retried batch in reverse; the framework folds it in stream order all the same.
#[tokio::test]
async fn a_retried_window_batch_comes_out_of_order_and_is_folded_in_order() {
    let ends = Ends::default();
    let records =
        orders([order(1, 1), order(2, 1), with(order(3, 1), "fail_once", AttributeValue::Bool(true)), order(4, 1)]);
    let attempts = Arc::new(Mutex::new(HashMap::<u64, u32>::new()));
    let folded = Arc::new(Mutex::new(Vec::new()));
    let router = {
        let (ends, attempts, folded) = (ends.clone(), attempts.clone(), folded.clone());
        Router::new().stream(
            "Orders",
            window(
                move |totals: &mut Totals, change: Change<Item>| {
                    let image = change.new_image().cloned().unwrap_or_default();
                    let n = number(&image, "n");
                    folded.lock().unwrap_or_else(PoisonError::into_inner).push(n);
                    let mut attempts = attempts.lock().unwrap_or_else(PoisonError::into_inner);
                    let attempt = attempts.entry(n).or_default();
                    *attempt += 1;
                    if image.contains_key("fail_once") && *attempt == 1 {
                        return Err::<(), BoxError>("fails once".into());
                    }
                    totals.order.push(n);
                    Ok(())
                },
                move |end: WindowEnd<Totals>| {
                    let ends = ends.clone();
                    async move {
                        ends.lock().unwrap_or_else(PoisonError::into_inner).push(end);
                        Ok::<(), BoxError>(())
                    }
                },
            ),
        )
    };
    let mapping =
        EventSourceMapping { tumbling_window: Some(Duration::from_secs(300)), ..EventSourceMapping::default() };
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    simulator.run().await;
    let sent: Vec<Vec<String>> =
        simulator.trace().invocations().iter().map(|i| i.batch.iter().map(|s| s.to_string()).collect()).collect();
    let seq = |i: usize| records[i].sequence_number.to_string();
    assert_eq!(sent[0], [seq(0), seq(1), seq(2), seq(3)], "in order the first time");
    assert_eq!(sent[1], [seq(3), seq(2)], "the retry from change 3, out of order");
    assert_eq!(*folded.lock().unwrap_or_else(PoisonError::into_inner), [1, 2, 3, 3, 4], "folded in order");
    let ends = ends_of(&ends);
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].state.order, [1, 2, 3, 4]);
}

#[tokio::test]
async fn an_incoming_state_that_does_not_decode_fails_the_invocation_naming_its_type() {
    let ends = Ends::default();
    let records = orders([order(1, 5)]);
    let window = first_window(&records).with_state(json!({"orders": "secret-looking text"}));
    match handle(&router(&ends), &window_event(&lambda_event(&records), &window)).await {
        Err(Error::Window(message)) => {
            assert!(message.contains("Totals") && message.contains("does not decode"), "{message}");
            assert!(!message.contains("secret-looking"), "state contents stay out of errors: {message}");
        }
        other => panic!("expected a Window error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_events_shape_picks_the_plain_or_the_window_route() {
    let plain = Arc::new(Mutex::new(0usize));
    let counted = plain.clone();
    let ends = Ends::default();
    let both = router(&ends).stream("Orders", move |_: Change<Item>| {
        *counted.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        std::future::ready(Ok::<(), BoxError>(()))
    });
    let records = orders([order(1, 5), order(2, 6)]);
    let response = handle(&both, &lambda_event(&records)).await;
    assert!(response.is_ok_and(|r| r.state.is_none() && r.batch_item_failures.is_empty()));
    assert_eq!(*plain.lock().unwrap_or_else(PoisonError::into_inner), 2);
    let response = handle(&both, &window_event(&lambda_event(&records), &first_window(&records))).await;
    assert_eq!(response.ok().and_then(|r| r.state.map(|s| s["orders"].clone())), Some(json!(2)));
    assert_eq!(*plain.lock().unwrap_or_else(PoisonError::into_inner), 2, "the plain route saw no window event");

    // A stream with only a window route refuses a plain event, naming what to do.
    match handle(&router(&ends), &lambda_event(&records)).await {
        Err(Error::Unsupported(message)) => assert!(message.contains("TumblingWindowInSeconds"), "{message}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[tokio::test]
async fn a_kinesis_window_is_folded_and_its_empty_final_invocation_finds_the_window_route() {
    let ends = Ends::default();
    let records = orders([order(1, 5), order(2, 6)]);
    let kinesis_arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/Orders-changes";
    let window =
        WindowInvocation::holding(records[0].approximate_creation_time, 60, "shardId-000000000000", kinesis_arn);
    let response = handle(&router(&ends), &window_event(&kinesis_event(&records), &window)).await;
    let state = response.ok().and_then(|r| r.state).unwrap_or_default();
    assert_eq!(state, json!({"orders": 2, "amount": 11, "order": [1, 2]}));
    let response = handle(&router(&ends), &window_event(&kinesis_event(&[]), &window.with_state(state).last())).await;
    assert!(response.is_ok_and(|r| r.state.is_some()));
    let ended = ends_of(&ends);
    assert_eq!((ended.len(), ended.first().map(|e| e.event_source_arn.as_str())), (1, Some(kinesis_arn)));
}

#[tokio::test]
async fn records_of_two_tables_in_one_kinesis_window_need_one_window_route() {
    let ends = Ends::default();
    let mut records = orders([order(1, 5)]);
    let mut customers = Table::new("Customers", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    records.extend(customers.put(order(2, 6)).ok().flatten());
    let two = router(&ends).stream("Customers", window(add, |_: WindowEnd<Totals>| async { Ok::<(), BoxError>(()) }));
    let window = WindowInvocation::holding(
        records[0].approximate_creation_time,
        60,
        "shardId-0",
        "arn:aws:kinesis:eu-west-1:1:stream/s",
    );
    match handle(&two, &window_event(&kinesis_event(&records), &window)).await {
        Err(Error::Unsupported(message)) => assert!(message.contains("two window routes"), "{message}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(ends_of(&ends).is_empty());
}

#[tokio::test]
async fn the_final_step_takes_the_routers_state() {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u64>>>);
    async fn write(State(sink): State<Sink>, end: WindowEnd<Totals>) -> Result<(), BoxError> {
        sink.0.lock().unwrap_or_else(PoisonError::into_inner).push(end.state.orders);
        Ok(())
    }
    let sink = Sink(Arc::default());
    let router = Router::new().with_state(sink.clone()).stream("Orders", window(add, write));
    let records = orders([order(1, 5), order(2, 5)]);
    let response = handle(&router, &window_event(&lambda_event(&records), &first_window(&records).last())).await;
    assert!(response.is_ok());
    assert_eq!(*sink.0.lock().unwrap_or_else(PoisonError::into_inner), vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_that_outlives_the_deadline_fails_the_invocation() {
    let router = Router::new().deadline_margin(Duration::from_millis(200)).stream(
        "Orders",
        window(
            |_: &mut Totals, _: Change<Item>| {
                std::thread::sleep(Duration::from_millis(700));
                Ok::<(), BoxError>(())
            },
            |_: WindowEnd<Totals>| async { Ok::<(), BoxError>(()) },
        ),
    );
    let records = orders([order(1, 5), order(2, 5)]);
    let payload = window_event(&lambda_event(&records), &first_window(&records));
    let response = router.handle(&payload, &context_with_budget(Duration::from_millis(600))).await;
    match response {
        Err(Error::Window(message)) => assert!(message.contains("did not finish"), "{message}"),
        other => panic!("expected a Window error, got {other:?}"),
    }
}

/// What each window of a run must end with: its records' totals, in stream order.
fn expected_windows(records: &[StreamRecord], seconds: u64) -> BTreeMap<u64, (u64, i64, Vec<u64>)> {
    let mut windows: BTreeMap<u64, (u64, i64, Vec<u64>)> = BTreeMap::new();
    for record in records {
        let image = record.new_image.as_ref().map(|item| serde_dynamo::from_item::<_, Order>(item.clone()));
        let Some(Ok(order)) = image else { continue };
        let at = record.approximate_creation_time;
        let window = windows.entry(at - at % seconds).or_default();
        window.0 += 1;
        window.1 += order.amount;
        window.2.push(order.n);
    }
    windows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Driven by the simulator as Lambda drives a windowed mapping, with changes that fail
    /// (or panic) a few times before they succeed and final steps that fail once: every
    /// window ends exactly once, with exactly its own changes folded once each, in stream
    /// order, and every record is acknowledged.
    #[test]
    fn every_window_ends_once_with_each_of_its_changes_folded_once(
        gaps in prop::collection::vec(0u64..40, 1..40),
        seconds in prop::sample::select(vec![30u64, 60, 120]),
        batch_size in 1usize..8,
        kinesis in any::<bool>(),
        flaky in prop::collection::vec((0usize..40, 1u32..3, any::<bool>()), 0..5),
        end_failures in 0u32..2,
    ) {
        let mut table = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
        let mut records = Vec::new();
        for (n, gap) in gaps.iter().enumerate() {
            table.advance(*gap);
            records.extend(table.put(order(n as u64, (n as i64 % 7) - 2)).ok().flatten());
        }
        let failures: Arc<Mutex<HashMap<u64, (u32, bool)>>> =
            Arc::new(Mutex::new(flaky.iter().map(|&(n, times, panics)| (n as u64, (times, panics))).collect()));
        let ends = Ends::default();
        let end_failures = Arc::new(Mutex::new(end_failures));
        let fold = {
            let failures = failures.clone();
            move |totals: &mut Totals, change: Change<Order>| {
                let n = change.require_new()?.n;
                add(totals, change)?;
                let mut failures = failures.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((left, panics)) = failures.get_mut(&n).filter(|(left, _)| *left > 0) {
                    *left -= 1;
                    if *panics {
                        drop(failures);
                        panic!("flaky order {n}");
                    }
                    return Err::<(), BoxError>(format!("flaky order {n}").into());
                }
                Ok(())
            }
        };
        let router = {
            let ends = ends.clone();
            Router::new().stream("Orders", window(fold, move |end: WindowEnd<Totals>| {
                let (ends, end_failures) = (ends.clone(), end_failures.clone());
                async move {
                    let mut left = end_failures.lock().unwrap_or_else(PoisonError::into_inner);
                    if *left > 0 {
                        *left -= 1;
                        return Err::<(), BoxError>("the first final step fails".into());
                    }
                    drop(left);
                    ends.lock().unwrap_or_else(PoisonError::into_inner).push(end);
                    Ok(())
                }
            }))
        };
        let mapping = EventSourceMapping {
            batch_size,
            tumbling_window: Some(Duration::from_secs(seconds)),
            delivery: if kinesis { Delivery::Kinesis } else { Delivery::StreamEvent },
            max_invocations: 2_000,
            ..EventSourceMapping::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()
            .unwrap_or_else(|err| panic!("runtime: {err}"));
        let shard = table.stream().describe()[0].shard_id.clone();
        let (trace, done) = runtime.block_on(async {
            let mut lambda = Simulator::new(&router, mapping, &shard, records.clone());
            lambda.run().await;
            (lambda.trace().clone(), lambda.is_done())
        });
        prop_assert!(done, "the simulation finished");
        for record in &records {
            prop_assert!(matches!(trace.fate(&record.sequence_number), Fate::Acknowledged(_)), "{}", record.sequence_number);
        }
        let expected = expected_windows(&records, seconds);
        let ended: BTreeMap<u64, (u64, i64, Vec<u64>)> = ends_of(&ends)
            .into_iter()
            .map(|end| {
                let start = trace.windows().iter().find(|w| ddbstream::testing::iso8601(w.start) == end.start).map(|w| w.start);
                (start.unwrap_or(u64::MAX), (end.state.orders, end.state.amount, end.state.order))
            })
            .collect();
        prop_assert_eq!(ends_of(&ends).len(), expected.len(), "one final step per window");
        prop_assert_eq!(&ended, &expected);
        prop_assert_eq!(trace.windows().len(), expected.len());
    }
}
