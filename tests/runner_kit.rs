//! The runner against the test kit's in-memory stream, through the same `StreamSource`
//! trait as a live stream: shard splits and lineage, pages of shards, expired iterators,
//! throttling, trimmed data, retries and the on-failure sink, checkpoints and restarts,
//! two runners on one shard, shutdown after the batch in flight, and bootstrap.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddbstream::runner::{
    Checkpoint, CheckpointError, CheckpointStore, FailedRecord, Lease, MemoryCheckpoints, OnDataLoss, Runner,
    RunnerError, Save, ShardEntry, StartPosition,
};
use ddbstream::testing::{KeySchema, LiveStream, StreamRecord, Table};
use ddbstream::{BoxError, Change, Item, Router, SequenceNumber, StreamViewType};
use serde_dynamo::AttributeValue;
use tokio::sync::Notify;

type Log = Arc<Mutex<Vec<(String, SequenceNumber)>>>;

fn item(key: &str, version: u32) -> Item {
    Item::from(HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.to_owned())),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
    ]))
}

fn key(key: &str) -> Item {
    Item::from(HashMap::from([("pk".to_owned(), AttributeValue::S(key.to_owned()))]))
}

fn pk(item: &Item) -> String {
    match item.get("pk") {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("no pk: {other:?}"),
    }
}

fn stream() -> LiveStream {
    LiveStream::new(Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages))
}

/// `writes` puts over `keys` keys, numbered from `from`.
fn write(stream: &LiveStream, from: u32, writes: u32, keys: u32) {
    stream.write(|table| {
        for n in from..from + writes {
            let record = table.put(item(&format!("k{}", n % keys), n));
            assert!(matches!(record, Ok(Some(_))), "{record:?}");
        }
    });
}

/// A router that logs (key, sequence number) per change and fails as `fail` says.
fn logging_router(log: &Log, fail: impl Fn(&Change<Item>) -> bool + Send + Sync + 'static) -> Router {
    let log = log.clone();
    let fail = Arc::new(fail);
    Router::new().stream("Orders", move |change: Change<Item>| {
        let outcome = if fail(&change) {
            Err::<(), BoxError>("injected failure".into())
        } else {
            log.lock().unwrap_or_else(|e| e.into_inner()).push((pk(&change.keys), change.sequence_number().clone()));
            Ok(())
        };
        std::future::ready(outcome)
    })
}

fn fast<S: ddbstream::runner::StreamSource, C: ddbstream::runner::CheckpointStore>(
    runner: Runner<S, C>,
) -> Runner<S, C> {
    runner
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .poll_interval(Duration::from_millis(5))
        .lease_duration(Duration::from_millis(500))
}

/// A runner named `name` with leases of `lease` on `store`, waiting as a standby for
/// shards others own.
fn standby<C: CheckpointStore>(
    stream: &LiveStream,
    router: Router,
    name: &str,
    lease: Duration,
    store: C,
) -> Runner<LiveStream, C> {
    fast(Runner::new(stream.clone(), "Orders", router))
        .owner(name)
        .lease_duration(lease)
        .standby(true)
        .checkpoints(store)
}

fn entries(log: &Log) -> Vec<(String, SequenceNumber)> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Every record of the stream exactly once, each key's records in stream order.
fn assert_each_once_in_key_order(log: &[(String, SequenceNumber)], records: &[StreamRecord]) {
    let mut seen: Vec<&SequenceNumber> = log.iter().map(|(_, seq)| seq).collect();
    seen.sort();
    let expected: Vec<&SequenceNumber> = records.iter().map(|r| &r.sequence_number).collect();
    assert_eq!(seen, expected, "each record exactly once");
    let mut per_key: BTreeMap<&str, Vec<&SequenceNumber>> = BTreeMap::new();
    for (key, seq) in log {
        per_key.entry(key).or_default().push(seq);
    }
    for (key, seqs) in per_key {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{key} out of order: {seqs:?}");
    }
}

#[tokio::test]
async fn shards_split_on_pages_are_read_parents_first_and_each_record_once() {
    let stream = stream();
    write(&stream, 0, 40, 8);
    let first = stream.write(|t| t.stream().describe()[0].shard_id.clone());
    let children = stream.write(|t| t.stream_mut().split(&first)).unwrap_or_else(|e| panic!("{e}"));
    write(&stream, 40, 40, 8);
    stream.write(|t| t.stream_mut().split(&children[0])).unwrap_or_else(|e| panic!("{e}"));
    write(&stream, 80, 40, 8);
    stream.describe_page_size(1);

    let log = Log::default();
    let runner = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false)).batch_size(7));
    let report = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));

    let records = stream.write(|t| t.stream().records());
    let log = entries(&log);
    assert_each_once_in_key_order(&log, &records);
    assert_eq!(report.processed, 120);
    // Lineage: every record of a parent shard was handled before any record of its children.
    let shards = stream.write(|t| t.stream().describe());
    let position = |seq: &SequenceNumber| log.iter().position(|(_, s)| s == seq).unwrap_or(usize::MAX);
    for child in shards.iter().filter(|s| s.parent_shard_id.is_some()) {
        let parent = child.parent_shard_id.as_deref().unwrap_or_default();
        let parent_last = stream
            .write(|t| t.stream().shard_records(parent).map(|r| r.iter().map(|r| position(&r.sequence_number)).max()));
        let child_first = stream.write(|t| {
            t.stream().shard_records(&child.shard_id).map(|r| r.iter().map(|r| position(&r.sequence_number)).min())
        });
        if let (Ok(Some(parent_last)), Ok(Some(child_first))) = (parent_last, child_first) {
            assert!(parent_last < child_first, "{} read before its parent {parent} was finished", child.shard_id);
        }
    }
    // The two closed shards were finished once each; the open ones were not.
    let mut finished = report.shards_finished.clone();
    finished.sort();
    let mut closed: Vec<String> =
        shards.iter().filter(|s| s.ending_sequence_number.is_some()).map(|s| s.shard_id.clone()).collect();
    closed.sort();
    assert_eq!(finished, closed);
}

