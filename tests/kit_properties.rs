//! Proofs that the failure semantics lose and reorder nothing across Lambda's retries:
//! random workloads written to the test kit's in-memory table, read by its event source
//! mapping simulator, processed by the real router, with injected errors, panics,
//! timeouts, undecodable records and transient failures.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ddbstream::testing::{
    Delivery, EventSourceMapping, FailureCondition, Fate, InvocationResult, KeySchema, Simulator, StreamRecord, Table,
    Update,
};
use ddbstream::{BoxError, Change, Item, Router, SequenceNumber, StreamViewType};
use proptest::prelude::*;
use serde::Deserialize;
use serde_dynamo::AttributeValue;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    Error,
    Panic,
    Timeout,
    Undecodable,
    Transient(u32),
    /// Blocks its thread past the function timeout on the first attempt, then succeeds.
    Block,
}

/// How long a `Block` record holds its thread: past [`BLOCKING_TIMEOUT`].
const BLOCK: Duration = Duration::from_millis(1_200);
/// The function timeout of the blocking properties (real time, a multi-thread runtime).
const BLOCKING_TIMEOUT: Duration = Duration::from_millis(1_000);

#[derive(Clone, Copy, Debug)]
enum Write {
    Put,
    Update,
    Delete,
}

#[derive(Clone, Debug)]
struct Op {
    key: u8,
    write: Write,
    fault: Fault,
}

fn fault(failures: bool) -> BoxedStrategy<Fault> {
    if !failures {
        return Just(Fault::None).boxed();
    }
    prop_oneof![
        40 => Just(Fault::None),
        1 => Just(Fault::Error),
        1 => Just(Fault::Panic),
        1 => Just(Fault::Timeout),
        1 => Just(Fault::Undecodable),
        2 => (1u32..4).prop_map(Fault::Transient),
    ]
    .boxed()
}

/// Failures for real-time runs: no `Timeout` (it would wait out the margin), `Block`
/// instead.
fn blocking_fault() -> BoxedStrategy<Fault> {
    prop_oneof![
        40 => Just(Fault::None),
        1 => Just(Fault::Error),
        1 => Just(Fault::Panic),
        1 => Just(Fault::Undecodable),
        2 => (1u32..4).prop_map(Fault::Transient),
        2 => Just(Fault::Block),
    ]
    .boxed()
}

fn ops(len: std::ops::Range<usize>, keys: u8, failures: bool) -> impl Strategy<Value = Vec<Op>> {
    ops_with(len, keys, fault(failures))
}

fn ops_with(len: std::ops::Range<usize>, keys: u8, fault: BoxedStrategy<Fault>) -> impl Strategy<Value = Vec<Op>> {
    let write = prop_oneof![5 => Just(Write::Put), 3 => Just(Write::Update), 1 => Just(Write::Delete)];
    prop::collection::vec((0..keys, write, fault).prop_map(|(key, write, fault)| Op { key, write, fault }), len)
}

/// Every way the records can reach the function.
fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![Just(Delivery::StreamEvent), Just(Delivery::Pipes), Just(Delivery::Kinesis)]
}

fn mapping(failures: bool) -> impl Strategy<Value = EventSourceMapping> {
    // A record age limit from 10 minutes: shorter ones, with 10 s timeouts and bisection,
    // once discarded more than half of a run's records (536 of 1,114 reached the router),
    // which would leave the checks below with too little to check.
    let settings = (1usize..120, any::<bool>(), 0u32..4, 1usize..5, prop::option::of(600u64..3_600), 0u64..2);
    (settings, delivery()).prop_map(move |((batch_size, bisect, retries, factor, age, step), delivery)| {
        EventSourceMapping {
            delivery,
            batch_size,
            bisect_batch_on_function_error: bisect,
            maximum_retry_attempts: Some(retries),
            maximum_record_age: if failures { age.map(Duration::from_secs) } else { None },
            parallelization_factor: factor,
            function_timeout: Duration::from_secs(10),
            seconds_per_invocation: step,
            ..EventSourceMapping::default()
        }
    })
}

