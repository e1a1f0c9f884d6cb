//! Lambda's event source mapping, simulated over one shard.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;

use super::mapping::Delivery;
use super::mapping::EventSourceMapping;
use super::trace::{
    Attempt, ClosedWindow, FailureCondition, InvocationReport, InvocationResult, OnFailureRecord, Trace,
};
use crate::payload::SequenceNumber;
use crate::router::Router;
use crate::testing::event::{
    batch_len, kinesis_event_numbered, kinesis_sequence_number, kinesis_stream_arn, lambda_event, pipes_event,
};
use crate::testing::item::key_text;
use crate::testing::window_event::{window_event, WindowInvocation};
use crate::testing::{StreamRecord, CLOCK_START};
use lambda_runtime::Context;

/// Drives a [`Router`] over a shard's records the way Lambda's event source mapping does.
///
/// The model, from Lambda's documentation:
/// - batches of up to `batch_size` records and 6 MB, from the checkpoint;
/// - an empty `batchItemFailures` acknowledges the batch; otherwise Lambda checkpoints at the
///   lowest reported sequence number and retries from there; a null, empty or unknown
///   identifier fails the whole batch;
/// - a function error or timeout fails the whole batch; with `BisectBatchOnFunctionError`
///   the batch is split in half and the halves retried, which does not count as a retry;
/// - a batch that fails more than `MaximumRetryAttempts` times in a row at the same
///   checkpoint is discarded: the records from the checkpoint to the end of the last
///   invocation's batch go to the on-failure destination (as metadata);
/// - records older than `MaximumRecordAgeInSeconds` are discarded before invoking. A
///   record's age runs from its own creation to its delivery, on a virtual clock that moves
///   `seconds_per_invocation` per invocation and never stands before the creation of the
///   record it delivers (a mapping that keeps up); with `backlog` the clock starts at the
///   newest record (a mapping started late);
/// - an invocation that runs past the function timeout, in tokio's time or the system's
///   (a handler that blocks its thread), is a timeout, whatever it answered;
/// - with `ParallelizationFactor` n, records are spread over n lanes by item key, each lane
///   a checkpointed sequence of its own; lanes take turns;
/// - with `TumblingWindowInSeconds`, a batch holds one window's records, each invocation
///   carries the state the function last answered for that window (the state it started
///   with after a function error), an answer without `state` fails the invocation, and
///   after a window's records are acknowledged a final invocation without records closes
///   it, retried until it succeeds.
pub struct Simulator<'r> {
    router: &'r Router,
    mapping: EventSourceMapping,
    shard_id: String,
    records: Vec<StreamRecord>,
    lanes: Vec<Lane>,
    next_lane: usize,
    clock: u64,
    trace: Trace,
    on_failure: Vec<OnFailureRecord>,
}

#[derive(Default)]
struct Lane {
    members: Vec<usize>,
    checkpoint: usize,
    failed_attempts: u32,
    invokes_at_checkpoint: usize,
    /// After a bisect: the batch length to use until the checkpoint reaches the end.
    window: Option<(usize, usize)>,
    /// The tumbling window open on this lane, with its state.
    open: Option<WindowInvocation>,
}

impl Lane {
    fn advance(&mut self, by: usize) {
        self.checkpoint += by;
        if by > 0 {
            self.failed_attempts = 0;
            self.invokes_at_checkpoint = 0;
        }
        if self.window.is_some_and(|(_, until)| self.checkpoint >= until) {
            self.window = None;
        }
    }
}

impl<'r> Simulator<'r> {
    /// A simulator over the records of one shard, in sequence order.
    pub fn new(router: &'r Router, mapping: EventSourceMapping, shard_id: &str, records: Vec<StreamRecord>) -> Self {
        let factor = mapping.parallelization_factor.clamp(1, 10);
        let mut lanes: Vec<Lane> = (0..factor).map(|_| Lane::default()).collect();
        for (index, record) in records.iter().enumerate() {
            let mut hasher = DefaultHasher::new();
            key_text(&record.keys).hash(&mut hasher);
            let lane = usize::try_from(hasher.finish() % factor as u64).unwrap_or(0);
            lanes[lane].members.push(index);
        }
        let creation = records.iter().map(|r| r.approximate_creation_time);
        let clock = if mapping.backlog { creation.max() } else { creation.min() }.unwrap_or(CLOCK_START);
        Self {
            router,
            mapping,
            shard_id: shard_id.to_owned(),
            records,
            lanes,
            next_lane: 0,
            clock,
            trace: Trace::default(),
            on_failure: Vec::new(),
        }
    }

    /// Whether every record has been acknowledged or discarded.
    pub fn is_done(&self) -> bool {
        self.lanes.iter().all(|lane| lane.checkpoint >= lane.members.len() && lane.open.is_none())
    }