#[tokio::test]
async fn expired_iterators_and_throttling_lose_nothing_and_a_restart_resumes() {
    let stream = stream();
    write(&stream, 0, 60, 6);
    stream.expire_iterators_after(Some(1));
    stream.throttle_every(Some(4));
    let checkpoints = MemoryCheckpoints::new();
    let log = Log::default();
    let runner = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false)))
        .batch_size(5)
        .checkpoints(checkpoints.clone());
    let first = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.processed, 60);

    // More writes, then a new runner on the same checkpoints: only the new records.
    write(&stream, 60, 25, 6);
    let restarted = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false)))
        .batch_size(5)
        .checkpoints(checkpoints.clone());
    let second = restarted.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.processed, 25);

    let stats = stream.stats();
    assert!(stats.expired > 0 && stats.throttled > 0, "faults were met: {stats:?}");
    assert_each_once_in_key_order(&entries(&log), &stream.write(|t| t.stream().records()));
    let last = stream.write(|t| t.stream().records().last().map(|r| r.sequence_number.clone()));
    assert_eq!(
        checkpoints.all().into_iter().map(|c| c.2).collect::<Vec<_>>(),
        vec![Checkpoint::After(last.unwrap_or_else(|| SequenceNumber::new("0")))]
    );
}

#[tokio::test]
async fn a_failing_record_is_retried_in_place_and_a_poison_record_goes_to_the_sink() {
    let stream = stream();
    write(&stream, 0, 20, 4);
    let records = stream.write(|t| t.stream().records());
    let flaky = records[5].sequence_number.clone();
    let poison = records[12].sequence_number.clone();
    let flaky_failures = Arc::new(Mutex::new(2));
    let fail = move |change: &Change<Item>| {
        let seq = change.sequence_number();
        if *seq == poison {
            return true;
        }
        let mut left = flaky_failures.lock().unwrap_or_else(|e| e.into_inner());
        if *seq == flaky && *left > 0 {
            *left -= 1;
            return true;
        }
        false
    };
    let sunk: Arc<Mutex<Vec<FailedRecord>>> = Arc::default();
    let sink = sunk.clone();
    let log = Log::default();
    let runner = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, fail)))
        .max_attempts(3)
        .on_failure_sink(move |failed| {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(failed);
            async { Ok(()) }
        });
    let report = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));

    let sunk = sunk.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(sunk.len(), 1);
    assert_eq!(sunk[0].sequence_number, records[12].sequence_number);
    assert_eq!(sunk[0].attempts, 3);
    assert_eq!(sunk[0].reason, "handler error: injected failure", "the handler's own error reaches the sink");
    assert_eq!(sunk[0].record["dynamodb"]["SequenceNumber"], records[12].sequence_number.as_str());
    assert_eq!((report.processed, report.sent_to_sink, report.failed_attempts), (19, 1, 2 + 3));
    // Everything but the poison record, once each, in stream order (one shard).
    let expected: Vec<&SequenceNumber> =
        records.iter().map(|r| &r.sequence_number).filter(|s| **s != records[12].sequence_number).collect();
    let log = entries(&log);
    assert_eq!(log.iter().map(|(_, s)| s).collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn without_a_sink_a_poison_record_stops_the_runner_before_it_and_a_restart_retries_it() {
    let stream = stream();
    write(&stream, 0, 10, 3);
    let records = stream.write(|t| t.stream().records());
    let poison = records[6].sequence_number.clone();
    let checkpoints = MemoryCheckpoints::new();
    let log = Log::default();
    let bad = poison.clone();
    let runner =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, move |c| *c.sequence_number() == bad)))
            .max_attempts(2)
            .checkpoints(checkpoints.clone());
    let error = runner.run_until_caught_up(std::future::pending()).await.err();
    match &error {
        Some(RunnerError::RecordFailed { sequence_number, attempts: 2, .. }) => assert_eq!(*sequence_number, poison),
        other => panic!("expected RecordFailed, got {other:?}"),
    }
    assert!(error.map(|e| e.to_string()).unwrap_or_default().contains(poison.as_str()));
    assert_eq!(checkpoints.all()[0].2, Checkpoint::After(records[5].sequence_number.clone()));

    // Fixed: a restart starts at the poison record and goes on.
    let restarted =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    let report = restarted.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed, 4);
    assert_each_once_in_key_order(&entries(&log), &records);
}

#[tokio::test]
async fn trimmed_records_are_reported_as_data_loss_never_hidden() {
    let stream = stream();
    write(&stream, 0, 10, 2);
    let checkpoints = MemoryCheckpoints::new();
    let log = Log::default();
    let runner =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    assert_eq!(runner.run_until_caught_up(std::future::pending()).await.map(|r| r.processed).ok(), Some(10));
    write(&stream, 10, 10, 2);
    let records = stream.write(|t| t.stream().records());
    // The runner was away too long: records 11 to 15 are past retention.
    stream.trim_through(records[14].sequence_number.clone());

    let stopping =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    match stopping.run_until_caught_up(std::future::pending()).await {
        Err(RunnerError::DataLoss(loss)) => assert_eq!(loss.after, Some(records[9].sequence_number.clone())),
        other => panic!("expected DataLoss, got {other:?}"),
    }
    assert_eq!(entries(&log).len(), 10, "nothing read past the loss while stopping");

    let going_on = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false)))
        .checkpoints(checkpoints.clone())
        .on_data_loss(OnDataLoss::Continue);
    let report = going_on.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.data_loss.len(), 1);
    assert_eq!(report.processed, 5, "records 16 to 20, the ones the stream still holds");
}

