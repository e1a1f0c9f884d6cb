//! The event source mapping settings the simulator honours.

use std::time::Duration;

/// How the changes reach the function: the shape of each invocation's payload, and what
/// its answer names a failed record by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// The stream's own event source mapping: `{"Records": [...]}`, named by sequence
    /// number (the default).
    #[default]
    StreamEvent,
    /// An EventBridge pipe: a bare array, named by `eventID`.
    Pipes,
    /// The table's Kinesis streaming destination, then Kinesis's event source mapping:
    /// Kinesis records (see [`kinesis_record`](crate::testing::kinesis_record)), named by
    /// the Kinesis sequence number.
    Kinesis,
}

/// The settings of a DynamoDB event source mapping, with Lambda's defaults except where
/// noted. `None` for retries or record age means `-1`: retry until the record expires.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSourceMapping {
    /// Records per invocation (`BatchSize`, 1..=10000, default 100). Payloads are also
    /// capped at 6 MB.
    pub batch_size: usize,
    /// Whether responses' `batchItemFailures` are read (`ReportBatchItemFailures`). Default
    /// `true` here; Lambda's default is off, in which case a partial response counts as
    /// success and the failed records are lost.
    pub report_batch_item_failures: bool,
    /// `BisectBatchOnFunctionError` (default false).
    pub bisect_batch_on_function_error: bool,
    /// `MaximumRetryAttempts` (default `None`, that is -1).
    pub maximum_retry_attempts: Option<u32>,
    /// `MaximumRecordAgeInSeconds` (default `None`, that is -1).
    pub maximum_record_age: Option<Duration>,
    /// `ParallelizationFactor` (1..=10, default 1): concurrent batches per shard, records
    /// of one item key always in the same one.
    pub parallelization_factor: usize,
    /// The function's timeout; the invocation's deadline is this far ahead.
    pub function_timeout: Duration,
    /// How far the simulator's virtual clock moves per invocation (for record age).
    pub seconds_per_invocation: u64,
    /// Whether the mapping starts behind, on a backlog: its clock starts at the newest
    /// record's creation time, as for a mapping created after every record was written.
    /// Default `false`: the mapping keeps up, never earlier than a record's creation when
    /// it delivers it, so a record's age is the time from its own creation to its delivery.
    pub backlog: bool,
    /// A bound on invocations, for mappings that would retry forever.
    pub max_invocations: usize,
    /// The shape the records are delivered in (default: the stream's own event).
    pub delivery: Delivery,
    /// `TumblingWindowInSeconds` (default `None`: no windows). With it, batches never cross
    /// a window (by the records' creation time), each invocation carries the window's
    /// state as the function last answered it, and once a window's records are all
    /// acknowledged a final invocation without records closes it (retried until it
    /// succeeds). Ignored for [`Delivery::Pipes`], which has no windows.
    pub tumbling_window: Option<Duration>,
}

impl Default for EventSourceMapping {
    fn default() -> Self {
        Self {
            batch_size: 100,
            report_batch_item_failures: true,
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: None,
            maximum_record_age: None,
            parallelization_factor: 1,
            function_timeout: Duration::from_secs(30),
            seconds_per_invocation: 1,
            backlog: false,
            max_invocations: 100_000,
            delivery: Delivery::StreamEvent,
            tumbling_window: None,
        }
    }
}
