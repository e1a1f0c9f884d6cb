//! The runner: settings, shard discovery and lineage, and the loop that reads every
//! shard until it is asked to stop.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::checkpoint::{Checkpoint, CheckpointStore, MemoryCheckpoints};
use super::lease::Leases;
use super::report::{DataLoss, FailedRecord, RunReport, RunnerError};
use super::shard::{Phase, ShardState};
use super::source::{ShardDescription, SourceError, StartAt, StreamSource};
use crate::{BoxError, Router};

/// Where a shard without a checkpoint starts, on the runner's first look at the stream.
/// Shards that appear later (children of splits) always start at their beginning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartPosition {
    /// The oldest record the stream holds (up to 24 hours back). The default.
    #[default]
    TrimHorizon,
    /// Only what is written from now on.
    Latest,
}

/// What to do when the stream says records were trimmed before they were read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDataLoss {
    /// Stop with [`RunnerError::DataLoss`] (the default): someone must look.
    #[default]
    Stop,
    /// Log it at error level, add it to [`RunReport::data_loss`], and go on from the
    /// oldest record the stream holds.
    Continue,
}

/// The runner's settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) start: StartPosition,
    pub(crate) batch_size: usize,
    pub(crate) checkpoint_every: usize,
    pub(crate) max_attempts: u32,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) rediscover_every: Duration,
    pub(crate) on_data_loss: OnDataLoss,
    pub(crate) source_retries: u32,
    pub(crate) bookmark_refresh: Duration,
    pub(crate) owner: String,
    pub(crate) lease_duration: Duration,
    pub(crate) standby: bool,
    pub(crate) checkpoint_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) read_ahead: bool,
    pub(crate) progress_every: Duration,
}

impl Settings {
    /// The wait before retry `attempt` (from 1): `backoff_initial`, doubling, at most
    /// `backoff_max`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_initial.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(self.backoff_max)
    }

    /// Whether a stream call that failed `failures` times in a row is tried again:
    /// throttling always, anything else up to `source_retries` times.
    pub(crate) fn retries_source(&self, error: &SourceError, failures: u32) -> bool {
        matches!(error, SourceError::Throttled(_)) || failures <= self.source_retries
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            start: StartPosition::TrimHorizon,
            batch_size: 1_000,
            checkpoint_every: 100,
            max_attempts: 5,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            rediscover_every: Duration::from_secs(60),
            on_data_loss: OnDataLoss::Stop,
            source_retries: 8,
            bookmark_refresh: Duration::from_secs(60),
            owner: super::lease::default_owner(),
            lease_duration: Duration::from_secs(10),
            standby: false,
            checkpoint_interval: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(20),
            read_ahead: true,
            progress_every: Duration::from_secs(30),
        }
    }
}

pub(crate) type Sink =
    Arc<dyn Fn(FailedRecord) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send + Sync>;

/// Which stream to read.
#[derive(Clone, Debug)]
enum Target {
    Table(String),
    Arn(String),
}

/// Reads a live stream outside Lambda and feeds it to a [`Router`] with Lambda's
/// semantics: records of a shard in order, in batches; on a failure, everything before the
/// failed record is checkpointed and the failed record is retried with backoff; after the
/// last attempt it goes to the on-failure sink, or the runner stops with the checkpoint
/// just before it.
///
/// Shards are found with `DescribeStream` (every page) at start, every
/// [`rediscover_every`](Self::rediscover_every), and whenever a shard finishes; a child
/// shard is read only after its parent is finished; a closed shard is read to its end,
/// checkpointed as finished, and never read again. Expired iterators are replaced from
/// the checkpoint, throttling backs off, and trimmed data is reported as data loss. See
/// the [module docs](crate::runner) for an example.
///
/// # AWS permissions
///
/// The runner calls AWS only through its source and its checkpoint store; the router's
/// handlers and the on-failure sink make their own calls, with their own permissions. With
/// [`DynamoDbStreams`](super::DynamoDbStreams) and
/// [`DynamoDbCheckpoints`](super::DynamoDbCheckpoints) (each one's docs say more):
///
/// - `dynamodb:DescribeStream`, `dynamodb:GetShardIterator` and `dynamodb:GetRecords` on the
///   table's streams (`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/*`: a runner
///   given a table also describes, and may finish reading, an older stream of it).
/// - `dynamodb:ListStreams` on `"*"`, unless the runner is given the stream's ARN
///   ([`stream_arn`](Self::stream_arn)): it finds the table's streams with it at start, and
///   looks for a newer one at every rediscovery.
/// - `dynamodb:GetItem` and `dynamodb:UpdateItem` on the checkpoint table.
/// - [`bootstrap`](Self::bootstrap) adds nothing but the scan it is given
///   ([`scan_table`](super::scan_table): `dynamodb:Scan` on the table).
pub struct Runner<S, C = MemoryCheckpoints> {
    pub(crate) source: S,
    pub(crate) router: Router,
    pub(crate) checkpoints: C,
    pub(crate) settings: Settings,
    pub(crate) sink: Option<Sink>,
    target: Target,
}