#[tokio::test]
async fn two_runners_on_one_shard_never_process_one_record_twice() {
    let stream = stream();
    write(&stream, 0, 200, 10);
    let checkpoints = MemoryCheckpoints::new();
    let (log_a, log_b) = (Log::default(), Log::default());
    let runner = |log: &Log, name: &str| {
        fast(Runner::new(stream.clone(), "Orders", logging_router(log, |_| false)))
            .batch_size(10)
            .owner(name)
            .standby(true)
            .checkpoints(checkpoints.clone())
    };
    let (a, b) = (runner(&log_a, "a"), runner(&log_b, "b"));
    let (ra, rb) =
        tokio::join!(a.run_until_caught_up(std::future::pending()), b.run_until_caught_up(std::future::pending()));
    let (ra, rb) = (ra.unwrap_or_else(|e| panic!("{e}")), rb.unwrap_or_else(|e| panic!("{e}")));
    assert!(ra.shards_lost.is_empty() && rb.shards_lost.is_empty(), "{ra:?} {rb:?}");
    let records = stream.write(|t| t.stream().records());
    let (a, b) = (entries(&log_a), entries(&log_b));
    let mut union: Vec<(String, SequenceNumber)> = a.iter().chain(&b).cloned().collect();
    union.sort_by(|x, y| x.1.cmp(&y.1));
    assert_each_once_in_key_order(&union, &records);
    assert_eq!(ra.processed + rb.processed, 200, "{ra:?} {rb:?}");
    let last = records.last().map(|r| r.sequence_number.clone()).unwrap_or_else(|| SequenceNumber::new("0"));
    assert_eq!(checkpoints.all()[0].2, Checkpoint::After(last));
    assert!(checkpoints.leases().is_empty(), "both released their leases: {:?}", checkpoints.leases());
}

/// Handler calls as (runner, sequence number, when it started).
type Calls = Arc<Mutex<Vec<(&'static str, SequenceNumber, tokio::time::Instant)>>>;

/// A router whose handler takes `each` per change, logs its calls as `name`, and wakes
/// `at.1` on the `at.0`th call of this router.
fn timed_router(calls: &Calls, name: &'static str, each: Duration, at: Option<(usize, Arc<Notify>)>) -> Router {
    let calls = calls.clone();
    let mine = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Router::new().stream("Orders", move |change: Change<Item>| {
        calls.lock().unwrap_or_else(|e| e.into_inner()).push((
            name,
            change.sequence_number().clone(),
            tokio::time::Instant::now(),
        ));
        let count = mine.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if let Some((n, notify)) = &at {
            if count == *n {
                notify.notify_one();
            }
        }
        async move {
            tokio::time::sleep(each).await;
            Ok::<(), BoxError>(())
        }
    })
}

fn calls_of(calls: &Calls, name: &str) -> Vec<(SequenceNumber, tokio::time::Instant)> {
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner());
    calls.iter().filter(|c| c.0 == name).map(|c| (c.1.clone(), c.2)).collect()
}

/// Every record handled at least once, the first handling of each key's records in stream
/// order; returns how many handlings were repeats.
fn assert_nothing_lost_in_key_order(calls: &Calls, records: &[StreamRecord]) -> usize {
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut first: Vec<&SequenceNumber> = Vec::new();
    for (_, seq, _) in &calls {
        if !first.contains(&seq) {
            first.push(seq);
        }
    }
    let by_key = |seqs: &[&SequenceNumber]| {
        let mut keys: BTreeMap<String, Vec<SequenceNumber>> = BTreeMap::new();
        for seq in seqs {
            let record =
                records.iter().find(|r| &&r.sequence_number == seq).unwrap_or_else(|| panic!("unknown {seq:?}"));
            keys.entry(format!("{:?}", record.keys)).or_default().push((*seq).clone());
        }
        keys
    };
    let expected: Vec<&SequenceNumber> = records.iter().map(|r| &r.sequence_number).collect();
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "every record handled");
    assert_eq!(by_key(&first), by_key(&expected), "each key's records first handled in stream order");
    calls.len() - first.len()
}

#[tokio::test(start_paused = true)]
async fn a_standby_takes_over_within_the_lease_once_its_owner_dies_and_never_runs_beside_it() {
    let stream = stream();
    write(&stream, 0, 300, 3);
    let checkpoints = MemoryCheckpoints::new();
    let calls = Calls::default();
    let crash = Arc::new(Notify::new());
    let lease = Duration::from_secs(3);
    let runner = |name: &'static str, at| {
        let router = timed_router(&calls, name, Duration::from_millis(10), at);
        standby(&stream, router, name, lease, checkpoints.clone())
    };
    let (a, b) = (runner("a", Some((120, crash.clone()))), runner("b", None));
    let mut b_run = std::pin::pin!(b.run_until_caught_up(std::future::pending()));
    tokio::select! {
        biased;
        () = crash.notified() => {}
        _ = a.run(std::future::pending()) => panic!("the owner's run ended by itself"),
        _ = &mut b_run => panic!("the standby finished while the owner was alive"),
    }
    // The owner died where it stood: nothing released.
    let died = tokio::time::Instant::now();
    let report = b_run.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.shards_taken_over.len(), 1, "{report:?}");
    let (a_calls, b_calls) = (calls_of(&calls, "a"), calls_of(&calls, "b"));
    let (a_last, b_first) = (a_calls.last().map(|c| c.1), b_calls.first().map(|c| c.1));
    let (Some(a_last), Some(b_first)) = (a_last, b_first) else { panic!("both ran: {a_calls:?} {b_calls:?}") };
    assert!(b_first > a_last, "the standby started only after the owner's last call");
    let took = b_first - died;
    // The owner's last renewal came at most a third of the lease before it died; the
    // standby waits a whole lease from the first look that saw it.
    assert!(took >= lease * 2 / 3, "taken over only {took:?} after the owner died: it was not given its lease");
    assert!(took <= lease + lease / 3 + Duration::from_millis(100), "taken over {took:?} after the owner died");
    let repeats = assert_nothing_lost_in_key_order(&calls, &stream.write(|t| t.stream().records()));
    assert!(repeats <= 100, "{repeats} repeats");
}

