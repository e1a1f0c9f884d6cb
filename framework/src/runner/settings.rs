//! The runner's settings: where a new shard starts, what data loss does, batch and
//! checkpoint sizes, leases, retries and backoff, and the on-failure sink's shape.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::report::FailedRecord;
use super::source::SourceError;
use crate::error::BoxError;

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
    /// Stop with [`RunnerError::DataLoss`](super::RunnerError::DataLoss) (the default): someone must look.
    #[default]
    Stop,
    /// Log it at error level, add it to [`RunReport::data_loss`](super::RunReport::data_loss), and go on from the
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

/// What follows a failed attempt at a record: [`Settings::after_failure`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Try the record again after `wait`.
    Retry { wait: Duration },
    /// Hand it to the on-failure sink, checkpoint past it and go on.
    Sink,
    /// Stop the runner before it: a restart retries it.
    Stop,
}

impl Settings {
    /// The wait before retry `attempt` (from 1): `backoff_initial`, doubling, at most
    /// `backoff_max`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_initial.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(self.backoff_max)
    }

    /// What follows a record's `attempts`-th failed attempt: another after a backoff while
    /// attempts remain; then the on-failure sink if there is one, else a stop.
    pub(crate) fn after_failure(&self, attempts: u32, has_sink: bool) -> AfterFailure {
        match (attempts < self.max_attempts, has_sink) {
            (true, _) => AfterFailure::Retry { wait: self.backoff(attempts) },
            (false, true) => AfterFailure::Sink,
            (false, false) => AfterFailure::Stop,
        }
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

#[cfg(test)]
mod tests {
    use super::{AfterFailure, Settings};
    use std::time::Duration;

    #[test]
    fn a_failed_record_is_retried_with_backoff_then_sunk_or_stopped_at_the_last_attempt() {
        let settings = Settings {
            max_attempts: 3,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(150),
            ..Settings::default()
        };
        assert_eq!(settings.after_failure(1, false), AfterFailure::Retry { wait: Duration::from_millis(100) });
        assert_eq!(settings.after_failure(2, true), AfterFailure::Retry { wait: Duration::from_millis(150) });
        assert_eq!(settings.after_failure(3, true), AfterFailure::Sink);
        assert_eq!(settings.after_failure(3, false), AfterFailure::Stop);
        assert_eq!(settings.after_failure(4, false), AfterFailure::Stop);
    }
}
