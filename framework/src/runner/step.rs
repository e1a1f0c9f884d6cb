//! One turn of a shard: read a page when nothing is pending, feed the router a batch
//! (reading the next page meanwhile, checkpointing on a timer, stopping at a lost lease or
//! a stop request), checkpoint what it processed, retry, hand over or stop on a failure.

use std::time::{Duration, SystemTime};

use futures_util::future::OptionFuture;
use lambda_runtime::Context;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Save};
use super::lease::Leases;
use super::report::{DataLoss, FailedRecord, RunReport, RunnerError};
use super::run::{OnDataLoss, Runner};
use super::shard::{Phase, ShardState};
use super::source::{RecordsPage, SourceError, SourceRecord, StartAt, StreamSource};
use crate::process::{Control, FailureNote};

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
        let page = self.source.records(arn, &iterator, self.settings.batch_size).await;
        self.absorb(shard, iterator, page, report)
    }

    /// Takes a `GetRecords` answer read with `iterator` into the shard.
    fn absorb(
        &self,
        shard: &mut ShardState,
        iterator: String,
        page: Result<RecordsPage, SourceError>,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        match page {
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

    /// Feeds up to `checkpoint_every` pending records to the router as one Lambda event,
    /// while reading the shard's next page if these are the last pending, checkpointing
    /// what is done every `checkpoint_interval`, and stopping new records at a stop request
    /// (abandoning those in flight after `shutdown_timeout`) or when the lease lapses.
    /// Then checkpoints what it processed, and retries, hands over or stops on a failure.
    async fn process(
        &self,
        arn: &str,
        shard: &mut ShardState,
        leases: &Leases,
        stop: &watch::Receiver<bool>,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
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
        // Read ahead: the next page comes while these records run.
        let ahead_from = match self.settings.read_ahead && shard.pending.len() == chunk && !shard.at_end {
            true => shard.iterator.take(),
            false => None,
        };
        let ahead_iterator = ahead_from.clone();
        let ahead = async move {
            match &ahead_iterator {
                Some(iterator) => Some(self.source.records(arn, iterator, self.settings.batch_size).await),
                None => None,
            }
        };
        let mut ahead = std::pin::pin!(ahead);
        let mut ahead_page = None;
        let mut ahead_done = false;

        // Each record starts only while the lease is valid, checked as it starts.
        let id = shard.id.clone();
        let control = {
            let (leases, id) = (leases.clone(), id.clone());
            Control::default().only_while(move || leases.valid(&id))
        };
        let context = Context::default();
        let mut call = std::pin::pin!(self.router.handle_controlled(payload.into(), &context, control.clone()));
        let mut stop = stop.clone();
        let interval = self.settings.checkpoint_interval;
        let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
        let (mut saved, mut stopping, mut lease_gone) = (0usize, false, false);
        let mut abandon_at: Option<Instant> = None;
        // A timer checkpoint being written, beside the other events.
        let mut saving = None;
        let result = loop {
            tokio::select! {
                biased;
                // Before the call is polled: a stop seen (asked during the page's read, say)
                // starts no record, not even the first.
                _ = stop.wait_for(|asked| *asked), if !stopping => {
                    stopping = true;
                    control.stop();
                    let at = Instant::now() + self.settings.shutdown_timeout;
                    abandon_at = Some(abandon_at.map_or(at, |earlier| earlier.min(at)));
                    tracing::info!(
                        shard_id = %id, timeout = ?self.settings.shutdown_timeout,
                        "stopping: no further record starts; waiting for the records in flight"
                    );
                }
                result = &mut call => break result,
                () = sleep_until(abandon_at), if abandon_at.is_some() => {
                    abandon_at = None;
                    tracing::warn!(shard_id = %id, "records still in flight abandoned, and not checkpointed");
                    control.abandon();
                }
                () = leases.lapsed(&id), if !lease_gone => {
                    lease_gone = true;
                    control.stop();
                    // Records still running must end before a standby could start.
                    let at = leases.hard_until(&id).unwrap_or_else(Instant::now);
                    abandon_at = Some(abandon_at.map_or(at, |earlier| earlier.min(at)));
                    tracing::warn!(shard_id = %id, "the shard's lease lapsed or was taken over: no further record of it starts here");
                }
                Some((done, next, outcome)) = OptionFuture::from(saving.as_mut()), if saving.is_some() => {
                    saving = None;
                    match self.saved(shard, done, next, outcome, report) {
                        Ok(true) => saved = done,
                        Ok(false) => {
                            lease_gone = true;
                            control.stop();
                        }
                        // The store may be back by the next tick; the final checkpoint decides.
                        Err(error) => tracing::warn!(shard_id = %id, %error, "could not checkpoint; trying again at the next tick"),
                    }
                }
                _ = tick.tick(), if !lease_gone && saving.is_none() => {
                    let done = control.done_from_start(chunk);
                    if let Some(next) = self.next_checkpoint(shard, done).filter(|_| done > saved) {
                        let expected = shard.stored.clone();
                        let lag = shard.lag;
                        let id = id.clone();
                        saving = Some(Box::pin(async move {
                            let save = Save { owner: &self.settings.owner, expected: expected.as_ref(), next: &next, lag };
                            let outcome = self.checkpoints.save(arn, &id, save).await;
                            (done, next, outcome)
                        }));
                    }
                }
                page = &mut ahead, if !ahead_done => {
                    ahead_done = true;
                    ahead_page = page;
                }
            }
        };
        if let Some(pending_save) = saving.take() {
            let (done, next, outcome) = pending_save.await;
            match self.saved(shard, done, next, outcome, report) {
                Ok(true) => saved = done,
                Ok(false) => {}
                Err(error) => tracing::warn!(shard_id = %id, %error, "could not checkpoint"),
            }
        }
        if !ahead_done {
            ahead_page = ahead.await;
        }
        if control.was_abandoned() {
            shard.abandoned_work = true;
            report.abandoned += control.abandoned_calls();
        }
        if shard.phase != Phase::Reading {
            return Ok(());
        }
        let (processed, failure) = match result {
            Ok((response, note)) => match response.batch_item_failures.first() {
                None => (chunk, None),
                Some(failure) => {
                    let id = failure.item_identifier.as_deref().unwrap_or_default();
                    match shard.pending.iter().take(chunk).position(|r| r.sequence_number.as_str() == id) {
                        Some(index) => {
                            let note = note.unwrap_or(FailureNote { reason: "the record failed".into(), ran: true });
                            (index, Some(note))
                        }
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
                (0, Some(FailureNote { reason: error.to_string(), ran: true }))
            }
            Err(error) => return Err(RunnerError::Router(error)),
        };
        if processed > saved && !self.checkpoint_through(arn, shard, processed, report).await? {
            return Ok(());
        }
        shard.pending.drain(..processed);
        if processed > 0 {
            shard.attempts = 0;
        }
        if let Some(ahead_from) = ahead_from {
            if let Some(page) = ahead_page {
                self.absorb(shard, ahead_from, page, report)?;
            } else {
                shard.iterator = Some(ahead_from);
            }
        }
        let Some(failure) = failure else { return Ok(()) };
        // Records that never ran (a stop request, a lapsed lease) are no failed attempt.
        let Some(head) = shard.pending.front().cloned().filter(|_| failure.ran) else { return Ok(()) };
        let reason = failure.reason;
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
            record: head.lambda_json.clone(),
        };
        sink(failed)
            .await
            .map_err(|error| RunnerError::Sink { sequence_number: head.sequence_number.clone(), error })?;
        tracing::warn!(shard_id = %shard.id, sequence_number = %head.sequence_number, attempts = shard.attempts, "record failed every attempt; handed to the on-failure sink");
        shard.lag = lag_of(&head);
        if self.save(arn, shard, Checkpoint::After(head.sequence_number.clone()), report).await? {
            shard.pending.pop_front();
            shard.start = StartAt::After(head.sequence_number);
            shard.attempts = 0;
            report.sent_to_sink += 1;
        }
        Ok(())
    }

    /// Checkpoints the shard after its first `done` pending records (still pending: the
    /// caller drains them) and counts them processed. `Ok(false)`: the shard is lost.
    async fn checkpoint_through(
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
    fn next_checkpoint(&self, shard: &mut ShardState, done: usize) -> Option<Checkpoint> {
        let last = done.checked_sub(1).and_then(|i| shard.pending.get(i))?;
        shard.lag = lag_of(last);
        Some(Checkpoint::After(last.sequence_number.clone()))
    }

    /// Takes in the outcome of writing `next` after the first `done` pending records:
    /// counts them processed, or leaves a shard another runner owns now (`Ok(false)`).
    fn saved(
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
    fn stored(
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

/// Sleeps until `at`; never completes for `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How old a record is now, by its `ApproximateCreationDateTime`.
fn lag_of(record: &SourceRecord) -> Option<Duration> {
    let created = record.lambda_json.pointer("/dynamodb/ApproximateCreationDateTime")?.as_f64()?;
    let created = SystemTime::UNIX_EPOCH + Duration::try_from_secs_f64(created).ok()?;
    Some(SystemTime::now().duration_since(created).unwrap_or_default())
}
