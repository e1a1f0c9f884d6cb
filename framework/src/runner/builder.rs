//! The runner and its builder: what it reads, into which router, with which checkpoint
//! store and settings.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::checkpoint::{CheckpointStore, MemoryCheckpoints};
use super::report::FailedRecord;
use super::settings::{OnDataLoss, Settings, Sink, StartPosition};
use super::source::StreamSource;
use crate::error::BoxError;
use crate::router::Router;

/// Which stream to read.
#[derive(Clone, Debug)]
pub(crate) enum Target {
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
    pub(crate) target: Target,
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
    /// `false`: it stops with [`RunnerError::NothingToOwn`](super::RunnerError::NothingToOwn) after watching the leases for
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
}