#[tokio::test(start_paused = true)]
async fn a_stopped_owner_hands_its_shard_to_the_standby_at_once() {
    let stream = stream();
    write(&stream, 0, 200, 4);
    let checkpoints = MemoryCheckpoints::new();
    let calls = Calls::default();
    let stop = Arc::new(Notify::new());
    let lease = Duration::from_secs(10);
    let runner = |name: &'static str, at| {
        let router = timed_router(&calls, name, Duration::from_millis(10), at);
        standby(&stream, router, name, lease, checkpoints.clone())
    };
    let (a, b) = (runner("a", Some((50, stop.clone()))), runner("b", None));
    let ((a_report, stopped), b_report) = tokio::join!(
        async {
            let report = a.run(stop.notified()).await;
            (report, tokio::time::Instant::now())
        },
        b.run_until_caught_up(std::future::pending())
    );
    let a_report = a_report.unwrap_or_else(|e| panic!("{e}"));
    let b_report = b_report.unwrap_or_else(|e| panic!("{e}"));
    assert!(b_report.shards_taken_over.is_empty(), "a released lease is taken, not taken over: {b_report:?}");
    assert_eq!(a_report.processed + b_report.processed, 200, "{a_report:?} {b_report:?}");
    let b_first = calls_of(&calls, "b").first().map(|c| c.1).unwrap_or_else(|| panic!("b never ran"));
    assert!(b_first - stopped < lease / 2, "the standby waited {:?}", b_first - stopped);
    assert_eq!(assert_nothing_lost_in_key_order(&calls, &stream.write(|t| t.stream().records())), 0);
}