impl<S: StreamSource> Runner<S, MemoryCheckpoints> {
    /// A runner reading `table`'s stream through `source` into `router`, with in-memory
    /// checkpoints (set a lasting store with [`checkpoints`](Self::checkpoints)).
    pub fn new(source: S, table: impl Into<String>, router: Router) -> Self {
        Self {
            source,
            router,
            checkpoints: MemoryCheckpoints::new(),
            settings: Settings::default(),
            sink: None,
            target: Target::Table(table.into()),
        }
    }
}

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Reads this stream ARN instead of looking up the table's stream with `ListStreams`.
    pub fn stream_arn(mut self, arn: impl Into<String>) -> Self {
        self.target = Target::Arn(arn.into());
        self
    }

    /// Keeps checkpoints in `store`, so a restarted runner resumes after them.
    pub fn checkpoints<D: CheckpointStore>(self, store: D) -> Runner<S, D> {
        Runner {
            source: self.source,
            router: self.router,
            checkpoints: store,
            settings: self.settings,
            sink: self.sink,
            target: self.target,
        }
    }

    /// Where shards without a checkpoint start on the first look (default `TrimHorizon`).
    pub fn start_at(mut self, start: StartPosition) -> Self {
        self.settings.start = start;
        self
    }

    /// Records per `GetRecords` call, 1 to 1,000 (default 1,000, the API's most).
    pub fn batch_size(mut self, records: usize) -> Self {
        self.settings.batch_size = records.clamp(1, 1_000);
        self
    }

    /// Records per router batch, each batch checkpointed when it is processed (default 100,
    /// Lambda's default `BatchSize`): a crash repeats at most this many records of a shard
    /// (fewer when [`checkpoint_interval`](Self::checkpoint_interval) comes first).
    pub fn checkpoint_every(mut self, records: usize) -> Self {
        self.settings.checkpoint_every = records.max(1);
        self
    }

    /// Within a router batch, checkpoints what is done every `interval` (default 5 s), so
    /// slow handlers cannot hold a checkpoint back for long: a crash repeats at most
    /// `checkpoint_every` records or `interval` of work, whichever is less.
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.settings.checkpoint_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// This runner's name in the shard leases (default: host name, process id and a few
    /// bits of the start time, unique to this process). Two runners running at once must
    /// have different names. A runner restarted under the name it had takes its leases
    /// back at once instead of waiting for them to lapse. With the default, a restarted
    /// process is a new owner and waits out its predecessor's lease (10 s by default) before
    /// it reads: give a stable name (the host or task) to a runner restarted in place, and
    /// keep the default where two processes of one name could run at once (a rolling
    /// deploy).
    pub fn owner(mut self, name: impl Into<String>) -> Self {
        self.settings.owner = name.into();
        self
    }

    /// How long a shard's lease lasts without a renewal (default 10 s; renewed every
    /// third of it): a standby takes a shard over this long after its owner stopped
    /// renewing (a stopped runner releases its leases, so its standby takes over at once).
    pub fn lease_duration(mut self, duration: Duration) -> Self {
        self.settings.lease_duration = duration.max(Duration::from_millis(30));
        self
    }

    /// Whether this runner waits as a standby when other runners own every shard (default
    /// `false`: it stops with [`RunnerError::NothingToOwn`] after watching the leases for
    /// one lease duration).
    pub fn standby(mut self, standby: bool) -> Self {
        self.settings.standby = standby;
        self
    }

    /// On a stop request, how long records already running may take before they are
    /// abandoned, their records not checkpointed (default 20 s, inside the 30 s most
    /// platforms allow between SIGTERM and SIGKILL). No record starts after the request.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// Whether a shard's next page is read while its last pending records are processed
    /// (default on).
    pub fn read_ahead(mut self, enabled: bool) -> Self {
        self.settings.read_ahead = enabled;
        self
    }

    /// Attempts per failing record before it goes to the sink or the runner stops
    /// (default 5, at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts.max(1);
        self
    }

    /// Backoff between attempts and after throttling: `initial`, doubling, at most `max`
    /// (default 200 ms to 30 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.settings.backoff_initial = initial;
        self.settings.backoff_max = max.max(initial);
        self
    }

    /// How long to wait when every shard is caught up (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval;
        self
    }

    /// How often to look for new shards (default 60 s; also whenever a shard finishes).
    pub fn rediscover_every(mut self, interval: Duration) -> Self {
        self.settings.rediscover_every = interval;
        self
    }

    /// What to do about trimmed data (default: stop).
    pub fn on_data_loss(mut self, policy: OnDataLoss) -> Self {
        self.settings.on_data_loss = policy;
        self
    }

    /// Consecutive failures of a stream call (other than throttling, which backs off
    /// without limit) before the run stops with the error (default 8).
    pub fn source_retries(mut self, retries: u32) -> Self {
        self.settings.source_retries = retries;
        self
    }

    /// During a bootstrap scan, how often the bookmarks are read to keep them from
    /// expiring (iterators live 15 minutes; default 60 s).
    pub fn bookmark_refresh(mut self, interval: Duration) -> Self {
        self.settings.bookmark_refresh = interval;
        self
    }

    /// Hands a record that failed every attempt to `sink` (an SQS queue, a table, a file)
    /// and moves on. Without a sink the runner stops instead. If the sink fails, the run
    /// stops with the checkpoint still before the record.
    pub fn on_failure_sink<F, Fut>(mut self, sink: F) -> Self
    where
        F: Fn(FailedRecord) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.sink = Some(Arc::new(move |failed| Box::pin(sink(failed))));
        self
    }

    /// The router, for instance to inspect its routes.
    pub fn router(&self) -> &Router {
        &self.router
    }

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

    pub(crate) async fn open(&self) -> Result<Session, RunnerError> {
        crate::runtime::warn_if_blocking_can_delay_the_answer();
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
    async fn stream_to_resume(&self, table: &str) -> Result<(String, Option<String>), RunnerError> {
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
    async fn left_unfinished(&self, stream_arn: &str) -> Result<bool, RunnerError> {
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
    async fn check_parent(
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

/// One run's view of the stream.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) arn: String,
    pub(crate) shards: BTreeMap<String, ShardState>,
    pub(crate) report: RunReport,
    discovered: Option<Instant>,
    /// The leases this runner holds.
    pub(crate) leases: Leases,
    pub(crate) started: Instant,
    /// Tells the shards' turns that a stop was asked.
    stop: tokio::sync::watch::Sender<bool>,
    /// The report as of the last health line.
    pub(crate) last_health: RunReport,
    /// The table's newer stream, once seen (the stream was re-enabled).
    pub(crate) next_stream: Option<String>,
    /// The leases were looked at once already.
    pub(crate) contended: bool,
}

impl Session {
    /// The next round discovers shards as on a first look.
    pub(crate) fn forget_discovery(&mut self) {
        self.discovered = None;
    }

    /// Shards whose parent is known and not finished yet.
    fn blocked(&self) -> HashSet<String> {
        self.shards
            .values()
            .filter(|s| {
                s.parent
                    .as_ref()
                    .and_then(|parent| self.shards.get(parent))
                    .is_some_and(|parent| parent.phase != Phase::Finished)
            })
            .map(|s| s.id.clone())
            .collect()
    }

    /// Nothing left to do until new records arrive (a shard another runner holds is not
    /// caught up: this runner cannot tell).
    fn caught_up(&self, blocked: &HashSet<String>) -> bool {
        !self.has_work(blocked)
            && self.shards.values().all(|s| (s.is_idle() && s.phase != Phase::Standby) || blocked.contains(&s.id))
    }

    /// Some readable shard has records pending or was not caught up at its last read (a
    /// shard whose lease is not valid now, its renewal failing, is not readable).
    fn has_work(&self, blocked: &HashSet<String>) -> bool {
        self.shards
            .values()
            .any(|s| s.phase == Phase::Reading && !blocked.contains(&s.id) && !s.is_idle() && self.leases.valid(&s.id))
    }

    fn next_retry(&self) -> Option<Instant> {
        self.shards
            .values()
            .filter(|s| s.phase == Phase::Reading && self.leases.valid(&s.id))
            .filter_map(|s| s.not_before)
            .min()
    }
}

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
