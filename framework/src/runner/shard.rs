//! One shard's state as the runner reads it: its phase, its checkpoint, the records read
//! and not yet processed, and when it may be tried again. The turn that moves it on is in
//! `step`.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::checkpoint::Checkpoint;
use super::source::{SourceRecord, StartAt};

/// Where a shard is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Being read (once its parent, if known, is finished).
    Reading,
    /// Read to its end (or skipped as closed before a `Latest` start); never read again.
    Finished,
    /// Another runner moved its checkpoint: this runner leaves it alone.
    Lost,
}

/// The runner's state for one shard.
#[derive(Debug)]
pub(crate) struct ShardState {
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
    /// `DescribeStream` shows an ending sequence number.
    pub(crate) closed: bool,
    pub(crate) phase: Phase,
    /// The checkpoint as stored: the expected value of the next compare-and-set.
    pub(crate) stored: Option<Checkpoint>,
    /// Where to get a new iterator when there is none (start, or after the checkpoint).
    pub(crate) start: StartAt,
    pub(crate) iterator: Option<String>,
    /// `GetRecords` answered without a next iterator: the shard is closed and read.
    pub(crate) at_end: bool,
    /// Records read and not yet processed, in sequence order.
    pub(crate) pending: VecDeque<SourceRecord>,
    /// Failed attempts of `pending[0]`.
    pub(crate) attempts: u32,
    /// Consecutive failed stream calls.
    pub(crate) source_failures: u32,
    pub(crate) not_before: Option<Instant>,
    /// The last read found nothing new.
    pub(crate) caught_up: bool,
    /// The last record read (processed or pending): where a replaced iterator resumes.
    pub(crate) read_through: Option<crate::SequenceNumber>,
}

impl ShardState {
    pub(crate) fn new(id: String, parent: Option<String>, stored: Option<Checkpoint>, start: StartAt) -> Self {
        let phase = if stored == Some(Checkpoint::Finished) { Phase::Finished } else { Phase::Reading };
        Self {
            id,
            parent,
            closed: false,
            phase,
            stored,
            start,
            iterator: None,
            at_end: false,
            pending: VecDeque::new(),
            attempts: 0,
            source_failures: 0,
            not_before: None,
            caught_up: false,
            read_through: None,
        }
    }

    /// Nothing to do until new records arrive (a closed shard is idle only once finished).
    pub(crate) fn is_idle(&self) -> bool {
        self.phase != Phase::Reading || (self.pending.is_empty() && self.caught_up && !self.closed)
    }

    /// Where a new iterator must start so that nothing read or unread is skipped.
    pub(crate) fn resume_point(&self) -> StartAt {
        match (&self.read_through, &self.start) {
            (Some(seq), _) => StartAt::After(seq.clone()),
            // A LATEST iterator that expired before anything was read has no position:
            // starting again at LATEST could skip writes, so replay what the stream holds.
            (None, StartAt::Latest) => {
                tracing::warn!(shard_id = %self.id, "LATEST iterator replaced before any record was read; replaying from TRIM_HORIZON so nothing is skipped");
                StartAt::TrimHorizon
            }
            (None, start) => start.clone(),
        }
    }
}