#[tokio::test(start_paused = true)]
async fn a_runner_with_nothing_to_own_stops_with_an_error_naming_the_owner() {
    let stream = stream();
    write(&stream, 0, 20, 2);
    let checkpoints = MemoryCheckpoints::new();
    let calls = Calls::default();
    let runner = |name: &'static str| {
        fast(Runner::new(stream.clone(), "Orders", timed_router(&calls, name, Duration::ZERO, None)))
            .owner(name)
            .lease_duration(Duration::from_secs(3))
            .checkpoints(checkpoints.clone())
    };
    let (a, b) = (runner("runner-a"), runner("runner-b"));
    let started = tokio::time::Instant::now();
    let outcome = tokio::select! {
        _ = a.run(std::future::pending()) => panic!("the owner's run ended by itself"),
        outcome = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            b.run(std::future::pending()).await
        } => outcome,
    };
    match outcome {
        Err(error @ RunnerError::NothingToOwn { .. }) => {
            let text = error.to_string();
            assert!(text.contains("runner-a") && text.contains("standby"), "{text}");
        }
        other => panic!("expected NothingToOwn, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(6), "stopped after {:?}", started.elapsed());
    assert!(calls_of(&calls, "runner-b").is_empty(), "the second runner handled nothing");
}

#[tokio::test]
async fn shutdown_stops_after_the_batch_in_flight_and_a_restart_goes_on_without_loss_or_repeat() {
    let stream = stream();
    write(&stream, 0, 100, 5);
    let checkpoints = MemoryCheckpoints::new();
    let log = Log::default();
    let stop = Arc::new(Notify::new());
    let signal = stop.clone();
    let counted = log.clone();
    let router = logging_router(&log, move |_| {
        if counted.lock().unwrap_or_else(|e| e.into_inner()).len() == 30 {
            signal.notify_one();
        }
        false
    });
    let runner = fast(Runner::new(stream.clone(), "Orders", router)).batch_size(8).checkpoints(checkpoints.clone());
    let report = runner.run(stop.notified()).await.unwrap_or_else(|e| panic!("{e}"));
    let handled = entries(&log);
    assert!(handled.len() < 100 && handled.len() >= 30, "stopped early: {}", handled.len());
    assert_eq!(report.processed as usize, handled.len());
    // The checkpoint is exactly the last record handled.
    assert_eq!(checkpoints.all()[0].2, Checkpoint::After(handled[handled.len() - 1].1.clone()));

    let restarted =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    restarted.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_each_once_in_key_order(&entries(&log), &stream.write(|t| t.stream().records()));
}

#[tokio::test]
async fn latest_skips_what_was_there_and_reads_what_comes() {
    let stream = stream();
    write(&stream, 0, 10, 2);
    let log = Log::default();
    let runner =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).start_at(StartPosition::Latest);
    let writer = stream.clone();
    let stop = Arc::new(Notify::new());
    let done = stop.clone();
    let observed = log.clone();
    let (report, ()) = tokio::join!(runner.run(stop.notified()), async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        write(&writer, 10, 5, 2);
        while observed.lock().unwrap_or_else(|e| e.into_inner()).len() < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        done.notify_one();
    });
    assert_eq!(report.map(|r| r.processed).ok(), Some(5));
    let records = stream.write(|t| t.stream().records());
    assert_eq!(
        entries(&log).into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
        records[10..].iter().map(|r| r.sequence_number.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn bootstrap_replica_equals_the_table_after_writes_during_the_scan() {
    let stream = stream();
    write(&stream, 0, 50, 50);
    let replica: Arc<Mutex<BTreeMap<String, Item>>> = Arc::default();
    let applied = replica.clone();
    let router = Router::new().stream("Orders", move |change: Change<Item>| {
        let mut replica = applied.lock().unwrap_or_else(|e| e.into_inner());
        match change.new_image() {
            Some(new) => replica.insert(pk(&change.keys), new.clone()),
            None => replica.remove(&pk(&change.keys)),
        };
        async { Ok::<(), BoxError>(()) }
    });
    let runner = fast(Runner::new(stream.clone(), "Orders", router)).bookmark_refresh(Duration::from_millis(2));
    let scanned = replica.clone();
    let writer = stream.clone();
    // The scan copies the table in chunks while other writes land between the chunks.
    let scan = async move {
        let mut copied = 0;
        for chunk in 0..10u32 {
            let items = writer.write(|t| t.items());
            for item in
                items.iter().filter(|i| pk(i).trim_start_matches('k').parse::<u32>().is_ok_and(|n| n % 10 == chunk))
            {
                scanned.lock().unwrap_or_else(|e| e.into_inner()).insert(pk(item), item.clone());
                copied += 1;
            }
            writer.write(|t| {
                let _ = t.put(item(&format!("k{}", chunk * 3), 1_000 + chunk));
                let _ = t.delete(key(&format!("k{}", 49 - chunk)));
                let _ = t.put(item(&format!("new{chunk}"), chunk));
            });
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        Ok::<u32, BoxError>(copied)
    };
    let bootstrapped = runner.bootstrap(scan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(bootstrapped.scanned > 0);
    bootstrapped.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    let table: BTreeMap<String, Item> = stream.write(|t| t.items()).into_iter().map(|i| (pk(&i), i)).collect();
    assert_eq!(*replica.lock().unwrap_or_else(|e| e.into_inner()), table);
}

#[tokio::test]
async fn a_stream_the_router_does_not_route_stops_the_runner_and_nothing_goes_to_the_sink() {
    let stream = stream();
    write(&stream, 0, 5, 2);
    let checkpoints = MemoryCheckpoints::new();
    let sunk: Arc<Mutex<Vec<FailedRecord>>> = Arc::default();
    let sink = sunk.clone();
    let elsewhere = Router::new().stream("Customers", |_: Change<Item>| async { Ok::<(), BoxError>(()) });
    let runner = fast(Runner::new(stream.clone(), "Orders", elsewhere))
        .max_attempts(1)
        .checkpoints(checkpoints.clone())
        .on_failure_sink(move |failed| {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(failed);
            async { Ok(()) }
        });
    match runner.run_until_caught_up(std::future::pending()).await {
        Err(RunnerError::Router(error)) => assert!(error.to_string().contains("Orders"), "{error}"),
        other => panic!("expected a router error, got {other:?}"),
    }
    assert!(sunk.lock().unwrap_or_else(|e| e.into_inner()).is_empty(), "a setup error is not a record failure");
    assert!(checkpoints.all().is_empty(), "nothing acknowledged");
}

#[tokio::test]
async fn a_latest_start_whose_first_record_fails_is_resumed_at_that_record() {
    let stream = stream();
    write(&stream, 0, 3, 3);
    let checkpoints = MemoryCheckpoints::new();
    let log = Log::default();
    let stop = Arc::new(Notify::new());
    let (writer, done) = (stream.clone(), stop.clone());
    // Only new writes are read; the first of them fails every attempt and stops the runner.
    let runner = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |c| pk(&c.keys) == "k0")))
        .start_at(StartPosition::Latest)
        .max_attempts(2)
        .checkpoints(checkpoints.clone());
    let (result, ()) = tokio::join!(runner.run(stop.notified()), async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        write(&writer, 3, 3, 3); // k0, k1, k2
        tokio::time::sleep(Duration::from_millis(200)).await;
        done.notify_one();
    });
    assert!(matches!(result, Err(RunnerError::RecordFailed { .. })), "{result:?}");
    let records = stream.write(|t| t.stream().records());
    assert_eq!(checkpoints.all()[0].2, Checkpoint::At(records[3].sequence_number.clone()));

    // The restart (fixed handler) starts at that record, not at a new LATEST.
    let restarted =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    let report = restarted.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed, 3);
    let handled: Vec<SequenceNumber> = entries(&log).into_iter().map(|(_, s)| s).collect();
    assert_eq!(handled, records[3..].iter().map(|r| r.sequence_number.clone()).collect::<Vec<_>>());
}

/// A crash in the middle of a long catch-up repeats at most `checkpoint_every` records
/// (default 100, Lambda's batch): every router batch is checkpointed. Before, a page of
/// 1,000 records was one batch, and a crash inside it redid all of it.
#[tokio::test]
async fn a_crash_mid_catch_up_repeats_at_most_one_checkpointed_batch() {
    let stream = stream();
    write(&stream, 0, 1_000, 1_000);
    let calls: Arc<Mutex<Vec<SequenceNumber>>> = Arc::default();
    let crash_at = Arc::new(Notify::new());
    let router = |calls: &Arc<Mutex<Vec<SequenceNumber>>>, crash: Option<Arc<Notify>>| {
        let calls = calls.clone();
        Router::new().stream("Orders", move |change: Change<Item>| {
            let mut seen = calls.lock().unwrap_or_else(|e| e.into_inner());
            seen.push(change.sequence_number().clone());
            if seen.len() == 250 {
                if let Some(crash) = &crash {
                    crash.notify_one();
                }
            }
            std::future::ready(Ok::<(), BoxError>(()))
        })
    };
    let checkpoints = MemoryCheckpoints::new();
    let first = fast(Runner::new(stream.clone(), "Orders", router(&calls, Some(crash_at.clone()))))
        .checkpoints(checkpoints.clone());
    // The crash: the run is dropped where it stands once 250 changes were handled.
    tokio::select! {
        _ = first.run(std::future::pending()) => panic!("the first run ended by itself"),
        () = crash_at.notified() => {}
    }
    let second = fast(Runner::new(stream.clone(), "Orders", router(&calls, None))).checkpoints(checkpoints);
    let report = second.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let distinct: std::collections::HashSet<_> = calls.iter().cloned().collect();
    assert_eq!(distinct.len(), 1_000, "nothing lost");
    let repeated = calls.len() - distinct.len();
    assert!(repeated <= 100, "{repeated} changes handled twice");
    assert!(report.processed < 1_000 && report.processed % 100 == 0, "resumed from a checkpointed batch: {report:?}");
}

