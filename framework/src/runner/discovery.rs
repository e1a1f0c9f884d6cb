//! Finding what to read: the table's stream (and an older one left unfinished), its shards
//! page by page, and each shard's place in the lineage (a child waits for its parent); and
//! the retries of those calls.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use tokio::time::Instant;

use super::builder::{Runner, Target};
use super::checkpoint::{Checkpoint, CheckpointStore};
use super::lease::Leases;
use super::report::{DataLoss, RunReport, RunnerError};
use super::session::Session;
use super::settings::StartPosition;
use super::shard::{Phase, ShardState};
use super::source::{ShardDescription, SourceError, StartAt, StreamSource};

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    pub(crate) async fn open(&self) -> Result<Session, RunnerError> {
        crate::router::serve::warn_if_blocking_can_delay_the_answer();
        self.open_at(self.settings.start).await
    }

    pub(crate) async fn open_at(&self, start: StartPosition) -> Result<Session, RunnerError> {
        let (arn, next_stream) = match &self.target {
            Target::Arn(arn) => (arn.clone(), None),
            Target::Table(table) => self.stream_to_resume(table).await?,
        };
        tracing::info!(stream_arn = %arn, "reading stream");
        let (stop, _) = tokio::sync::watch::channel(false);
        let mut session = Session {
            arn,
            shards: BTreeMap::new(),
            report: RunReport::default(),
            discovered: None,
            leases: Leases::default(),
            started: Instant::now(),
            stop,
            last_health: RunReport::default(),
            next_stream,
            contended: false,
        };
        self.discover(&mut session, start).await?;
        Ok(session)
    }

    /// The stream to read: the latest, unless this consumer left an older stream of the
    /// table (one disabled since) unfinished: then that one, and the latest after it.
    pub(super) async fn stream_to_resume(&self, table: &str) -> Result<(String, Option<String>), RunnerError> {
        let streams = self.retrying(|| self.source.streams_of_table(table)).await?;
        let Some((latest, older)) = streams.split_last() else {
            return Err(RunnerError::Source(SourceError::NotFound(format!("table `{table}` has no stream"))));
        };
        for old in older {
            if self.left_unfinished(old).await? {
                tracing::warn!(
                    table, stream_arn = %old, new_stream_arn = %latest,
                    "this consumer left an older stream of the table unfinished (the stream was disabled and enabled \
                     again): reading it to its end first"
                );
                return Ok((old.clone(), Some(latest.clone())));
            }
        }
        Ok((latest.clone(), None))
    }

    /// Whether this consumer has checkpoints in the stream and not every shard finished.
    pub(super) async fn left_unfinished(&self, stream_arn: &str) -> Result<bool, RunnerError> {
        let mut after: Option<String> = None;
        let (mut any, mut all_finished) = (false, true);
        loop {
            let page = match self.source.describe(stream_arn, after.as_deref()).await {
                Ok(page) => page,
                // Gone from the stream service: nothing left to read there.
                Err(SourceError::NotFound(_)) => return Ok(false),
                Err(error) => return Err(RunnerError::Source(error)),
            };
            for shard in &page.shards {
                let entry =
                    self.checkpoints.load(stream_arn, &shard.shard_id).await.map_err(RunnerError::Checkpoint)?;
                any |= entry.checkpoint.is_some();
                all_finished &= entry.checkpoint == Some(Checkpoint::Finished);
            }
            match page.last_evaluated_shard_id {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        Ok(any && !all_finished)
    }

    /// A stream call with backoff on throttling and up to `source_retries` other failures.
    pub(crate) async fn retrying<T, F: Future<Output = Result<T, SourceError>>>(
        &self,
        call: impl Fn() -> F,
    ) -> Result<T, RunnerError> {
        let mut failures = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error @ (SourceError::NotFound(_) | SourceError::Trimmed(_))) => {
                    return Err(RunnerError::Source(error))
                }
                Err(error) => {
                    failures += 1;
                    if !self.settings.retries_source(&error, failures) {
                        return Err(RunnerError::Source(error));
                    }
                    let wait = self.settings.backoff(failures);
                    tracing::warn!(%error, retry_in = ?wait, "stream call failed; backing off");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Lists every shard (every `DescribeStream` page), adds the new ones with their
    /// checkpoints, and drops finished shards the stream no longer lists.
    pub(crate) async fn discover(&self, session: &mut Session, start: StartPosition) -> Result<(), RunnerError> {
        let first = session.discovered.is_none();
        let mut listed: Vec<ShardDescription> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.retrying(|| self.source.describe(&session.arn, after.as_deref())).await?;
            listed.extend(page.shards);
            match page.last_evaluated_shard_id {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        let ids: HashSet<String> = listed.iter().map(|s| s.shard_id.clone()).collect();
        session.shards.retain(|id, shard| {
            let keep = ids.contains(id) || shard.phase == Phase::Reading;
            if !keep {
                tracing::debug!(shard_id = %id, "shard no longer listed; dropped");
            }
            keep
        });
        for description in listed {
            if let Some(known) = session.shards.get_mut(&description.shard_id) {
                known.closed = description.closed;
                continue;
            }
            let stored = self
                .checkpoints
                .load(&session.arn, &description.shard_id)
                .await
                .map_err(RunnerError::Checkpoint)?
                .checkpoint;
            self.check_parent(session, &ids, &description).await?;
            let (start_at, skip) = match (&stored, first, start) {
                (Some(Checkpoint::At(seq)), _, _) => (StartAt::At(seq.clone()), false),
                (Some(Checkpoint::After(seq)), _, _) => (StartAt::After(seq.clone()), false),
                (Some(Checkpoint::Finished), _, _) => (StartAt::TrimHorizon, true),
                (None, true, StartPosition::Latest) => (StartAt::Latest, description.closed),
                (None, _, _) => (StartAt::TrimHorizon, false),
            };
            tracing::info!(
                shard_id = %description.shard_id, parent = ?description.parent_shard_id, closed = description.closed,
                start = ?start_at, "shard found"
            );
            let mut shard =
                ShardState::new(description.shard_id.clone(), description.parent_shard_id, stored, start_at);
            shard.closed = description.closed;
            if skip {
                shard.phase = Phase::Finished;
            }
            session.shards.insert(description.shard_id, shard);
        }
        session.discovered = Some(Instant::now());
        Ok(())
    }

    /// A new shard whose parent is gone from the stream (trimmed after 24 hours) while
    /// this consumer's checkpoint says the parent was not finished: the parent's unread
    /// records are lost, and that is reported, never hidden.
    pub(super) async fn check_parent(
        &self,
        session: &mut Session,
        listed: &HashSet<String>,
        shard: &ShardDescription,
    ) -> Result<(), RunnerError> {
        let Some(parent) = &shard.parent_shard_id else { return Ok(()) };
        if listed.contains(parent) || session.shards.contains_key(parent) {
            return Ok(());
        }
        let after = match self.checkpoints.load(&session.arn, parent).await.map_err(RunnerError::Checkpoint)?.checkpoint
        {
            Some(Checkpoint::After(seq)) => Some(seq),
            Some(Checkpoint::At(_)) => None,
            Some(Checkpoint::Finished) | None => return Ok(()),
        };
        let loss = DataLoss {
            shard_id: parent.clone(),
            after,
            message: format!(
                "the shard is no longer in the stream, unfinished; its child {} is read now",
                shard.shard_id
            ),
        };
        self.report_data_loss(loss, &mut session.report)
    }
}
