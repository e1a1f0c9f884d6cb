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
        let mut state = CallState::default();
        // A timer checkpoint being written, beside the other events.
        let mut saving = None;
        let result = loop {
            tokio::select! {
                biased;
                // Before the call is polled: a stop seen (asked during the page's read, say)
                // starts no record, not even the first.
                _ = stop.wait_for(|asked| *asked), if !state.stopping => {
                    state.stop_asked(&control, Instant::now() + self.settings.shutdown_timeout);
                    tracing::info!(
                        shard_id = %id, timeout = ?self.settings.shutdown_timeout,
                        "stopping: no further record starts; waiting for the records in flight"
                    );
                }
                result = &mut call => break result,
                () = sleep_until(state.abandon_at), if state.abandon_at.is_some() => {
                    state.abandon_due(&control);
                    tracing::warn!(shard_id = %id, "records still in flight abandoned, and not checkpointed");
                }
                () = leases.lapsed(&id), if !state.lease_gone => {
                    // Records still running must end before a standby could start.
                    state.lease_lost(&control, leases.hard_until(&id).unwrap_or_else(Instant::now));
                    tracing::warn!(shard_id = %id, "the shard's lease lapsed or was taken over: no further record of it starts here");
                }
                Some((done, next, outcome)) = OptionFuture::from(saving.as_mut()), if saving.is_some() => {
                    saving = None;
                    match self.saved(shard, done, next, outcome, report) {
                        Ok(true) => state.saved = done,
                        Ok(false) => state.shard_lost(&control),
                        // The store may be back by the next tick; the final checkpoint decides.
                        Err(error) => tracing::warn!(shard_id = %id, %error, "could not checkpoint; trying again at the next tick"),
                    }
                }
                _ = tick.tick(), if !state.lease_gone && saving.is_none() => {
                    let done = control.done_from_start(chunk);
                    if let Some(next) = self.next_checkpoint(shard, done).filter(|_| done > state.saved) {
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
                Ok(true) => state.saved = done,
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
        let (processed, failure) = answered(result.map(|(_, first)| first), chunk)?;
        if processed > state.saved && !self.checkpoint_through(arn, shard, processed, report).await? {
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

/// What a batch's call has seen while it runs.
#[derive(Debug, Default)]
struct CallState {
    /// How many records from the chunk's start are checkpointed.
    saved: usize,
    /// A stop was asked: no record starts from then on.
    stopping: bool,
    /// The shard's lease lapsed, or a checkpoint found another owner: no record of it starts.
    lease_gone: bool,
    /// When the records still in flight are abandoned.
    abandon_at: Option<Instant>,
}

impl CallState {
    /// A stop was asked: nothing more starts, and what runs is abandoned at `abandon_by`.
    fn stop_asked(&mut self, control: &Control, abandon_by: Instant) {
        self.stopping = true;
        control.stop();
        self.abandon_by(abandon_by);
    }

    /// The lease lapsed: nothing more starts, and what runs is abandoned at `abandon_by`
    /// (before a standby could take the shard).
    fn lease_lost(&mut self, control: &Control, abandon_by: Instant) {
        self.lease_gone = true;
        control.stop();
        self.abandon_by(abandon_by);
    }

    /// A checkpoint found the shard owned by another runner: nothing more starts.
    fn shard_lost(&mut self, control: &Control) {
        self.lease_gone = true;
        control.stop();
    }

    /// The time to abandon what still runs has come.
    fn abandon_due(&mut self, control: &Control) {
        self.abandon_at = None;
        control.abandon();
    }

    fn abandon_by(&mut self, at: Instant) {
        self.abandon_at = Some(self.abandon_at.map_or(at, |earlier| earlier.min(at)));
    }
}

/// What the router's answer to a call of `chunk` records means: how many of them, from the
/// first, were processed, and the failure of the next one, if any. A failure the router
/// could not place (a record it could not name, or none processed) is the first record's.
fn answered(
    answer: Result<Option<FirstFailure>, crate::error::Error>,
    chunk: usize,
) -> Result<(usize, Option<FirstFailure>), RunnerError> {
    use crate::error::Error;
    match answer {
        Ok(None) => Ok((chunk, None)),
        // The failed record's position in the call's payload: the chunk's own order.
        Ok(Some(first)) if first.position < chunk => Ok((first.position, Some(first))),
        Ok(Some(first)) => Err(RunnerError::Router(Error::NotAStreamEvent(format!(
            "the router reported record {} of a call of {chunk} records",
            first.position
        )))),
        Err(error @ (Error::Unreportable { .. } | Error::NothingProcessed { .. })) => {
            Ok((0, Some(FirstFailure { position: 0, reason: error.to_string(), ran: true })))
        }
        Err(error) => Err(RunnerError::Router(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::{answered, CallState};
    use crate::contract::{Control, FirstFailure};
    use crate::error::Error;
    use tokio::time::{Duration, Instant};

    fn failed(position: usize) -> FirstFailure {
        FirstFailure { position, reason: "handler error: no".into(), ran: true }
    }

    #[test]
    fn an_answer_says_how_many_records_were_processed_and_which_failed() {
        assert!(matches!(answered(Ok(None), 5), Ok((5, None))));
        assert!(matches!(answered(Ok(Some(failed(2))), 5), Ok((2, Some(f))) if f.position == 2));
        assert!(answered(Ok(Some(failed(5))), 5).is_err(), "a position past the call is no answer");
        let nothing = Error::NothingProcessed { sequence_number: "1".into(), failure: "no".into() };
        assert!(matches!(answered(Err(nothing), 5), Ok((0, Some(f))) if f.ran));
        assert!(answered(Err(Error::NotAStreamEvent("x".into())), 5).is_err());
    }

    #[test]
    fn records_in_flight_are_abandoned_at_the_earliest_time_asked() {
        let (control, now) = (Control::default(), Instant::now());
        let mut state = CallState::default();
        state.stop_asked(&control, now + Duration::from_secs(10));
        state.lease_lost(&control, now + Duration::from_secs(3));
        state.stop_asked(&control, now + Duration::from_secs(20));
        assert_eq!(state.abandon_at, Some(now + Duration::from_secs(3)));
        assert!(state.stopping && state.lease_gone);
        state.abandon_due(&control);
        assert_eq!(state.abandon_at, None);
    }
}