/// A store that refuses every lease write of `owner` once `cut` is set: that owner is cut
/// off from the store for its renewals, as by a network partition.
#[derive(Clone)]
struct CutOff {
    inner: MemoryCheckpoints,
    cut: Arc<std::sync::atomic::AtomicBool>,
    owner: &'static str,
}

impl CutOff {
    fn refuses(&self, owner: &str) -> bool {
        self.cut.load(std::sync::atomic::Ordering::SeqCst) && owner == self.owner
    }
}

impl CheckpointStore for CutOff {
    async fn load(&self, arn: &str, shard: &str) -> Result<ShardEntry, CheckpointError> {
        self.inner.load(arn, shard).await
    }
    async fn save(&self, arn: &str, shard: &str, save: Save<'_>) -> Result<(), CheckpointError> {
        self.inner.save(arn, shard, save).await
    }
    async fn lease(
        &self,
        arn: &str,
        shard: &str,
        expected: Option<&Lease>,
        next: &Lease,
    ) -> Result<(), CheckpointError> {
        if self.refuses(&next.owner) {
            return Err(CheckpointError::Store("cut off".into()));
        }
        self.inner.lease(arn, shard, expected, next).await
    }
    async fn release(&self, arn: &str, shard: &str, held: &Lease) -> Result<(), CheckpointError> {
        if self.refuses(&held.owner) {
            return Err(CheckpointError::Store("cut off".into()));
        }
        self.inner.release(arn, shard, held).await
    }
}

#[tokio::test(start_paused = true)]
async fn an_owner_that_cannot_renew_stops_starting_records_before_a_standby_can_take_over() {
    let stream = stream();
    write(&stream, 0, 400, 4);
    let store = CutOff { inner: MemoryCheckpoints::new(), cut: Arc::default(), owner: "a" };
    let calls = Calls::default();
    let cut_now = Arc::new(Notify::new());
    // One 400-record batch of 4 s: the owner must stop within it.
    let runner = |name: &'static str, at| {
        let router = timed_router(&calls, name, Duration::from_millis(10), at);
        standby(&stream, router, name, Duration::from_secs(3), store.clone()).checkpoint_every(400)
    };
    let (a, b) = (runner("a", Some((50, cut_now.clone()))), runner("b", None));
    let cut = store.cut.clone();
    let b_report = tokio::select! {
        _ = a.run(std::future::pending()) => panic!("the owner's run ended by itself"),
        report = async {
            cut_now.notified().await;
            cut.store(true, std::sync::atomic::Ordering::SeqCst);
            b.run_until_caught_up(std::future::pending()).await
        } => report.unwrap_or_else(|e| panic!("{e}")),
    };
    assert_eq!(b_report.shards_taken_over.len(), 1, "{b_report:?}");
    let (a_calls, b_calls) = (calls_of(&calls, "a"), calls_of(&calls, "b"));
    let a_last = a_calls.last().map(|c| c.1).unwrap_or_else(|| panic!("a never ran"));
    let b_first = b_calls.first().map(|c| c.1).unwrap_or_else(|| panic!("b never ran"));
    assert!(a_last < b_first, "the cut-off owner started a record after the standby took over");
    assert!(a_calls.len() < 400, "the cut-off owner stopped: {} calls", a_calls.len());
    // What the owner finished before its lease lapsed was checkpointed: nothing repeats.
    assert_eq!(assert_nothing_lost_in_key_order(&calls, &stream.write(|t| t.stream().records())), 0);
}