/// Applies the writes to a table; each write that changes the item gives one record.
fn write_all(ops: &[Op]) -> Vec<StreamRecord> {
    let mut table = Table::new("Docs", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    for (version, op) in ops.iter().enumerate() {
        let pk = AttributeValue::S(format!("doc#{}", op.key));
        let key = Item::from(HashMap::from([("pk".to_owned(), pk)]));
        let v = match op.fault {
            Fault::Undecodable => AttributeValue::S("not a number".into()),
            _ => AttributeValue::N(version.to_string()),
        };
        let (code, transient) = match op.fault {
            Fault::None | Fault::Undecodable => (0, 0),
            Fault::Error => (1, 0),
            Fault::Panic => (2, 0),
            Fault::Timeout => (3, 0),
            Fault::Block => (4, 0),
            Fault::Transient(k) => (0, k),
        };
        let update = Update::new()
            .set("v", v)
            .set("fault", AttributeValue::N(code.to_string()))
            .set("transient", AttributeValue::N(transient.to_string()));
        let written = match op.write {
            Write::Put | Write::Update => table.update(key, &update),
            Write::Delete => table.delete(key),
        };
        written.unwrap_or_else(|e| panic!("{e}"));
        table.advance(1);
    }
    table.stream().records()
}

#[derive(Debug, Deserialize)]
struct Doc {
    pk: String,
    #[allow(dead_code)]
    v: u64,
    fault: u8,
    transient: u32,
}

/// One call of the handler: which record, which item, whether it succeeded.
#[derive(Clone, Debug)]
struct Call {
    sequence_number: SequenceNumber,
    pk: String,
    ok: bool,
}

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    fn push(&self, call: Call) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(call);
    }
    fn snapshot(&self) -> Vec<Call> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The router under test: does what each record's image asks; `per_key` > 1 runs keys
/// concurrently.
fn router(calls: &Calls, per_key: usize, margin: Duration, records: &[StreamRecord]) -> Router {
    let calls = calls.clone();
    let by_event: Arc<HashMap<String, SequenceNumber>> =
        Arc::new(records.iter().map(|r| (r.event_id.clone(), r.sequence_number.clone())).collect());
    let attempts: Arc<Mutex<HashMap<SequenceNumber, u32>>> = Arc::default();
    Router::new()
        .stream("Docs", move |change: Change<Doc>| {
            let (calls, attempts, by_event) = (calls.clone(), attempts.clone(), by_event.clone());
            async move {
                let seq = stream_sequence_number(&change, &by_event);
                let image = change.new_image().or(change.old_image());
                let pk = image.map_or_else(String::new, |doc| doc.pk.clone());
                let attempt = {
                    let mut attempts = attempts.lock().unwrap_or_else(PoisonError::into_inner);
                    let n = attempts.entry(seq.clone()).or_default();
                    *n += 1;
                    *n
                };
                let (fault, transient) = image.map_or((0, 0), |doc| (doc.fault, doc.transient));
                if fault == 4 {
                    // The write lands when the thread is given back, answered or not.
                    if attempt == 1 {
                        std::thread::sleep(BLOCK);
                    }
                    calls.push(Call { sequence_number: seq, pk, ok: true });
                    return Ok(());
                }
                let ok = fault == 0 && attempt > transient;
                calls.push(Call { sequence_number: seq, pk, ok });
                match fault {
                    2 => panic!("injected panic"),
                    3 => tokio::time::sleep(Duration::from_secs(3600)).await,
                    _ => {}
                }
                if ok {
                    Ok(())
                } else {
                    Err::<(), BoxError>("injected failure".into())
                }
            }
        })
        .deadline_margin(margin)
        .per_key_concurrency(per_key)
}

/// The stream sequence number of a change: through Kinesis, whose sequence numbers follow
/// arrival, that of the stream record with the change's own `eventID`.
fn stream_sequence_number<T, K>(change: &Change<T, K>, by_event: &HashMap<String, SequenceNumber>) -> SequenceNumber {
    if change.meta.via_kinesis() {
        if let Some(seq) = by_event.get(&change.meta.event_id) {
            return seq.clone();
        }
    }
    change.sequence_number().clone()
}

/// Runs the simulator invocation by invocation; returns the calls made in each invocation.
async fn run(simulator: &mut Simulator<'_>, calls: &Calls) -> Vec<Vec<Call>> {
    let mut per_invocation = Vec::new();
    loop {
        let before = calls.snapshot().len();
        if simulator.step().await.is_none() {
            break;
        }
        per_invocation.push(calls.snapshot()[before..].to_vec());
    }
    per_invocation
}

