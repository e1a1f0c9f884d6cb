//! What happened to each record: every attempt, and where it ended.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::payload::SequenceNumber;

/// How an invocation ended, as Lambda sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvocationResult {
    /// Empty `batchItemFailures` (or, without `ReportBatchItemFailures`, any response).
    Success,
    /// The lowest reported failure: Lambda checkpoints there and retries from it.
    Partial(SequenceNumber),
    /// A response Lambda reads as a whole-batch failure: a null, empty or unknown identifier.
    InvalidResponse(String),
    /// The function returned an error (or panicked out).
    FunctionError(String),
    /// The function did not answer within its timeout.
    Timeout,
}

/// One invocation of the function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationReport {
    /// 1-based invocation number.
    pub number: usize,
    /// The parallelization lane (0 when the factor is 1).
    pub lane: usize,
    /// The sequence numbers sent, in the order sent (a window's retried batch comes in
    /// reverse).
    pub batch: Vec<SequenceNumber>,
    /// How it ended.
    pub result: InvocationResult,
}

/// One attempt at one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The invocation that carried it.
    pub invocation: usize,
    /// Whether Lambda took the record as processed (it lies before the checkpoint).
    pub acknowledged: bool,
}

/// Why Lambda gave up on records and sent them to the on-failure destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCondition {
    /// `MaximumRetryAttempts` was reached.
    RetryAttemptsExhausted,
    /// `MaximumRecordAgeInSeconds` was passed.
    RecordAgeExceeded,
}

impl FailureCondition {
    /// The name Lambda writes in `requestContext.condition`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// What the on-failure destination receives: metadata about the discarded batch, not the
/// records themselves (SQS and SNS destinations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnFailureRecord {
    /// Why the batch was discarded.
    pub condition: FailureCondition,
    /// How many times the batch was invoked.
    pub approximate_invoke_count: usize,
    /// The shard read.
    pub shard_id: String,
    /// The first discarded record.
    pub start_sequence_number: SequenceNumber,
    /// The last discarded record.
    pub end_sequence_number: SequenceNumber,
    /// How many records were discarded.
    pub batch_size: usize,
    /// The stream.
    pub stream_arn: String,
}

impl OnFailureRecord {
    /// The message as Lambda sends it to an SQS or SNS destination.
    pub fn to_json(&self) -> Value {
        json!({
            "requestContext": {
                "condition": self.condition.as_str(),
                "approximateInvokeCount": self.approximate_invoke_count,
            },
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": self.start_sequence_number,
                "endSequenceNumber": self.end_sequence_number,
                "batchSize": self.batch_size,
                "streamArn": self.stream_arn,
            }
        })
    }
}

/// Where a record ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Acknowledged in this invocation.
    Acknowledged(usize),
    /// Discarded to the on-failure destination.
    OnFailure(FailureCondition),
    /// Neither yet (the simulation stopped at its invocation bound).
    Pending,
}

/// A tumbling window closed by a successful final invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedWindow {
    /// The parallelization lane.
    pub lane: usize,
    /// The window's start, in seconds since the epoch.
    pub start: u64,
    /// The state the final invocation answered with.
    pub state: Value,
    /// The final invocation's number.
    pub invocation: usize,
}

/// Every attempt at every record, and each record's fate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub(crate) attempts: BTreeMap<SequenceNumber, Vec<Attempt>>,
    pub(crate) discarded: BTreeMap<SequenceNumber, FailureCondition>,
    pub(crate) invocations: Vec<InvocationReport>,
    pub(crate) windows: Vec<ClosedWindow>,
}

impl Trace {
    /// The attempts at a record, in order.
    pub fn attempts(&self, sequence_number: &SequenceNumber) -> &[Attempt] {
        self.attempts.get(sequence_number).map_or(&[], Vec::as_slice)
    }

    /// Where a record ended up.
    pub fn fate(&self, sequence_number: &SequenceNumber) -> Fate {
        if let Some(condition) = self.discarded.get(sequence_number) {
            return Fate::OnFailure(*condition);
        }
        match self.attempts(sequence_number).iter().find(|a| a.acknowledged) {
            Some(attempt) => Fate::Acknowledged(attempt.invocation),
            None => Fate::Pending,
        }
    }

    /// Every invocation, in order.
    pub fn invocations(&self) -> &[InvocationReport] {
        &self.invocations
    }

    /// The tumbling windows closed, in order.
    pub fn windows(&self) -> &[ClosedWindow] {
        &self.windows
    }
}
