//! Whether a record may start: the invocation's time (its deadline less the margin, so the
//! answer reaches Lambda first), a stop (the answer sent without its worker, a runner's stop
//! request), and the caller's own condition (a runner's lease).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::Either;
use tokio::time::Instant;

/// Whether a record may start, and when running work must be abandoned: the invocation's
/// deadline less a safety margin, so the response is sent before Lambda's timeout turns the
/// whole batch into a failure. It also closes when stopped (the invocation answered
/// without its worker, a stop request) or when the caller's own condition fails.
#[derive(Clone)]
pub(crate) struct StartGate {
    cutoff: Option<Instant>,
    /// Lambda's deadline itself, on the system clock.
    at: Option<SystemTime>,
    stopped: Arc<AtomicBool>,
    /// The caller's own condition for starting a record.
    may_start: Option<super::control::MayStart>,
}

impl std::fmt::Debug for StartGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartGate").field("cutoff", &self.cutoff).field("at", &self.at).finish_non_exhaustive()
    }
}

impl StartGate {
    /// From the Lambda context's deadline. Lambda sends epoch milliseconds. A deadline of 0,
    /// as in `Context::default()`, means none is known: records are never cut short. A value
    /// too small to be an epoch timestamp (before 2001) is a time budget from now: that is
    /// what `cargo lambda watch`'s emulator sends (600000, ten minutes).
    pub(crate) fn new(deadline_ms: u64, margin: Duration) -> Self {
        const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;
        let remaining = match deadline_ms {
            0 => return Self { cutoff: None, at: None, stopped: Arc::default(), may_start: None },
            budget if budget < EPOCH_MS_FLOOR => Duration::from_millis(budget),
            epoch => {
                let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(epoch);
                deadline.duration_since(SystemTime::now()).unwrap_or_default()
            }
        };
        Self {
            cutoff: Some(Instant::now() + remaining.saturating_sub(margin)),
            at: Some(SystemTime::now() + remaining),
            stopped: Arc::default(),
            may_start: None,
        }
    }

    /// Stopped also when `control` says so: its flag set, or its own condition false.
    pub(crate) fn steered_by(mut self, control: &super::Control) -> Self {
        self.stopped = Arc::clone(&control.stopped);
        self.may_start = control.may_start.clone();
        self
    }

    /// Lambda's deadline (not less the margin), if known.
    pub(crate) fn at(&self) -> Option<SystemTime> {
        self.at
    }

    /// When the margin is reached, if a deadline is known.
    pub(crate) fn cutoff(&self) -> Option<Instant> {
        self.cutoff
    }

    /// No record may start from now on: the invocation has been answered without waiting
    /// for its records, or must be.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// Whether the margin has been reached (or processing was stopped): no further record
    /// may start.
    pub(crate) fn closed(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
            || self.cutoff.is_some_and(|cutoff| Instant::now() >= cutoff)
            || self.may_start.as_ref().is_some_and(|may_start| !may_start())
    }

    /// Runs `work` until it ends or the margin is reached; on the margin `work` is handed
    /// back unfinished, for the caller to abandon.
    pub(crate) async fn run<F: Future + Unpin>(&self, work: F) -> Result<F::Output, F> {
        let Some(cutoff) = self.cutoff else { return Ok(work.await) };
        let margin = std::pin::pin!(tokio::time::sleep_until(cutoff));
        match futures_util::future::select(work, margin).await {
            Either::Left((output, _)) => Ok(output),
            Either::Right(((), work)) => Err(work),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StartGate;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn in_ms(ms: u64) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        u64::try_from(now.as_millis()).unwrap_or(u64::MAX) + ms
    }

    #[tokio::test]
    async fn no_known_deadline_never_expires() {
        let deadline = StartGate::new(0, Duration::from_secs(1));
        assert!(!deadline.closed());
        assert_eq!(deadline.run(Box::pin(async { 7 })).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn margin_is_taken_off_the_deadline() {
        assert!(StartGate::new(in_ms(500), Duration::from_secs(1)).closed());
        assert!(!StartGate::new(in_ms(60_000), Duration::from_secs(1)).closed());
    }

    #[tokio::test]
    async fn a_small_deadline_is_a_budget_from_now() {
        assert!(!StartGate::new(600_000, Duration::from_secs(1)).closed());
        assert!(StartGate::new(500, Duration::from_secs(1)).closed());
    }

    #[tokio::test]
    async fn work_past_the_margin_is_abandoned() {
        let deadline = StartGate::new(in_ms(1_100), Duration::from_secs(1));
        let slow = Box::pin(tokio::time::sleep(Duration::from_secs(30)));
        assert!(deadline.run(slow).await.is_err());
    }

    #[tokio::test]
    async fn a_stopped_deadline_has_expired() {
        let deadline = StartGate::new(0, Duration::from_secs(1));
        deadline.clone().stop();
        assert!(deadline.closed());
    }
}
