//! One shard's state as the runner reads it: its phase, its checkpoint, the records read
//! and not yet processed, when it may be tried again, and, while another runner owns it,
//! what this one has seen of that owner's lease. The turn that moves it on is in `step`;
//! taking and keeping leases is in `claim`.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::checkpoint::Checkpoint;
use super::lease::Lease;
use super::source::{SourceRecord, StartAt};

/// Where a shard is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Owned (this runner holds its lease) and read, once its parent, if known, is finished.
    Reading,
    /// Read to its end (or skipped as closed before a `Latest` start); never read again.
    Finished,
    /// Not owned: another runner holds its lease, or nobody has taken it yet. This runner
    /// watches the lease and takes the shard when it is free or its owner stops renewing.
    Standby,
}

/// What a standby has seen of a shard's lease.
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    /// The lease as last read (`None`: nobody holds it).
    pub(crate) seen: Option<Lease>,
    /// When `seen` was first read unchanged.
    pub(crate) since: Instant,
    /// The owner renewed while watched: it is alive.
    pub(crate) alive: bool,
    /// When to read the lease again.
    pub(crate) next_look: Instant,
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
    /// Where the shard starts if, once this runner owns it, it has no checkpoint.
    pub(crate) initial: StartAt,
    /// What this runner has seen of the lease while it does not own the shard.
    pub(crate) watch: Option<Watch>,
    /// How old the last processed record was when it was processed.
    pub(crate) lag: Option<std::time::Duration>,
    /// Records of this shard were abandoned while running: they may still run, so its
    /// lease is left to lapse rather than released.
    pub(crate) abandoned_work: bool,
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
    pub(crate) read_through: Option<crate::payload::SequenceNumber>,
}

impl ShardState {
    /// A shard as discovered: finished if its checkpoint says so, else on standby until
    /// this runner takes its lease.
    pub(crate) fn new(id: String, parent: Option<String>, stored: Option<Checkpoint>, initial: StartAt) -> Self {
        let phase = if stored == Some(Checkpoint::Finished) { Phase::Finished } else { Phase::Standby };
        Self {
            id,
            parent,
            closed: false,
            phase,
            stored,
            start: initial.clone(),
            initial,
            watch: None,
            lag: None,
            abandoned_work: false,
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

    /// This runner now holds the shard's lease, and `stored` is its checkpoint: read on from
    /// there (or from where it starts), with nothing of an earlier ownership kept.
    pub(crate) fn owned_from(&mut self, stored: Option<Checkpoint>) {
        self.start = match &stored {
            Some(Checkpoint::At(seq)) => StartAt::At(seq.clone()),
            Some(Checkpoint::After(seq)) => StartAt::After(seq.clone()),
            Some(Checkpoint::Finished) | None => self.initial.clone(),
        };
        self.phase = if stored == Some(Checkpoint::Finished) { Phase::Finished } else { Phase::Reading };
        self.stored = stored;
        self.watch = None;
        self.iterator = None;
        self.at_end = false;
        self.pending.clear();
        self.attempts = 0;
        self.source_failures = 0;
        self.not_before = None;
        self.caught_up = false;
        self.read_through = None;
    }

    /// Without a checkpoint, the shard starts at its oldest record, not at `LATEST`.
    pub(crate) fn not_latest(&mut self) {
        if self.initial == StartAt::Latest {
            self.initial = StartAt::TrimHorizon;
        }
    }

    /// This runner no longer owns the shard: drop what it read, and watch the lease.
    pub(crate) fn disowned(&mut self) {
        self.phase = Phase::Standby;
        self.pending.clear();
        self.iterator = None;
        self.watch = None;
        self.not_before = None;
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
