//! A caller's hold on one invocation in flight (the runner's): stop starting records,
//! abandon the ones running, and read how far it got, while it runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::progress::Progress;
use super::replay::Redrive;

/// Whether a record may start now, asked before each record (the runner: while its lease
/// on the shard is valid).
pub(crate) type MayStart = Arc<dyn Fn() -> bool + Send + Sync>;

/// Shared with the invocation it steers; clones steer the same invocation.
#[derive(Clone, Default)]
pub(crate) struct Control {
    /// No record may start once set (the invocation's deadline reads it).
    pub(crate) stopped: Arc<AtomicBool>,
    abandon: Arc<Notify>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) may_start: Option<MayStart>,
    /// Set when the invocation is a redrive (its handlers can tell).
    pub(crate) redrive: Option<Redrive>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("stopped", &self.stopped).finish_non_exhaustive()
    }
}

// The runner (feature `runner`) is what stops, abandons and reads progress.
#[cfg_attr(not(feature = "runner"), allow(dead_code))]
impl Control {
    /// Records start only while `may_start` says so.
    pub(crate) fn only_while(mut self, may_start: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.may_start = Some(Arc::new(may_start));
        self
    }

    /// The invocation is a redrive, treating forgotten records as `redrive` says.
    #[cfg_attr(not(feature = "redrive"), allow(dead_code))]
    pub(crate) fn redriven(mut self, redrive: Redrive) -> Self {
        self.redrive = Some(redrive);
        self
    }

    /// No further record starts; the ones running finish.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// No further record starts, and the ones running are abandoned as at the deadline
    /// margin: the invocation answers from its progress at once.
    pub(crate) fn abandon(&self) {
        self.stop();
        self.abandon.notify_one();
    }

    /// Whether records of the invocation were abandoned (by this caller or at a deadline).
    pub(crate) fn was_abandoned(&self) -> bool {
        self.progress.was_abandoned()
    }

    /// How many handler calls of the invocation were abandoned in flight.
    pub(crate) fn abandoned_calls(&self) -> u64 {
        self.progress.abandoned_calls()
    }

    /// Completes once [`abandon`](Self::abandon) is called.
    pub(crate) async fn abandoned(&self) {
        self.abandon.notified().await;
    }

    /// How many records, from the first, are done (processed or filtered out).
    pub(crate) fn done_from_start(&self, records: usize) -> usize {
        self.progress.first_pending().unwrap_or(records).min(records)
    }
}
