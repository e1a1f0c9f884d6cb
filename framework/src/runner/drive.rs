//! The drive loop: every owned shard's turn, again and again, until a stop is asked (or,
//! for a catch-up, until every shard is read to its present end).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::builder::{Runner, Target};
use super::checkpoint::CheckpointStore;
use super::report::{RunReport, RunnerError};
use super::session::Session;
use super::settings::StartPosition;
use super::shard::Phase;
use super::source::StreamSource;

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Runs until `shutdown` completes. From that instant no record starts; records in
    /// flight get [`shutdown_timeout`](Self::shutdown_timeout) to finish, what finished is
    /// checkpointed, the leases are released, and the report is returned.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<RunReport, RunnerError> {
        let mut session = self.open().await?;
        self.drive(&mut session, shutdown, false).await
    }

    /// Runs until Ctrl-C or SIGTERM (listened for from the first instant), then stops as
    /// [`run`](Self::run) does.
    pub async fn run_until_signal(&self) -> Result<RunReport, RunnerError> {
        // The handlers are installed now, before the first read: a signal at any instant
        // stops the runner gracefully.
        self.run(super::shutdown::signal()).await
    }

    /// Runs until every shard is caught up (nothing pending, the last read empty, closed
    /// shards finished and their children found) or `shutdown` completes: for tests,
    /// batch jobs and draining.
    pub async fn run_until_caught_up(&self, shutdown: impl Future<Output = ()>) -> Result<RunReport, RunnerError> {
        let mut session = self.open().await?;
        self.drive(&mut session, shutdown, true).await
    }

    /// The loop, with the heartbeat renewing this runner's leases beside it; on the way
    /// out, whatever the reason, the report gets the owned shards and their lag and the
    /// leases are released.
    pub(crate) async fn drive(
        &self,
        session: &mut Session,
        shutdown: impl Future<Output = ()>,
        until_caught_up: bool,
    ) -> Result<RunReport, RunnerError> {
        let leases = session.leases.clone();
        let result = tokio::select! {
            result = self.drive_shards(session, shutdown, until_caught_up) => result,
            never = self.heartbeat(&leases) => match never {},
        };
        session.report.owned_shards = session.leases.all().into_iter().map(|(id, _)| id).collect();
        session.report.lag_ms = session
            .shards
            .values()
            .filter(|s| session.report.owned_shards.contains(&s.id))
            .filter_map(|s| Some((s.id.clone(), u64::try_from(s.lag?.as_millis()).unwrap_or(u64::MAX))))
            .collect();
        self.health(session);
        self.release_all(session).await;
        result.map(|()| session.report.clone())
    }

    /// Discover when due, look at the leases watched, step every owned ready shard
    /// (concurrently), stop when asked (or caught up), wait when there is nothing to do.
    async fn drive_shards(
        &self,
        session: &mut Session,
        shutdown: impl Future<Output = ()>,
        until_caught_up: bool,
    ) -> Result<(), RunnerError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut discover_now = false;
        let mut health_at = Instant::now() + self.settings.progress_every;
        loop {
            let due = session.discovered.is_none_or(|at| at.elapsed() >= self.settings.rediscover_every);
            if discover_now || due || session.shards.is_empty() {
                let mut start = self.settings.start;
                if let (Target::Table(table), false) = (&self.target, session.discovered.is_none()) {
                    if self.follow_stream(session, table).await? {
                        // Nothing of the new stream was read: all of it is new.
                        start = StartPosition::TrimHorizon;
                    }
                }
                self.discover(session, start).await?;
                discover_now = false;
            }
            self.notice_lost(session);
            self.contend(session).await?;
            self.nothing_to_own(session)?;
            let now = Instant::now();
            let blocked = session.blocked();
            let (arn, leases, stop) = (session.arn.clone(), session.leases.clone(), session.stop.subscribe());
            let ready = session.shards.values_mut().filter(|s| {
                s.phase == Phase::Reading
                    && !blocked.contains(&s.id)
                    && s.not_before.is_none_or(|t| t <= now)
                    && leases.valid(&s.id)
            });
            // A stop asked during the stream and store calls above: nothing more starts.
            if futures_util::FutureExt::now_or_never(shutdown.as_mut()).is_some() {
                tracing::info!(stream_arn = %session.arn, processed = session.report.processed, "stopped: asked to");
                return Ok(());
            }
            let (steps, asked) = {
                let steps = std::pin::pin!(join_all(ready.map(|shard| self.step(&arn, shard, &leases, &stop))));
                select_stop(steps, shutdown.as_mut(), &session.stop).await
            };
            let mut busy = false;
            for step in steps {
                let step = step?;
                busy |= step.processed > 0 || step.sent_to_sink > 0;
                discover_now |= !step.shards_finished.is_empty();
                session.report.merge(step);
            }
            if asked {
                tracing::info!(stream_arn = %session.arn, processed = session.report.processed, "stopped: asked to");
                return Ok(());
            }
            if Instant::now() >= health_at {
                health_at = Instant::now() + self.settings.progress_every;
                self.health(session);
            }
            // No shard finished this round (else `discover_now`), so `blocked` still holds.
            if until_caught_up && !discover_now && session.caught_up(&blocked) {
                tracing::info!(stream_arn = %session.arn, processed = session.report.processed, "caught up");
                return Ok(());
            }
            let immediate = session.shards.values().any(|s| {
                s.phase == Phase::Reading
                    && !blocked.contains(&s.id)
                    && !s.is_idle()
                    && s.not_before.is_none()
                    && leases.valid(&s.id)
            });
            let wait = if busy || discover_now || immediate {
                Duration::ZERO
            } else if session.has_work(&blocked) {
                session.next_retry().map_or(Duration::ZERO, |t| t.saturating_duration_since(Instant::now()))
            } else {
                self.settings.poll_interval
            };
            // Standbys look at their leases on time, and a lost lease is noticed soon.
            let wait = wait.min(self.settings.poll_interval).min(self.settings.lease_duration / 6);
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    tracing::info!(stream_arn = %session.arn, processed = session.report.processed, "stopping: asked to");
                    return Ok(());
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Waits for the shards' turns; if `shutdown` completes first, tells them (no record
/// starts from then on) and still waits for them. Says whether a stop was asked.
async fn select_stop<T>(
    mut steps: Pin<&mut impl Future<Output = T>>,
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
    stop: &tokio::sync::watch::Sender<bool>,
) -> (T, bool) {
    tokio::select! {
        biased;
        () = shutdown.as_mut() => {
            tracing::info!("stopping: asked to; no further record starts");
            stop.send_replace(true);
        }
        done = steps.as_mut() => return (done, false),
    }
    (steps.await, true)
}
