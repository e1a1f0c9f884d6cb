//! What a run did, and why a run stopped early.

use super::checkpoint::CheckpointError;
use super::source::SourceError;
use crate::error::BoxError;
use crate::payload::SequenceNumber;

/// A record that failed every attempt, as handed to the on-failure sink.
#[derive(Clone, Debug)]
pub struct FailedRecord {
    /// The stream.
    pub stream_arn: String,
    /// The shard.
    pub shard_id: String,
    /// The record's sequence number.
    pub sequence_number: SequenceNumber,
    /// How many times it was tried.
    pub attempts: u32,
    /// Why the last attempt failed: the handler's error (or the decode error, the panic,
    /// the abandonment), as the sink receives it.
    pub reason: String,
    /// The record as Lambda would deliver it.
    pub record: serde_json::Value,
}

/// Records the runner could not read because the stream no longer had them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLoss {
    /// The shard.
    pub shard_id: String,
    /// The last processed record, if any: everything after it up to the oldest record the
    /// stream still holds is lost.
    pub after: Option<SequenceNumber>,
    /// What the stream said.
    pub message: String,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Records processed by the router (or filtered out by it).
    pub processed: u64,
    /// Records handed to the on-failure sink after their last attempt.
    pub sent_to_sink: u64,
    /// Failed attempts (each retried or sent to the sink).
    pub failed_attempts: u64,
    /// Handler calls (a record's, or a batch handler's batch) still running when the runner
    /// abandoned them: at a stop that outlasted the shutdown timeout, or a lapsed lease.
    /// Their work was cut off and not checkpointed: the next run does them again. Non-zero
    /// tells a supervisor the stop was not clean.
    pub abandoned: u64,
    /// Shards read to their end.
    pub shards_finished: Vec<String>,
    /// Shards another runner took over from this one (this one's renewals were late).
    pub shards_lost: Vec<String>,
    /// Leases this runner took (free shards, and takeovers).
    pub shards_acquired: u64,
    /// Shards this runner took over from an owner that stopped renewing its lease.
    pub shards_taken_over: Vec<String>,
    /// Newer streams of the table this runner moved to (the stream was disabled and enabled
    /// again), in order.
    pub streams_followed: Vec<String>,
    /// The shards this runner owned when the run ended (their leases then released).
    pub owned_shards: Vec<String>,
    /// Per owned shard, how old its last processed record was when it was processed
    /// (milliseconds; a shard with nothing processed yet is absent).
    pub lag_ms: std::collections::BTreeMap<String, u64>,
    /// Data loss the stream reported (only with [`on_data_loss`](super::Runner::on_data_loss)
    /// set to continue; otherwise the run stops with [`RunnerError::DataLoss`]).
    pub data_loss: Vec<DataLoss>,
}

/// Why a run stopped before it was asked to.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunnerError {
    /// A stream call kept failing after its retries.
    Source(SourceError),
    /// The checkpoint store failed.
    Checkpoint(CheckpointError),
    /// A record failed every attempt and the runner is set to stop (the default).
    /// Its shard's checkpoint is just before it: a restart retries it.
    RecordFailed {
        /// The shard.
        shard_id: String,
        /// The record.
        sequence_number: SequenceNumber,
        /// How many times it was tried.
        attempts: u32,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The on-failure sink did not take a record; the checkpoint stays before it.
    Sink {
        /// The record.
        sequence_number: SequenceNumber,
        /// The sink's error.
        error: BoxError,
    },
    /// The stream trimmed records this runner had not read.
    DataLoss(DataLoss),
    /// This runner owns no shard, and every unfinished shard is held by another runner
    /// that is alive (renewing its lease). Not raised for a
    /// [standby](super::Runner::standby).
    NothingToOwn {
        /// The stream.
        stream_arn: String,
        /// Who holds the shards.
        owners: Vec<String>,
    },
    /// A bootstrap needs every shard, and another runner holds this one.
    ShardHeld {
        /// The shard.
        shard_id: String,
        /// Who holds it.
        owner: String,
    },
    /// The router refused the batch as a whole (no route for the stream, a payload it
    /// cannot read, a configuration error): retrying cannot help, so the runner stops.
    Router(crate::error::Error),
}

impl std::fmt::Display for RunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source(error) => write!(f, "reading the stream failed: {error}"),
            Self::Checkpoint(error) => write!(f, "{error}"),
            Self::RecordFailed { shard_id, sequence_number, attempts, reason } => write!(
                f,
                "record {sequence_number} of shard {shard_id} failed {attempts} attempts ({reason}); stopped with the \
                 checkpoint just before it"
            ),
            Self::Sink { sequence_number, error } => {
                write!(f, "the on-failure sink did not take record {sequence_number}: {error}")
            }
            Self::Router(error) => write!(f, "the router refused the batch: {error}"),
            Self::NothingToOwn { stream_arn, owners } => write!(
                f,
                "nothing to own: every unfinished shard of {stream_arn} is held by another live runner ({}). Stop this \
                 one, or make it a standby (`Runner::standby(true)`) that takes shards over when their owner stops",
                owners.join(", ")
            ),
            Self::ShardHeld { shard_id, owner } => write!(
                f,
                "shard {shard_id} is held by runner {owner}, which is renewing its lease: a bootstrap reads every \
                 shard, so stop that runner first"
            ),
            Self::DataLoss(loss) => write!(
                f,
                "data loss on shard {}: records after {} were trimmed from the stream before they were read ({})",
                loss.shard_id,
                loss.after.as_ref().map_or("the start", SequenceNumber::as_str),
                loss.message
            ),
        }
    }
}

impl std::error::Error for RunnerError {}

impl RunReport {
    pub(crate) fn merge(&mut self, other: RunReport) {
        self.processed += other.processed;
        self.sent_to_sink += other.sent_to_sink;
        self.failed_attempts += other.failed_attempts;
        self.abandoned += other.abandoned;
        self.shards_finished.extend(other.shards_finished);
        self.shards_lost.extend(other.shards_lost);
        self.shards_acquired += other.shards_acquired;
        self.shards_taken_over.extend(other.shards_taken_over);
        self.streams_followed.extend(other.streams_followed);
        self.data_loss.extend(other.data_loss);
    }
}
