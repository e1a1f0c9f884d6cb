//! One turn of a shard: read a page when nothing is pending, feed the router a batch,
//! checkpoint what it processed, retry, hand over or stop on a failure.

use lambda_runtime::Context;
use serde_json::json;
use tokio::time::Instant;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use super::report::{DataLoss, FailedRecord, RunReport, RunnerError};
use super::run::{OnDataLoss, Runner};
use super::shard::{Phase, ShardState};
use super::source::{SourceError, StartAt, StreamSource};

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// One turn for a shard: read if nothing is pending, process what is pending, finish
    /// the shard if it is read to its end. Returns what it did.
    pub(crate) async fn step(&self, arn: &str, shard: &mut ShardState) -> Result<RunReport, RunnerError> {
        let mut report = RunReport::default();
        shard.not_before = None;
        if shard.pending.is_empty() && !shard.at_end {
            self.fetch(arn, shard, &mut report).await?;
        }
        if !shard.pending.is_empty() && shard.not_before.is_none() {
            self.process(arn, shard, &mut report).await?;
        }
        let read_to_end = shard.phase == Phase::Reading && shard.pending.is_empty() && shard.at_end;
        if read_to_end && self.save(arn, shard, Checkpoint::Finished, &mut report).await? {
            shard.phase = Phase::Finished;
            tracing::info!(shard_id = %shard.id, "shard finished");
            report.shards_finished.push(shard.id.clone());
        }
        Ok(report)
    }

    /// Reads a page into `pending` (only reads: the bootstrap keeps its bookmarks alive with it).
    pub(crate) async fn fetch(
        &self,
        arn: &str,
        shard: &mut ShardState,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        let iterator = match shard.iterator.take() {
            Some(iterator) => iterator,
            None => match self.source.iterator(arn, &shard.id, &shard.start).await {
                Ok(iterator) => iterator,
                Err(error) => return self.source_trouble(shard, error, report),
            },
        };
        match self.source.records(arn, &iterator, self.settings.batch_size).await {
            Ok(page) => {
                shard.source_failures = 0;
                if let Some(last) = page.records.last() {
                    shard.read_through = Some(last.sequence_number.clone());
                }
                shard.caught_up = page.records.is_empty();
                shard.at_end = page.next_iterator.is_none();
                shard.iterator = page.next_iterator;
                if !page.records.is_empty() {
                    tracing::debug!(shard_id = %shard.id, records = page.records.len(), "read");
                }
                shard.pending.extend(page.records);
                Ok(())
            }
            Err(error) => {
                // Anything but an expiry may have consumed nothing: keep the iterator.
                if !matches!(error, SourceError::ExpiredIterator) {
                    shard.iterator = Some(iterator);
                }
                self.source_trouble(shard, error, report)
            }
        }
    }

    fn source_trouble(
        &self,
        shard: &mut ShardState,
        error: SourceError,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        match error {
            SourceError::ExpiredIterator => {
                shard.start = shard.resume_point();
                shard.iterator = None;
                // A source that keeps answering "expired" to fresh iterators is broken.
                shard.source_failures += 1;
                if shard.source_failures > self.settings.source_retries {
                    return Err(RunnerError::Source(SourceError::ExpiredIterator));
                }
                tracing::info!(shard_id = %shard.id, resume = ?shard.start, "shard iterator expired; getting a new one");
                if shard.source_failures > 1 {
                    let wait = self.settings.backoff(shard.source_failures);
                    shard.not_before = Some(Instant::now() + wait);
                }
                Ok(())
            }
            SourceError::Trimmed(message) | SourceError::NotFound(message) => {
                let after = match &shard.stored {
                    Some(Checkpoint::After(seq)) => Some(seq.clone()),
                    _ => None,
                };
                let loss = DataLoss { shard_id: shard.id.clone(), after, message };
                self.data_loss(shard, loss, report)
            }
            error => {
                shard.source_failures += 1;
                if !self.settings.retries_source(&error, shard.source_failures) {
                    return Err(RunnerError::Source(error));
                }
                let wait = self.settings.backoff(shard.source_failures);
                tracing::warn!(shard_id = %shard.id, %error, retry_in = ?wait, "stream call failed; backing off");
                shard.not_before = Some(Instant::now() + wait);
                Ok(())
            }
        }
    }

    /// Reports records the stream no longer has: stop (the default), or log, report and go
    /// on from the oldest record the stream holds.
    pub(crate) fn data_loss(
        &self,
        shard: &mut ShardState,
        loss: DataLoss,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        self.report_data_loss(loss, report)?;
        shard.start = StartAt::TrimHorizon;
        shard.read_through = None;
        shard.iterator = None;
        Ok(())
    }

    /// Logs data loss at error level, then applies the policy: stop with it (the default),
    /// or add it to the report and go on.
    pub(crate) fn report_data_loss(&self, loss: DataLoss, report: &mut RunReport) -> Result<(), RunnerError> {
        tracing::error!(
            shard_id = %loss.shard_id, after = ?loss.after, message = %loss.message,
            "DATA LOSS: records left the stream before they were read"
        );
        match self.settings.on_data_loss {
            OnDataLoss::Stop => Err(RunnerError::DataLoss(loss)),
            OnDataLoss::Continue => {
                report.data_loss.push(loss);
                Ok(())
            }
        }
    }

    /// Feeds `pending` to the router as one Lambda event; checkpoints what it processed;
    /// retries, hands over or stops on the first failure.
    async fn process(&self, arn: &str, shard: &mut ShardState, report: &mut RunReport) -> Result<(), RunnerError> {
        // At most `checkpoint_every` records per call, each call checkpointed: a crash
        // repeats at most that many records.
        let chunk = shard.pending.len().min(self.settings.checkpoint_every);
        let records: Vec<&serde_json::Value> = shard.pending.iter().take(chunk).map(|r| &r.lambda_json).collect();
        let payload = serde_json::to_vec(&json!({ "Records": records }))
            .map_err(|e| RunnerError::Source(SourceError::Other(e.into())))?;
        // A shard that started at LATEST has no position to come back to yet: save one
        // before processing, so a restart after a failure here cannot skip these records.
        if shard.stored.is_none() && shard.start == StartAt::Latest {
            if let Some(first) = shard.pending.front().map(|r| r.sequence_number.clone()) {
                if !self.save(arn, shard, Checkpoint::At(first), report).await? {
                    return Ok(());
                }
            }
        }
        let (processed, failure) = match self.router.handle_reporting(payload.into(), &Context::default()).await {
            Ok((response, reason)) => match response.batch_item_failures.first() {
                None => (chunk, None),
                Some(failure) => {
                    let id = failure.item_identifier.as_deref().unwrap_or_default();
                    match shard.pending.iter().take(chunk).position(|r| r.sequence_number.as_str() == id) {
                        Some(index) => (index, Some(reason.unwrap_or_else(|| "the record failed".into()))),
                        None => {
                            let error =
                                crate::Error::NotAStreamEvent(format!("the router reported an unknown record `{id}`"));
                            return Err(RunnerError::Router(error));
                        }
                    }
                }
            },
            // Record-level: the failed record could not be named, or nothing was processed.
            Err(error @ (crate::Error::Unreportable { .. } | crate::Error::NothingProcessed { .. })) => {
                (0, Some(error.to_string()))
            }
            Err(error) => return Err(RunnerError::Router(error)),
        };
        if processed > 0 {
            let last = shard.pending[processed - 1].sequence_number.clone();
            if !self.save(arn, shard, Checkpoint::After(last.clone()), report).await? {
                return Ok(());
            }
            shard.pending.drain(..processed);
            shard.start = StartAt::After(last.clone());
            shard.attempts = 0;
            report.processed += processed as u64;
            tracing::debug!(shard_id = %shard.id, records = processed, checkpoint = %last, "processed");
        }
        let (Some(reason), Some(head)) = (failure, shard.pending.front().cloned()) else { return Ok(()) };
        shard.attempts += 1;
        report.failed_attempts += 1;
        if shard.attempts < self.settings.max_attempts {
            let wait = self.settings.backoff(shard.attempts);
            tracing::warn!(
                shard_id = %shard.id, sequence_number = %head.sequence_number, attempt = shard.attempts,
                of = self.settings.max_attempts, retry_in = ?wait, "record failed; retrying"
            );
            shard.not_before = Some(Instant::now() + wait);
            return Ok(());
        }
        let Some(sink) = &self.sink else {
            tracing::error!(shard_id = %shard.id, sequence_number = %head.sequence_number, attempts = shard.attempts, "record failed every attempt; stopping");
            return Err(RunnerError::RecordFailed {
                shard_id: shard.id.clone(),
                sequence_number: head.sequence_number,
                attempts: shard.attempts,
                reason,
            });
        };
        let failed = FailedRecord {
            stream_arn: arn.to_owned(),
            shard_id: shard.id.clone(),
            sequence_number: head.sequence_number.clone(),
            attempts: shard.attempts,
            reason,
            record: head.lambda_json,
        };
        sink(failed)
            .await
            .map_err(|error| RunnerError::Sink { sequence_number: head.sequence_number.clone(), error })?;
        tracing::warn!(shard_id = %shard.id, sequence_number = %head.sequence_number, attempts = shard.attempts, "record failed every attempt; handed to the on-failure sink");
        if self.save(arn, shard, Checkpoint::After(head.sequence_number.clone()), report).await? {
            shard.pending.pop_front();
            shard.start = StartAt::After(head.sequence_number);
            shard.attempts = 0;
            report.sent_to_sink += 1;
        }
        Ok(())
    }

    /// Compare-and-set of the shard's checkpoint. `Ok(false)`: another runner moved it, the
    /// shard is now `Lost`.
    async fn save(
        &self,
        arn: &str,
        shard: &mut ShardState,
        next: Checkpoint,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        match self.checkpoints.save(arn, &shard.id, shard.stored.as_ref(), &next).await {
            Ok(()) => {
                shard.stored = Some(next);
                Ok(true)
            }
            Err(CheckpointError::Conflict { .. }) => {
                tracing::warn!(shard_id = %shard.id, "another runner moved this shard's checkpoint; leaving the shard to it");
                shard.phase = Phase::Lost;
                shard.pending.clear();
                report.shards_lost.push(shard.id.clone());
                Ok(false)
            }
            Err(error) => Err(RunnerError::Checkpoint(error)),
        }
    }
}
