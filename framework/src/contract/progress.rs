//! How far an invocation got, readable while its records are still running: what the
//! answer names when a handler blocks its thread past the deadline margin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Which records (by index in stream order) are done: processed or filtered out.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// `None` until the batch has been read: then nothing is done.
    done: Mutex<Option<Vec<bool>>>,
    /// Handler calls abandoned in flight.
    abandoned: AtomicU64,
}

impl Progress {
    /// The batch has `records` records, none done yet.
    pub(crate) fn start(&self, records: usize) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = Some(vec![false; records]);
    }

    /// Record `index` was processed or filtered out.
    pub(crate) fn done(&self, index: usize) {
        self.all_done([index]);
    }

    /// Records `indices` were processed.
    pub(crate) fn all_done(&self, indices: impl IntoIterator<Item = usize>) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(done) = done.as_mut() else { return };
        for index in indices {
            if let Some(done) = done.get_mut(index) {
                *done = true;
            }
        }
    }

    /// The first record in stream order that is not done: every record before it was
    /// processed. `None` only when the batch was read and every record is done.
    pub(crate) fn first_pending(&self) -> Option<usize> {
        match &*self.done.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Some(0),
            Some(done) => done.iter().position(|done| !done),
        }
    }

    /// A handler call of this invocation (a record's, or a batch handler's) was abandoned
    /// at the deadline margin.
    pub(crate) fn abandoned(&self) {
        self.abandoned.fetch_add(1, Ordering::AcqRel);
    }

    /// The work of this invocation was abandoned (a handler holding its thread): counts as
    /// one abandoned call unless calls were already counted.
    pub(crate) fn abandoned_work(&self) {
        let _ = self.abandoned.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether a handler of this invocation was abandoned.
    pub(crate) fn was_abandoned(&self) -> bool {
        self.abandoned_calls() > 0
    }

    /// How many handler calls of this invocation were abandoned.
    pub(crate) fn abandoned_calls(&self) -> u64 {
        self.abandoned.load(Ordering::Acquire)
    }
}
