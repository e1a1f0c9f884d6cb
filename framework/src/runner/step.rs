//! One turn of a shard: read a page when nothing is pending, feed the router a batch
//! (reading the next page meanwhile, checkpointing on a timer, stopping at a lost lease or
//! a stop request), checkpoint what it processed, retry, hand over or stop on a failure.

use tokio::sync::watch;

use super::builder::Runner;
use super::checkpoint::{Checkpoint, CheckpointStore};
use super::lease::Leases;
use super::report::{RunReport, RunnerError};
use super::shard::{Phase, ShardState};
use super::source::StreamSource;

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// One turn for a shard this runner owns: read if nothing is pending, process what is
    /// pending, finish the shard if it is read to its end. Returns what it did. Nothing
    /// starts once a stop is asked or while the shard's lease is not valid.
    pub(crate) async fn step(
        &self,
        arn: &str,
        shard: &mut ShardState,
        leases: &Leases,
        stop: &watch::Receiver<bool>,
    ) -> Result<RunReport, RunnerError> {
        let mut report = RunReport::default();
        shard.not_before = None;
        if *stop.borrow() || !leases.valid(&shard.id) {
            return Ok(report);
        }
        if shard.pending.is_empty() && !shard.at_end {
            self.fetch(arn, shard, &mut report).await?;
        }
        if !shard.pending.is_empty() && shard.not_before.is_none() {
            self.process(arn, shard, leases, stop, &mut report).await?;
        }
        let read_to_end = shard.phase == Phase::Reading && shard.pending.is_empty() && shard.at_end;
        if read_to_end && self.save(arn, shard, Checkpoint::Finished, &mut report).await? {
            shard.phase = Phase::Finished;
            tracing::info!(shard_id = %shard.id, "shard finished");
            report.shards_finished.push(shard.id.clone());
            self.release(&shard.id, leases).await;
        }
        Ok(report)
    }
}