#[tokio::test(start_paused = true)]
async fn a_slow_batch_is_checkpointed_on_a_timer_so_a_crash_repeats_little() {
    let stream = stream();
    write(&stream, 0, 60, 3);
    let checkpoints = MemoryCheckpoints::new();
    let calls = Calls::default();
    let crash = Arc::new(Notify::new());
    let runner = |at| {
        fast(Runner::new(stream.clone(), "Orders", timed_router(&calls, "r", Duration::from_secs(1), at)))
            .owner("same-name")
            .checkpoint_interval(Duration::from_millis(4_500))
            .checkpoints(checkpoints.clone())
    };
    let first = runner(Some((23, crash.clone())));
    tokio::select! {
        _ = first.run(std::future::pending()) => panic!("the first run ended by itself"),
        () = crash.notified() => {}
    }
    let records = stream.write(|t| t.stream().records());
    // Ticks every 4.5 s of 1 s records: the fourth tick (18 s) checkpointed about 17
    // records, all within the one 60-record batch.
    let stored = checkpoints.all()[0].2.clone();
    let at = records.iter().position(|r| stored == Checkpoint::After(r.sequence_number.clone()));
    assert!(at.is_some_and(|at| (15..=18).contains(&at)), "checkpoint {stored:?} at {at:?}");
    // Restarted under the same name, it takes its lease back at once.
    let restarted = tokio::time::Instant::now();
    let report = runner(None).run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.processed as usize, 60 - at.unwrap_or_default() - 1, "from the checkpoint on");
    let resumed = calls_of(&calls, "r")[23].1; // the first call of the restart
    assert!(resumed - restarted < Duration::from_millis(100), "resumed after {:?}", resumed - restarted);
    let repeats = assert_nothing_lost_in_key_order(&calls, &records);
    assert!(
        repeats <= 6,
        "{repeats} repeats: at most 4.5 s of work and the record in flight; at {at:?}, {} calls",
        calls.lock().map(|c| c.len()).unwrap_or(0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_starts_nothing_more_and_abandons_what_outlives_the_shutdown_timeout() {
    let stream = stream();
    write(&stream, 0, 10, 10);
    let checkpoints = MemoryCheckpoints::new();
    let records = stream.write(|t| t.stream().records());
    let third = records[2].sequence_number.clone();
    let calls = Calls::default();
    let stop = Arc::new(Notify::new());
    let (log, signal) = (calls.clone(), stop.clone());
    let hanging = Router::new().stream("Orders", move |change: Change<Item>| {
        let hang = change.sequence_number() == &third;
        log.lock().unwrap_or_else(|e| e.into_inner()).push((
            "r",
            change.sequence_number().clone(),
            tokio::time::Instant::now(),
        ));
        if hang {
            signal.notify_one();
        }
        async move {
            if hang {
                tokio::time::sleep(Duration::from_secs(3_600)).await;
            }
            Ok::<(), BoxError>(())
        }
    });
    let runner = fast(Runner::new(stream.clone(), "Orders", hanging))
        .shutdown_timeout(Duration::from_secs(2))
        .checkpoints(checkpoints.clone());
    let report = runner.run(stop.notified()).await.unwrap_or_else(|e| panic!("{e}"));
    let calls_then = calls_of(&calls, "r");
    assert_eq!(calls_then.len(), 3, "nothing started after the stop");
    let took = tokio::time::Instant::now() - calls_then[2].1;
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(3), "returned {took:?} after the stop");
    assert_eq!(report.processed, 2);
    assert_eq!(report.failed_attempts, 0, "records stopped or abandoned are no failed attempts");
    assert_eq!(checkpoints.all()[0].2, Checkpoint::After(records[1].sequence_number.clone()));
    // The abandoned record may still be running: the lease is left to lapse, not released.
    assert_eq!(checkpoints.leases().len(), 1, "the lease is kept");
    let log = Log::default();
    let again = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints);
    assert_eq!(again.run_until_caught_up(std::future::pending()).await.map(|r| r.processed).ok(), Some(8));
}

#[tokio::test]
async fn the_runner_reports_its_shards_and_lag_and_emits_them_as_metrics() {
    let stream = stream();
    write(&stream, 0, 30, 3);
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let router = logging_router(&Log::default(), |_| false)
        .metrics_to("Shop", move |line| sink.lock().unwrap_or_else(|e| e.into_inner()).push(line.to_owned()));
    let runner = fast(Runner::new(stream.clone(), "Orders", router));
    let report = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.owned_shards.len(), 1, "{report:?}");
    let shard = report.owned_shards[0].clone();
    assert!(report.lag_ms.contains_key(&shard), "{report:?}");
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let health: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.contains("RunnerOwnedShards"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = health.last().unwrap_or_else(|| panic!("no runner metrics in {lines:?}"));
    assert_eq!(last["RunnerOwnedShards"], 1);
    let processed: u64 = health.iter().filter_map(|l| l["RunnerProcessed"].as_u64()).sum();
    assert_eq!(processed, 30);
    assert_eq!(last["table"], "Orders");
    assert!(last["RunnerLag"].is_u64(), "{last}");
    assert_eq!(last["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
}

#[tokio::test]
async fn a_stream_enabled_again_is_followed_after_the_old_one_is_read_to_its_end() {
    let stream = stream();
    write(&stream, 0, 10, 3);
    let log = Log::default();
    let checkpoints = MemoryCheckpoints::new();
    let runner =
        fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false))).checkpoints(checkpoints.clone());
    let first = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.processed, 10);
    write(&stream, 10, 5, 3);
    // Disabled and enabled again: five writes stay in the old stream, ten go to the new one.
    stream.reenable_stream("2026-11-29T12:00:00.000");
    write(&stream, 15, 10, 3);
    let new_records = stream.write(|t| t.stream().records());
    let new_arn = stream.write(|t| t.stream().arn().to_owned());
    let report = runner.run_until_caught_up(std::future::pending()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.streams_followed, vec![new_arn]);
    assert_eq!(report.processed, 15, "{report:?}");
    let handled = entries(&log);
    assert_eq!(handled.len(), 25, "each write once");
    // The old stream's records (all of them, read to the end) come before the new one's.
    let old_tail = &handled[10..15];
    assert!(old_tail.iter().all(|(_, seq)| !new_records.iter().any(|r| &r.sequence_number == seq)), "{handled:?}");
    let new: Vec<&SequenceNumber> = handled[15..].iter().map(|(_, seq)| seq).collect();
    let expected: Vec<&SequenceNumber> = new_records.iter().map(|r| &r.sequence_number).collect();
    assert_eq!(new, expected, "the new stream from its start, in order");
}

#[tokio::test]
async fn a_running_runner_notices_its_stream_enabled_again_and_loses_nothing() {
    let stream = stream();
    write(&stream, 0, 10, 3);
    let log = Log::default();
    // It looks for new shards and streams at every round.
    let runner = fast(Runner::new(stream.clone(), "Orders", logging_router(&log, |_| false)))
        .rediscover_every(Duration::from_millis(1));
    let stop = Arc::new(Notify::new());
    let (writer, observed, done) = (stream.clone(), log.clone(), stop.clone());
    let (report, ()) = tokio::join!(runner.run(stop.notified()), async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        write(&writer, 10, 5, 3);
        writer.reenable_stream("2026-11-29T12:00:00.000");
        write(&writer, 15, 5, 3);
        for _ in 0..400 {
            if observed.lock().unwrap_or_else(|e| e.into_inner()).len() >= 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        done.notify_one();
    });
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.streams_followed.len(), 1, "{report:?}");
    assert_eq!(report.processed, 20, "{report:?}");
    let handled = entries(&log);
    let new_records = stream.write(|t| t.stream().records());
    let new: Vec<&SequenceNumber> = handled[15..].iter().map(|(_, seq)| seq).collect();
    let expected: Vec<&SequenceNumber> = new_records.iter().map(|r| &r.sequence_number).collect();
    assert_eq!(new, expected, "the old stream first, then the new one from its start");
}