/// What one simulated run produced.
struct Simulated {
    records: Vec<StreamRecord>,
    trace: ddbstream::testing::Trace,
    on_failure: Vec<ddbstream::testing::OnFailureRecord>,
    done: bool,
    per_invocation: Vec<Vec<Call>>,
    calls: Vec<Call>,
}

fn simulate(ops: &[Op], mapping: EventSourceMapping, per_key: usize) -> Simulated {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    simulate_on(&runtime, ops, mapping, per_key, Duration::from_secs(1))
}

/// As `simulate`, on `runtime`, with the router's deadline margin `margin`.
fn simulate_on(
    runtime: &tokio::runtime::Runtime,
    ops: &[Op],
    mapping: EventSourceMapping,
    per_key: usize,
    margin: Duration,
) -> Simulated {
    let records = write_all(ops);
    let calls = Calls::default();
    let router = router(&calls, per_key, margin, &records);
    let mut simulator = Simulator::new(&router, mapping, "shardId-1", records.clone());
    let per_invocation = runtime.block_on(run(&mut simulator, &calls));
    Simulated {
        records,
        trace: simulator.trace().clone(),
        on_failure: simulator.on_failure().to_vec(),
        done: simulator.is_done(),
        per_invocation,
        calls: calls.snapshot(),
    }
}

/// The records Lambda acknowledged without the handler ever processing them successfully.
fn lost(run: &Simulated) -> Vec<SequenceNumber> {
    run.records
        .iter()
        .map(|r| &r.sequence_number)
        .filter(|seq| matches!(run.trace.fate(seq), Fate::Acknowledged(_)))
        .filter(|seq| !run.calls.iter().any(|c| c.sequence_number == **seq && c.ok))
        .cloned()
        .collect()
}

fn check(ops: &[Op], mapping: EventSourceMapping, per_key: usize) -> Result<(), TestCaseError> {
    let retries = mapping.maximum_retry_attempts;
    check_run(ops, &simulate(ops, mapping, per_key), retries, per_key)
}

fn check_run(ops: &[Op], run: &Simulated, retries: Option<u32>, per_key: usize) -> Result<(), TestCaseError> {
    // Most records reach the router: the age limit must not hide the rest from the checks
    // (a simulator clock that ran ahead of the records once discarded 879 of 1,000).
    let delivered = run.records.iter().filter(|r| !run.trace.attempts(&r.sequence_number).is_empty()).count();
    prop_assert!(
        run.records.is_empty() || delivered * 2 > run.records.len(),
        "only {delivered} of {} records reached the router",
        run.records.len()
    );

    // No loss: every record ends acknowledged or at the on-failure destination; an
    // acknowledged record was processed successfully; a discarded one only after its retries.
    prop_assert!(run.done, "the simulation stopped with records pending");
    prop_assert!(run.records.iter().all(|r| run.trace.fate(&r.sequence_number) != Fate::Pending));
    prop_assert_eq!(lost(run), Vec::<SequenceNumber>::new());
    for discarded in &run.on_failure {
        if discarded.condition == FailureCondition::RetryAttemptsExhausted {
            let attempts = run.trace.attempts(&discarded.start_sequence_number).len();
            let allowed = retries.map_or(usize::MAX, |r| r as usize + 1);
            prop_assert!(
                attempts >= allowed,
                "{} discarded after {attempts} attempts",
                discarded.start_sequence_number
            );
        }
    }

    // Per item key, first successful processing happens in stream order.
    let mut first_success: BTreeMap<&SequenceNumber, usize> = BTreeMap::new();
    for (index, call) in run.calls.iter().enumerate() {
        if call.ok {
            first_success.entry(&call.sequence_number).or_insert(index);
        }
    }
    let mut by_key: HashMap<&str, Vec<(&SequenceNumber, usize)>> = HashMap::new();
    for (seq, &at) in &first_success {
        by_key.entry(run.calls[at].pk.as_str()).or_default().push((seq, at));
    }
    for (pk, successes) in by_key {
        prop_assert!(successes.windows(2).all(|w| w[0].1 < w[1].1), "{pk}: first successes out of stream order");
    }

    // Within an invocation, nothing of a key runs after that key failed (in order, nothing
    // at all runs after a failure).
    for calls in &run.per_invocation {
        if per_key <= 1 {
            if let Some(failed) = calls.iter().position(|c| !c.ok) {
                prop_assert_eq!(failed, calls.len() - 1, "calls after a failure in one invocation: {:?}", calls);
            }
        }
        let mut failed_keys = HashSet::new();
        for call in calls {
            prop_assert!(
                !failed_keys.contains(&call.pk),
                "{} ran after its key failed in the same invocation",
                call.sequence_number
            );
            if !call.ok {
                failed_keys.insert(call.pk.clone());
            }
        }
    }

    // Without injected failures: every record processed exactly once.
    if ops.iter().all(|op| op.fault == Fault::None) {
        prop_assert_eq!(run.calls.len(), run.records.len());
        let mut seen: Vec<&SequenceNumber> = run.calls.iter().map(|c| &c.sequence_number).collect();
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), run.records.len());
        prop_assert!(run.on_failure.is_empty());
    }
    Ok(())
}