    /// Runs one invocation; `None` when there is nothing left to do (or the invocation bound
    /// was reached).
    pub async fn step(&mut self) -> Option<InvocationReport> {
        loop {
            if self.trace.invocations.len() >= self.mapping.max_invocations {
                return None;
            }
            let lane = self.pick_lane()?;
            if self.discard_expired(lane) {
                continue;
            }
            return Some(self.invoke_lane(lane).await);
        }
    }

    /// Runs until every record is acknowledged or discarded (or the invocation bound).
    pub async fn run(&mut self) -> &Trace {
        while self.step().await.is_some() {}
        &self.trace
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// What the on-failure destination received.
    pub fn on_failure(&self) -> &[OnFailureRecord] {
        &self.on_failure
    }

    fn pick_lane(&mut self) -> Option<usize> {
        let count = self.lanes.len();
        let lane = (0..count).map(|i| (self.next_lane + i) % count).find(|&l| {
            let lane = &self.lanes[l];
            lane.checkpoint < lane.members.len() || lane.open.is_some()
        })?;
        self.next_lane = (lane + 1) % count;
        Some(lane)
    }

    /// Discards the records at the head of a lane that are older than the maximum age.
    fn discard_expired(&mut self, lane: usize) -> bool {
        let state = &self.lanes[lane];
        // The mapping delivers a record no earlier than its creation.
        if let Some(&head) = state.members.get(state.checkpoint) {
            self.clock = self.clock.max(self.records[head].approximate_creation_time);
        }
        let Some(max_age) = self.mapping.maximum_record_age else { return false };
        let expired = state.members[state.checkpoint..]
            .iter()
            .take_while(|&&i| self.clock.saturating_sub(self.records[i].approximate_creation_time) > max_age.as_secs())
            .count();
        if expired == 0 {
            return false;
        }
        let start = state.checkpoint;
        self.discard(lane, start, start + expired, FailureCondition::RecordAgeExceeded);
        true
    }

    fn discard(&mut self, lane: usize, from: usize, to: usize, condition: FailureCondition) {
        let state = &self.lanes[lane];
        let members: Vec<usize> = state.members[from..to].to_vec();
        let invokes = state.invokes_at_checkpoint;
        for &i in &members {
            self.trace.discarded.insert(self.records[i].sequence_number.clone(), condition);
        }
        if let (Some(&first), Some(&last)) = (members.first(), members.last()) {
            self.on_failure.push(OnFailureRecord {
                condition,
                approximate_invoke_count: invokes,
                shard_id: self.shard_id.clone(),
                start_sequence_number: self.records[first].sequence_number.clone(),
                end_sequence_number: self.records[last].sequence_number.clone(),
                batch_size: members.len(),
                stream_arn: self.records[first].stream_arn.clone(),
            });
        }
        let advanced = to - self.lanes[lane].checkpoint;
        self.lanes[lane].advance(advanced);
    }

    /// The tumbling window's length, when the mapping has windows and its delivery can.
    fn tumbling(&self) -> Option<u64> {
        let seconds = self.mapping.tumbling_window.filter(|_| self.mapping.delivery != Delivery::Pipes)?;
        Some(seconds.as_secs().max(1))
    }

    /// With windows: the lane's open window when its records are all acknowledged (it is
    /// closed next); otherwise opens the window of the lane's next record if none is open.
    fn window_to_close(&mut self, lane: usize) -> Option<WindowInvocation> {
        let seconds = self.tumbling()?;
        let head = self.lanes[lane].members.get(self.lanes[lane].checkpoint).map(|&i| &self.records[i]);
        let head_time = head.map(|record| record.approximate_creation_time);
        match (&self.lanes[lane].open, head_time) {
            (Some(open), Some(at)) if open.holds(at) => None,
            (Some(open), _) => Some(open.clone()),
            (None, Some(at)) => {
                let source = match (self.mapping.delivery, head) {
                    (Delivery::Kinesis, Some(record)) => kinesis_stream_arn(record),
                    (_, Some(record)) => record.stream_arn.clone(),
                    (_, None) => String::new(),
                };
                self.lanes[lane].open = Some(WindowInvocation::holding(at, seconds, &self.shard_id, &source));
                None
            }
            (None, None) => None,
        }
    }

    async fn close_window(&mut self, lane: usize, window: WindowInvocation) -> InvocationReport {
        let number = self.trace.invocations.len() + 1;
        let (result, state) = self.invoke(number, &[], &[], Some(&window.clone().last())).await;
        self.clock += self.mapping.seconds_per_invocation;
        if result == InvocationResult::Success {
            let state = state.unwrap_or_default();
            self.trace.windows.push(ClosedWindow { lane, start: window.start, state, invocation: number });
            self.lanes[lane].open = None;
        }
        let report = InvocationReport { number, lane, batch: Vec::new(), result };
        self.trace.invocations.push(report.clone());
        report
    }

    async fn invoke_lane(&mut self, lane: usize) -> InvocationReport {
        if let Some(window) = self.window_to_close(lane) {
            return self.close_window(lane, window).await;
        }
        let state = &self.lanes[lane];
        let start = state.checkpoint;
        // Only the first `batch_size` records can go into this batch: copy no more. Their
        // places in the shard are their arrival numbers (through Kinesis).
        let mut arrivals: Vec<usize> =
            state.members[start..].iter().take(self.mapping.batch_size.max(1)).copied().collect();
        let mut pending: Vec<StreamRecord> = arrivals.iter().map(|&i| self.records[i].clone()).collect();
        let mut len = batch_len(&pending, self.mapping.batch_size);
        if let Some((window, until)) = state.window {
            len = len.min(window).min(until - start).max(1);
        }
        let open = state.open.clone();
        if let Some(open) = &open {
            // A batch never crosses a window.
            len = len.min(pending.iter().take_while(|r| open.holds(r.approximate_creation_time)).count()).max(1);
        }
        let number = self.trace.invocations.len() + 1;
        // AWS (tumbling windows): "Records are always processed in order the first time. If
        // records are processed more than once, they may be processed out of order." A
        // window's retried batch is sent in reverse, then put back in stream order.
        let reversed = open.is_some() && self.lanes[lane].invokes_at_checkpoint > 0;
        if reversed {
            pending[..len].reverse();
            arrivals[..len].reverse();
        }
        let (result, answered) = self.invoke(number, &pending[..len], &arrivals[..len], open.as_ref()).await;
        let sent: Vec<SequenceNumber> = pending[..len].iter().map(|r| r.sequence_number.clone()).collect();
        if reversed {
            pending[..len].reverse();
        }
        let batch = &pending[..len];
        self.clock += self.mapping.seconds_per_invocation;
        if let (Some(open), Some(state)) = (self.lanes[lane].open.as_mut(), answered) {
            open.state = state;
        }

        let acknowledged = match &result {
            InvocationResult::Success => len,
            InvocationResult::Partial(lowest) => batch.iter().position(|r| r.sequence_number == *lowest).unwrap_or(0),
            _ => 0,
        };
        for (offset, record) in batch.iter().enumerate() {
            let attempt = Attempt { invocation: number, acknowledged: offset < acknowledged };
            self.trace.attempts.entry(record.sequence_number.clone()).or_default().push(attempt);
        }
        self.lanes[lane].advance(acknowledged);
        if acknowledged < len {
            // This invocation is the first (or another) failed one at the new checkpoint.
            self.lanes[lane].invokes_at_checkpoint += 1;
            self.after_failure(lane, &result, len - acknowledged);
        }
        let report = InvocationReport { number, lane, batch: sent, result };
        self.trace.invocations.push(report.clone());
        report
    }

    /// After an invocation that left `remaining` records of its batch unacknowledged.
    fn after_failure(&mut self, lane: usize, result: &InvocationResult, remaining: usize) {
        let function_error = matches!(result, InvocationResult::FunctionError(_) | InvocationResult::Timeout);
        let state = &mut self.lanes[lane];
        if function_error && self.mapping.bisect_batch_on_function_error && remaining > 1 {
            let until = state.window.map_or(state.checkpoint + remaining, |(_, until)| until);
            state.window = Some((remaining.div_ceil(2), until));
            return;
        }
        state.failed_attempts += 1;
        if self.mapping.maximum_retry_attempts.is_some_and(|max| state.failed_attempts > max) {
            let from = state.checkpoint;
            self.discard(lane, from, from + remaining, FailureCondition::RetryAttemptsExhausted);
        }
    }

    /// Invokes the function with `batch`, the records at `arrivals` in the shard (in
    /// `window`, if any): how it ended, and for a window the state it answered with (`None`
    /// when the invocation failed).
    async fn invoke(
        &self,
        number: usize,
        batch: &[StreamRecord],
        arrivals: &[usize],
        window: Option<&WindowInvocation>,
    ) -> (InvocationResult, Option<serde_json::Value>) {
        let mut payload = match self.mapping.delivery {
            Delivery::StreamEvent => lambda_event(batch),
            Delivery::Pipes => pipes_event(batch),
            Delivery::Kinesis => kinesis_event_numbered(arrivals.iter().copied().zip(batch)),
        };
        if let Some(window) = window {
            payload = window_event(&payload, window);
        }
        let mut context = Context::default();
        context.request_id = format!("simulated-{number}");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        context.deadline = u64::try_from((now + self.mapping.function_timeout).as_millis()).unwrap_or(u64::MAX);
        let call = AssertUnwindSafe(self.router.handle(&payload, &context)).catch_unwind();
        let started = (std::time::Instant::now(), tokio::time::Instant::now());
        let result = tokio::time::timeout(self.mapping.function_timeout, call).await;
        // Lambda's timeout counts wall-clock time, which a handler blocking its thread
        // spends without tokio's (possibly paused) clock seeing it.
        let ran = started.0.elapsed().max(started.1.elapsed());
        let response = match result {
            _ if ran > self.mapping.function_timeout => return (InvocationResult::Timeout, None),
            Err(_) => return (InvocationResult::Timeout, None),
            Ok(Err(_)) => return (InvocationResult::FunctionError("the function panicked".into()), None),
            Ok(Ok(Err(error))) => return (InvocationResult::FunctionError(error.to_string()), None),
            Ok(Ok(Ok(response))) => response,
        };
        if window.is_some() && response.state.is_none() {
            let missing = "an answer to a window event without `state`".to_owned();
            return (InvocationResult::InvalidResponse(missing), None);
        }
        let result = if self.mapping.report_batch_item_failures {
            classify(&response.batch_item_failures, batch, arrivals, self.mapping.delivery)
        } else {
            InvocationResult::Success
        };
        (result, response.state)
    }
}

/// Reads a partial batch response as Lambda (or the pipe) does, by the identifier the
/// delivery names records by (through Kinesis, the sequence number of its arrival).
fn classify(
    failures: &[aws_lambda_events::streams::DynamoDbBatchItemFailure],
    batch: &[StreamRecord],
    arrivals: &[usize],
    delivery: Delivery,
) -> InvocationResult {
    let names = |position: usize, record: &StreamRecord, id: &str| match delivery {
        Delivery::StreamEvent => record.sequence_number.as_str() == id,
        Delivery::Pipes => record.event_id == id,
        Delivery::Kinesis => arrivals.get(position).is_some_and(|&arrival| kinesis_sequence_number(arrival) == id),
    };
    let mut lowest: Option<SequenceNumber> = None;
    for failure in failures {
        let Some(id) = failure.item_identifier.as_deref().filter(|id| !id.is_empty()) else {
            return InvocationResult::InvalidResponse("a null or empty itemIdentifier".into());
        };
        let Some(record) = batch.iter().enumerate().find(|(at, r)| names(*at, r, id)).map(|(_, r)| r) else {
            return InvocationResult::InvalidResponse(format!("itemIdentifier {id} is not in the batch"));
        };
        if lowest.as_ref().is_none_or(|l| record.sequence_number < *l) {
            lowest = Some(record.sequence_number.clone());
        }
    }
    lowest.map_or(InvocationResult::Success, InvocationResult::Partial)
}

#[cfg(test)]
mod tests {
    use super::classify;
    use crate::payload::StreamViewType;
    use crate::testing::esm::mapping::Delivery;
    use crate::testing::{KeySchema, Table};
    use aws_lambda_events::streams::DynamoDbBatchItemFailure;
    use serde_dynamo::{AttributeValue, Item};

