//! The time an invocation may spend on records before it must answer Lambda.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// When processing must stop: the invocation's deadline less a safety margin, so the
/// response is sent before Lambda's timeout turns the whole batch into a failure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    cutoff: Option<Instant>,
}

impl Deadline {
    /// From the Lambda context's deadline. Lambda sends epoch milliseconds. A deadline of 0,
    /// as in `Context::default()`, means none is known: records are never cut short. A value
    /// too small to be an epoch timestamp (before 2001) is a time budget from now: that is
    /// what `cargo lambda watch`'s emulator sends (600000, ten minutes).
    pub(crate) fn new(deadline_ms: u64, margin: Duration) -> Self {
        const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;
        let remaining = match deadline_ms {
            0 => return Self { cutoff: None },
            budget if budget < EPOCH_MS_FLOOR => Duration::from_millis(budget),
            epoch => {
                let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(epoch);
                deadline.duration_since(SystemTime::now()).unwrap_or_default()
            }
        };
        Self { cutoff: Some(Instant::now() + remaining.saturating_sub(margin)) }
    }

    /// Whether the margin has been reached: no further record may start.
    pub(crate) fn expired(&self) -> bool {
        self.cutoff.is_some_and(|cutoff| Instant::now() >= cutoff)
    }

    /// Runs `work` until it ends or the margin is reached; `None` means it was abandoned.
    pub(crate) async fn run<F: Future>(&self, work: F) -> Option<F::Output> {
        match self.cutoff {
            None => Some(work.await),
            Some(cutoff) => tokio::time::timeout_at(cutoff, work).await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Deadline;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn in_ms(ms: u64) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        u64::try_from(now.as_millis()).unwrap_or(u64::MAX) + ms
    }

    #[tokio::test]
    async fn no_known_deadline_never_expires() {
        let deadline = Deadline::new(0, Duration::from_secs(1));
        assert!(!deadline.expired());
        assert_eq!(deadline.run(async { 7 }).await, Some(7));
    }

    #[tokio::test]
    async fn margin_is_taken_off_the_deadline() {
        assert!(Deadline::new(in_ms(500), Duration::from_secs(1)).expired());
        assert!(!Deadline::new(in_ms(60_000), Duration::from_secs(1)).expired());
    }

    #[tokio::test]
    async fn a_small_deadline_is_a_budget_from_now() {
        assert!(!Deadline::new(600_000, Duration::from_secs(1)).expired());
        assert!(Deadline::new(500, Duration::from_secs(1)).expired());
    }

    #[tokio::test]
    async fn work_past_the_margin_is_abandoned() {
        let deadline = Deadline::new(in_ms(1_100), Duration::from_secs(1));
        let slow = tokio::time::sleep(Duration::from_secs(30));
        assert_eq!(deadline.run(slow).await, None);
    }
}