/// The check can fail: without `ReportBatchItemFailures`, Lambda takes a partial response
/// as success and acknowledges the failed record and everything after it.
#[test]
fn ignoring_batch_item_failures_loses_records_and_the_check_sees_it() {
    let mut ops: Vec<Op> = (0..10).map(|key| Op { key, write: Write::Put, fault: Fault::None }).collect();
    ops[3].fault = Fault::Error;
    let mapping = EventSourceMapping { report_batch_item_failures: false, ..EventSourceMapping::default() };
    let run = simulate(&ops, mapping.clone(), 1);
    assert_eq!(lost(&run).len(), 7, "the failed record and the six never started after it");
    assert!(check(&ops, mapping, 1).is_err());
    assert!(
        check(&ops, EventSourceMapping { maximum_retry_attempts: Some(2), ..EventSourceMapping::default() }, 1).is_ok()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn with_failures_nothing_is_lost_or_reordered(ops in ops(1..1_500, 40, true), mapping in mapping(true)) {
        check(&ops, mapping, 1)?;
    }

    #[test]
    fn without_failures_every_record_is_processed_exactly_once(ops in ops(1..1_500, 40, false), mapping in mapping(false)) {
        check(&ops, mapping, 1)?;
    }

    #[test]
    fn per_key_concurrency_loses_and_reorders_nothing(
        ops in ops(1..1_500, 40, true), mapping in mapping(true), per_key in 2usize..16,
    ) {
        check(&ops, mapping, per_key)?;
    }

    #[test]
    fn per_key_concurrency_without_failures_processes_each_record_once(
        ops in ops(1..1_500, 40, false), mapping in mapping(false), per_key in 2usize..16,
    ) {
        check(&ops, mapping, per_key)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn ten_thousand_records(ops in ops(9_000..10_001, 200, true), mapping in long_run_mapping(), per_key in 1usize..9) {
        check(&ops, mapping, per_key)?;
    }
}

/// Mappings for runs of 10,000 records: with a failure every 46 records the retries put a
/// mapping minutes behind, so the age limits drawn are hours (up to Lambda's 24 h).
fn long_run_mapping() -> impl Strategy<Value = EventSourceMapping> {
    (mapping(true), 3_600u64..86_400).prop_map(|(mapping, age)| EventSourceMapping {
        maximum_record_age: mapping.maximum_record_age.map(|_| Duration::from_secs(age)),
        ..mapping
    })
}

/// Mappings for the blocking properties: a short function timeout, in real time.
fn blocking_mapping() -> impl Strategy<Value = EventSourceMapping> {
    mapping(true).prop_map(|mapping| EventSourceMapping { function_timeout: BLOCKING_TIMEOUT, ..mapping })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Handlers that block their thread past the function timeout: on a multi-thread
    /// runtime every invocation is still answered in time, and the blocked attempt's write
    /// lands before its record is redelivered, so nothing is lost or reordered.
    #[test]
    fn handlers_that_block_their_thread_lose_and_reorder_nothing(
        ops in ops_with(1..80, 8, blocking_fault()), mapping in blocking_mapping(), per_key in 1usize..4,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let retries = mapping.maximum_retry_attempts;
        let run = simulate_on(&runtime, &ops, mapping, per_key, Duration::from_millis(300));
        let timeouts = run.trace.invocations().iter().filter(|i| i.result == InvocationResult::Timeout).count();
        prop_assert_eq!(timeouts, 0, "invocations timed out");
        check_run(&ops, &run, retries, per_key)?;
    }
}
