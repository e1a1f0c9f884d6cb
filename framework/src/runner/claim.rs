//! Owning shards: a standby's look at the leases it watches and its takeover of a free or
//! abandoned one, the heartbeat that renews what this runner holds, and the release when
//! it stops. See `lease` for why no two runners can hold one shard.

use std::time::Duration;

use tokio::time::Instant;

use super::builder::Runner;
use super::checkpoint::{CheckpointError, CheckpointStore};
use super::lease::{Held, Lease, Leases};
use super::report::{RunReport, RunnerError};
use super::session::Session;
use super::shard::{Phase, ShardState, Watch};
use super::source::StreamSource;

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Looks at every standby shard whose look is due: a shard finished meanwhile is
    /// finished here too; a lease nobody holds, or this owner's own (a restart under the
    /// same name), is taken at once; a lease whose heartbeat stood still for its whole
    /// duration is taken over.
    pub(crate) async fn contend(&self, session: &mut Session) -> Result<(), RunnerError> {
        let now = Instant::now();
        let arn = session.arn.clone();
        let leases = session.leases.clone();
        // `Latest` applies only to a shard taken free on this runner's first look: one
        // taken later, or over, may hold records an earlier owner never read.
        let first_look = !std::mem::replace(&mut session.contended, true);
        for shard in session.shards.values_mut() {
            if shard.phase != Phase::Standby || shard.watch.as_ref().is_some_and(|w| w.next_look > now) {
                continue;
            }
            let entry = self.checkpoints.load(&arn, &shard.id).await.map_err(RunnerError::Checkpoint)?;
            // What was read is as of now, not of when this pass began.
            let now = Instant::now();
            if entry.checkpoint == Some(super::Checkpoint::Finished) {
                shard.stored = entry.checkpoint;
                shard.phase = Phase::Finished;
                continue;
            }
            let look = self.settings.lease_duration / 3;
            let watch = match (entry.lease, shard.watch.take()) {
                (None, _) => {
                    if !first_look {
                        shard.not_latest();
                    }
                    self.take(&arn, shard, &leases, None, &mut session.report).await?;
                    continue;
                }
                (Some(lease), _) if lease.owner == self.settings.owner => {
                    tracing::info!(shard_id = %shard.id, "this owner held the shard before it restarted; taking it back");
                    shard.not_latest();
                    self.take(&arn, shard, &leases, Some(&lease), &mut session.report).await?;
                    continue;
                }
                (Some(lease), Some(watch)) if watch.seen.as_ref() == Some(&lease) => {
                    let waited = now.saturating_duration_since(watch.since);
                    if waited >= lease.duration.max(self.settings.lease_duration) {
                        tracing::warn!(
                            shard_id = %shard.id, owner = %lease.owner, waited = ?waited,
                            "the shard's owner stopped renewing its lease; taking the shard over"
                        );
                        shard.not_latest();
                        if self.take(&arn, shard, &leases, Some(&lease), &mut session.report).await? {
                            session.report.shards_taken_over.push(shard.id.clone());
                        }
                        continue;
                    }
                    Watch { next_look: now + look, ..watch }
                }
                (Some(lease), previous) => {
                    let alive = previous.is_some_and(|w| w.seen.as_ref().is_some_and(|seen| seen.owner == lease.owner));
                    if !alive {
                        tracing::info!(shard_id = %shard.id, owner = %lease.owner, "shard owned by another runner; standing by");
                    }
                    Watch { seen: Some(lease), since: now, alive, next_look: now + look }
                }
            };
            shard.watch = Some(watch);
        }
        Ok(())
    }

    /// Takes the shard's lease from `expected`; on success the shard is read from its
    /// checkpoint as stored now. `Ok(false)`: another runner took it first.
    async fn take(
        &self,
        arn: &str,
        shard: &mut ShardState,
        leases: &Leases,
        expected: Option<&Lease>,
        report: &mut RunReport,
    ) -> Result<bool, RunnerError> {
        let next = Lease::next(&self.settings.owner, expected, self.settings.lease_duration);
        let sent = Instant::now();
        match self.checkpoints.lease(arn, &shard.id, expected, &next).await {
            Ok(()) => {}
            Err(CheckpointError::Conflict { .. }) => {
                tracing::debug!(shard_id = %shard.id, "another runner took the shard first");
                shard.watch = None;
                return Ok(false);
            }
            Err(error) => return Err(RunnerError::Checkpoint(error)),
        }
        leases.insert(&shard.id, Held::new(arn, next, sent));
        // The checkpoint as the last owner left it: it can no longer move it.
        let entry = self.checkpoints.load(arn, &shard.id).await.map_err(RunnerError::Checkpoint)?;
        shard.owned_from(entry.checkpoint);
        tracing::info!(shard_id = %shard.id, owner = %self.settings.owner, start = ?shard.start, "shard owned");
        report.shards_acquired += 1;
        Ok(true)
    }

    /// Shards whose lease this runner no longer holds (taken over while its renewals were
    /// late) go back to standby.
    pub(crate) fn notice_lost(&self, session: &mut Session) {
        for shard in session.shards.values_mut() {
            if shard.phase == Phase::Reading && session.leases.get(&shard.id).is_none() {
                tracing::warn!(shard_id = %shard.id, "this runner lost the shard's lease to another runner; it is read there now");
                shard.disowned();
                session.report.shards_lost.push(shard.id.clone());
            }
        }
    }

    /// Renews every held lease a third of its duration after the last renewal, forever. A
    /// lease someone else took meanwhile is dropped (its shard's work stops before its next
    /// record); a renewal the store refuses is tried again a second later, and the lease
    /// lapses, stopping its shard's work, if none succeeds in time.
    pub(crate) async fn heartbeat(&self, leases: &Leases) -> std::convert::Infallible {
        let most = (self.settings.lease_duration / 6).max(Duration::from_millis(10));
        loop {
            let now = Instant::now();
            let held = leases.all();
            let next = held.iter().map(|(_, held)| held.renew_at).min().unwrap_or(now + most);
            tokio::time::sleep_until(next.min(now + most)).await;
            for (shard_id, held) in held.into_iter().filter(|(_, held)| held.renew_at <= Instant::now()) {
                let next = Lease::next(&self.settings.owner, Some(&held.lease), held.lease.duration);
                let sent = Instant::now();
                // A retry that finds an earlier attempt applied counts from that attempt.
                let first_sent = held.renewing_since.unwrap_or(sent);
                let still_held = |leases: &Leases| leases.get(&shard_id).is_some_and(|now| now.lease == held.lease);
                match self.checkpoints.lease(&held.stream_arn, &shard_id, Some(&held.lease), &next).await {
                    // Unless the shard was given up meanwhile.
                    Ok(()) if still_held(leases) => {
                        tracing::trace!(shard_id = %shard_id, heartbeat = next.heartbeat, "lease renewed");
                        leases.insert(&shard_id, Held::new(&held.stream_arn, next, first_sent));
                    }
                    Ok(()) => {}
                    Err(CheckpointError::Conflict { .. }) => {
                        tracing::warn!(shard_id = %shard_id, "lease lost: another runner took the shard over; no further record of it starts here");
                        leases.remove(&shard_id);
                    }
                    Err(error) if still_held(leases) => {
                        let retry = (held.lease.duration / 10).min(Duration::from_secs(1));
                        tracing::warn!(shard_id = %shard_id, %error, retry_in = ?retry, "could not renew the shard's lease; trying again");
                        let renew_at = Instant::now() + retry;
                        leases.insert(&shard_id, Held { renew_at, renewing_since: Some(first_sent), ..held });
                    }
                    Err(_) => {}
                }
            }
        }
    }

    /// Gives up every held lease, so standbys take the shards at once.
    pub(crate) async fn release_all(&self, session: &mut Session) {
        for (shard_id, _) in session.leases.all() {
            if session.shards.get(&shard_id).is_some_and(|s| s.abandoned_work) {
                session.leases.remove(&shard_id);
                tracing::warn!(shard_id = %shard_id, "records abandoned on this shard may still be running: its lease is left to lapse, not released");
                continue;
            }
            self.release(&shard_id, &session.leases).await;
        }
    }

    /// Gives up one shard's lease (a finished shard needs no owner; a stopping runner
    /// hands its shards to the standbys).
    pub(crate) async fn release(&self, shard_id: &str, leases: &Leases) {
        let Some(held) = leases.remove(shard_id) else { return };
        match self.checkpoints.release(&held.stream_arn, shard_id, &held.lease).await {
            Ok(()) => tracing::debug!(shard_id = %shard_id, "lease released"),
            Err(error) => {
                tracing::warn!(shard_id = %shard_id, %error, "could not release the lease; it lapses by itself")
            }
        }
    }

    /// A table whose stream was disabled and enabled again has a new stream: this is said
    /// once, the old stream's shards (closed, readable for 24 hours) are read to their end,
    /// then the runner moves to the new stream and reads it from its start.
    pub(crate) async fn follow_stream(&self, session: &mut Session, table: &str) -> Result<bool, RunnerError> {
        let latest = match self.source.stream_of_table(table).await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::debug!(%error, "could not look for a newer stream of the table");
                return Ok(false);
            }
        };
        if latest == session.arn {
            return Ok(false);
        }
        if session.next_stream.as_deref() != Some(latest.as_str()) {
            tracing::warn!(
                table, stream_arn = %session.arn, new_stream_arn = %latest,
                "the table's stream was disabled and enabled again: this runner reads the old stream's closed \
                 shards to their end, then the new stream from its start"
            );
            session.next_stream = Some(latest.clone());
        }
        if session.shards.values().any(|s| s.phase != Phase::Finished) {
            return Ok(false);
        }
        self.release_all(session).await;
        tracing::info!(table, stream_arn = %latest, "reading the table's new stream");
        session.report.streams_followed.push(latest.clone());
        session.arn = latest;
        session.shards.clear();
        session.next_stream = None;
        session.forget_discovery();
        Ok(true)
    }

    /// With nothing owned and every unfinished shard held by a live owner (seen renewing),
    /// a runner that is not a standby stops with an error once it has watched for a whole
    /// lease duration.
    pub(crate) fn nothing_to_own(&self, session: &Session) -> Result<(), RunnerError> {
        if self.settings.standby || !session.leases.all().is_empty() {
            return Ok(());
        }
        if session.started.elapsed() < self.settings.lease_duration {
            return Ok(());
        }
        let standby: Vec<&ShardState> = session.shards.values().filter(|s| s.phase == Phase::Standby).collect();
        // Renewals come every third of the duration and looks as often: a live owner's
        // heartbeat is never seen standing still for three quarters of it.
        let live = |s: &&ShardState| {
            s.watch.as_ref().is_some_and(|w| w.alive && w.since.elapsed() < self.settings.lease_duration * 3 / 4)
        };
        if standby.is_empty() || !standby.iter().all(live) {
            return Ok(());
        }
        let mut owners: Vec<String> =
            standby.iter().filter_map(|s| s.watch.as_ref()?.seen.as_ref().map(|l| l.owner.clone())).collect();
        owners.sort();
        owners.dedup();
        Err(RunnerError::NothingToOwn { stream_arn: session.arn.clone(), owners })
    }
}