    fn failure(id: Option<&str>) -> DynamoDbBatchItemFailure {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = id.map(str::to_owned);
        failure
    }

    #[test]
    fn responses_are_read_as_lambda_reads_them() {
        let mut table = Table::new("T", KeySchema::hash("pk"), StreamViewType::KeysOnly);
        for pk in ["a", "b", "c"] {
            let item = Item::from(std::collections::HashMap::from([("pk".to_owned(), AttributeValue::S(pk.into()))]));
            let _ = table.put(item);
        }
        let batch = table.stream().records();
        let seq = |i: usize| batch[i].sequence_number.as_str().to_owned();
        use super::InvocationResult::*;
        assert_eq!(classify(&[], &batch, &[], Delivery::StreamEvent), Success);
        assert_eq!(
            classify(&[failure(Some(&seq(2))), failure(Some(&seq(1)))], &batch, &[], Delivery::StreamEvent),
            Partial(batch[1].sequence_number.clone())
        );
        assert!(matches!(classify(&[failure(None)], &batch, &[], Delivery::StreamEvent), InvalidResponse(_)));
        assert!(matches!(classify(&[failure(Some(""))], &batch, &[], Delivery::StreamEvent), InvalidResponse(_)));
        assert!(matches!(classify(&[failure(Some("999"))], &batch, &[], Delivery::StreamEvent), InvalidResponse(_)));
        assert!(matches!(
            classify(&[failure(Some(&seq(0))), failure(None)], &batch, &[], Delivery::StreamEvent),
            InvalidResponse(_)
        ));
    }
}