#[tokio::test(start_paused = true)]
async fn a_record_still_running_when_the_lease_lapses_is_abandoned_before_a_standby_starts() {
    let stream = stream();
    write(&stream, 0, 40, 4);
    let records = stream.write(|t| t.stream().records());
    let slow = records[20].sequence_number.clone();
    let store = CutOff { inner: MemoryCheckpoints::new(), cut: Arc::default(), owner: "a" };
    let calls = Calls::default();
    let slow_finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_ended: Arc<Mutex<Option<tokio::time::Instant>>> = Arc::default();
    struct Ended(Arc<Mutex<Option<tokio::time::Instant>>>);
    impl Drop for Ended {
        fn drop(&mut self) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokio::time::Instant::now());
        }
    }
    let router = |name: &'static str| {
        let (calls, slow, cut, finished) = (calls.clone(), slow.clone(), store.cut.clone(), slow_finished.clone());
        let slow_ended = slow_ended.clone();
        Router::new().stream("Orders", move |change: Change<Item>| {
            let seq = change.sequence_number().clone();
            calls.lock().unwrap_or_else(|e| e.into_inner()).push((name, seq.clone(), tokio::time::Instant::now()));
            let is_slow = name == "a" && seq == slow;
            if is_slow {
                // The owner's renewals fail from here on, while this record runs for a minute.
                cut.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let (finished, ended) = (finished.clone(), slow_ended.clone());
            async move {
                // When the slow record's work ends, however it ends.
                let _ended = is_slow.then(|| Ended(ended));
                tokio::time::sleep(if is_slow { Duration::from_secs(60) } else { Duration::from_millis(10) }).await;
                if is_slow {
                    finished.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Ok::<(), BoxError>(())
            }
        })
    };
    let runner = |name: &'static str| standby(&stream, router(name), name, Duration::from_secs(3), store.clone());
    let (a, b) = (runner("a"), runner("b"));
    let b_report = tokio::select! {
        _ = a.run(std::future::pending()) => panic!("the owner's run ended by itself"),
        report = async {
            // The standby comes once the owner holds the shard.
            tokio::time::sleep(Duration::from_millis(100)).await;
            b.run_until_caught_up(std::future::pending()).await
        } => report.unwrap_or_else(|e| panic!("{e}")),
    };
    assert_eq!(b_report.shards_taken_over.len(), 1, "{b_report:?}");
    assert!(!slow_finished.load(std::sync::atomic::Ordering::SeqCst), "the owner's slow record was abandoned");
    let b_first = calls_of(&calls, "b").first().cloned().unwrap_or_else(|| panic!("b never ran"));
    assert_eq!(b_first.0, slow, "the standby starts at the abandoned record");
    let ended = slow_ended.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| panic!("still running"));
    assert!(ended < b_first.1, "the owner's slow record was abandoned before the standby started");
    assert_eq!(assert_nothing_lost_in_key_order(&calls, &records), 1, "only the abandoned record runs twice");
}

/// `GetRecords` calls that bring records ask the runner to stop while they are in flight
/// (as a SIGTERM during the call), then answer with their records.
struct StopsDuringGetRecords(Arc<Notify>);

impl workspace_tests::StreamHook for StopsDuringGetRecords {
    async fn records(
        &self,
        inner: &LiveStream,
        stream_arn: &str,
        iterator: &str,
        limit: usize,
    ) -> Result<ddbstream::runner::RecordsPage, ddbstream::runner::SourceError> {
        use ddbstream::runner::StreamSource;
        let page = inner.records(stream_arn, iterator, limit).await?;
        if !page.records.is_empty() {
            // The stop comes while the call that brings records is in flight.
            self.0.notify_one();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(page)
    }
}

/// README: "From a stop request no record starts": not even the first record of a page whose
/// read was in flight when the stop came. (Before, the router's call was polled before the
/// stop, and its first record could start on the handler runtime before the stop was seen:
/// a race, so the scenario runs many times.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_get_records_call_starts_no_record_of_its_page() {
    for round in 0..100 {
        let stream = stream();
        write(&stream, 0, 5, 5);
        let log = Log::default();
        let stop = Arc::new(Notify::new());
        let source = workspace_tests::Hooked { inner: stream.clone(), hook: StopsDuringGetRecords(stop.clone()) };
        let runner = fast(Runner::new(source, "Orders", logging_router(&log, |_| false)));
        let report = tokio::time::timeout(Duration::from_secs(10), runner.run(async move { stop.notified().await }))
            .await
            .unwrap_or_else(|_| panic!("the runner did not stop"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries(&log), Vec::new(), "round {round}: a record started after the stop");
        assert_eq!((report.processed, report.abandoned), (0, 0), "round {round}");
    }
}

/// A stop that outlasts the shutdown timeout abandons the record in flight, and the report
/// says so (the example runner then exits non-zero).
#[tokio::test]
async fn a_stop_that_abandons_a_record_is_counted_in_the_report() {
    let stream = stream();
    write(&stream, 0, 3, 3);
    let started = Arc::new(Notify::new());
    let router = {
        let started = started.clone();
        Router::new().stream("Orders", move |_: Change<Item>| {
            let started = started.clone();
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok::<(), BoxError>(())
            }
        })
    };
    let runner = fast(Runner::new(stream.clone(), "Orders", router)).shutdown_timeout(Duration::from_millis(100));
    let report = tokio::time::timeout(Duration::from_secs(10), runner.run(async move { started.notified().await }))
        .await
        .unwrap_or_else(|_| panic!("the runner did not stop"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.processed, report.abandoned), (0, 1), "{report:?}");
}
