//! One batch's call: pending records through the router as one event, while the next page
//! is read, a timer checkpoints what is done, and a stop request or a lapsed lease keeps
//! further records from starting; then what the answer means (checkpoint, retry, sink or
//! stop).

use futures_util::future::OptionFuture;
use lambda_runtime::Context;
use tokio::sync::watch;
use tokio::time::Instant;

use super::builder::Runner;
use super::checkpoint::{Checkpoint, CheckpointStore, Save};
use super::checkpointing::lag_of;
use super::lease::Leases;
use super::report::{FailedRecord, RunReport, RunnerError};
use super::settings::AfterFailure;
use super::shard::{Phase, ShardState};
use super::source::{SourceError, StartAt, StreamSource};
use crate::contract::{Control, FirstFailure};
use crate::source::stream_event;

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Feeds up to `checkpoint_every` pending records to the router as one Lambda event,
    /// while reading the shard's next page if these are the last pending, checkpointing
    /// what is done every `checkpoint_interval`, and stopping new records at a stop request
    /// (abandoning those in flight after `shutdown_timeout`) or when the lease lapses.
    /// Then checkpoints what it processed, and retries, hands over or stops on a failure.
    pub(super) async fn process(
        &self,
        arn: &str,
        shard: &mut ShardState,
        leases: &Leases,
        stop: &watch::Receiver<bool>,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        let chunk = shard.pending.len().min(self.settings.checkpoint_every);
        let records: Vec<&serde_json::Value> = shard.pending.iter().take(chunk).map(|r| &r.lambda_json).collect();
        let payload = stream_event(&records).map_err(|e| RunnerError::Source(SourceError::Other(e.into())))?;
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
            Ok((_, None)) => (chunk, None),
            // The failed record's position in the call's payload: the chunk's own order.
            Ok((_, Some(first))) if first.position < chunk => (first.position, Some(first)),
            Ok((_, Some(first))) => {
                let error = crate::error::Error::NotAStreamEvent(format!(
                    "the router reported record {} of a call of {chunk} records",
                    first.position
                ));
                return Err(RunnerError::Router(error));
            }
            // Record-level: the failed record could not be named, or nothing was processed.
            Err(error @ (crate::error::Error::Unreportable { .. } | crate::error::Error::NothingProcessed { .. })) => {
                (0, Some(FirstFailure { position: 0, reason: error.to_string(), ran: true }))
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
        let sink = match (self.settings.after_failure(shard.attempts, self.sink.is_some()), &self.sink) {
            (AfterFailure::Retry { wait }, _) => {
                tracing::warn!(
                    shard_id = %shard.id, sequence_number = %head.sequence_number, attempt = shard.attempts,
                    of = self.settings.max_attempts, retry_in = ?wait, "record failed; retrying"
                );
                shard.not_before = Some(Instant::now() + wait);
                return Ok(());
            }
            (AfterFailure::Sink, Some(sink)) => sink,
            (AfterFailure::Sink | AfterFailure::Stop, _) => {
                tracing::error!(shard_id = %shard.id, sequence_number = %head.sequence_number, attempts = shard.attempts, "record failed every attempt; stopping");
                return Err(RunnerError::RecordFailed {
                    shard_id: shard.id.clone(),
                    sequence_number: head.sequence_number,
                    attempts: shard.attempts,
                    reason,
                });
            }
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
}

/// Sleeps until `at`; never completes for `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
