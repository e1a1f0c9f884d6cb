//! Checkpoints of a shard: compare-and-set while this runner owns it, and what a write's
//! outcome means (counted processed, or the shard lost to another runner).

use std::time::{Duration, SystemTime};

use super::builder::Runner;
use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Save};
use super::report::{RunReport, RunnerError};
use super::shard::ShardState;
use super::source::{SourceRecord, StartAt, StreamSource};

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Checkpoints the shard after its first `done` pending records (still pending: the
    /// caller drains them) and counts them processed. `Ok(false)`: the shard is lost.
    pub(super) async fn checkpoint_through(
        &self,
        arn: &str,
        shard: &mut ShardState,
        done: usize,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        let Some(next) = self.next_checkpoint(shard, done) else { return Ok(true) };
        let save = Save { owner: &self.settings.owner, expected: shard.stored.as_ref(), next: &next, lag: shard.lag };
        let outcome = self.checkpoints.save(arn, &shard.id, save).await;
        self.saved(shard, done, next, outcome, report)
    }

    /// The checkpoint after the shard's first `done` pending records (and their lag noted),
    /// if there are any.
    pub(super) fn next_checkpoint(&self, shard: &mut ShardState, done: usize) -> Option<Checkpoint> {
        let last = done.checked_sub(1).and_then(|i| shard.pending.get(i))?;
        shard.lag = lag_of(last);
        Some(Checkpoint::After(last.sequence_number.clone()))
    }

    /// Takes in the outcome of writing `next` after the first `done` pending records:
    /// counts them processed, or leaves a shard another runner owns now (`Ok(false)`).
    pub(super) fn saved(
        &self,
        shard: &mut ShardState,
        done: usize,
        next: Checkpoint,
        outcome: Result<(), CheckpointError>,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        let before = match &shard.stored {
            Some(Checkpoint::After(seq)) => {
                shard.pending.iter().position(|r| &r.sequence_number == seq).map_or(0, |i| i + 1)
            }
            _ => 0,
        };
        if !self.stored(shard, next.clone(), outcome, report)? {
            return Ok(false);
        }
        if let Checkpoint::After(seq) = next {
            shard.start = StartAt::After(seq);
        }
        report.processed += done.saturating_sub(before) as u64;
        Ok(true)
    }

    /// Compare-and-set of the shard's checkpoint, while this runner holds its lease.
    /// `Ok(false)`: another runner owns the shard now (or moved its checkpoint); this one
    /// leaves it and watches its lease again.
    pub(crate) async fn save(
        &self,
        arn: &str,
        shard: &mut ShardState,
        next: Checkpoint,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        let save = Save { owner: &self.settings.owner, expected: shard.stored.as_ref(), next: &next, lag: shard.lag };
        let outcome = self.checkpoints.save(arn, &shard.id, save).await;
        self.stored(shard, next, outcome, report)
    }

    /// Takes in the outcome of a checkpoint write.
    pub(super) fn stored(
        &self,
        shard: &mut ShardState,
        next: Checkpoint,
        outcome: Result<(), CheckpointError>,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        match outcome {
            Ok(()) => {
                tracing::debug!(shard_id = %shard.id, checkpoint = %next.encode(), lag = ?shard.lag, "checkpoint");
                shard.stored = Some(next);
                Ok(true)
            }
            Err(CheckpointError::Conflict { .. }) => {
                tracing::warn!(shard_id = %shard.id, "another runner owns this shard now; leaving it");
                shard.disowned();
                report.shards_lost.push(shard.id.clone());
                Ok(false)
            }
            Err(error) => Err(RunnerError::Checkpoint(error)),
        }
    }
}

/// How old a record is now, by its `ApproximateCreationDateTime`.
pub(super) fn lag_of(record: &SourceRecord) -> Option<Duration> {
    let created = record.lambda_json.pointer("/dynamodb/ApproximateCreationDateTime")?.as_f64()?;
    let created = SystemTime::UNIX_EPOCH + Duration::try_from_secs_f64(created).ok()?;
    Some(SystemTime::now().duration_since(created).unwrap_or_default())
}
