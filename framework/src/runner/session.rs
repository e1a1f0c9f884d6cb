//! One run's view of the stream: its shards, leases and report so far.

use std::collections::{BTreeMap, HashSet};

use tokio::time::Instant;

use super::lease::Leases;
use super::report::RunReport;
use super::shard::{Phase, ShardState};

/// One run's view of the stream.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) arn: String,
    pub(crate) shards: BTreeMap<String, ShardState>,
    pub(crate) report: RunReport,
    pub(super) discovered: Option<Instant>,
    /// The leases this runner holds.
    pub(crate) leases: Leases,
    pub(crate) started: Instant,
    /// Tells the shards' turns that a stop was asked.
    pub(super) stop: tokio::sync::watch::Sender<bool>,
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
    pub(super) fn blocked(&self) -> HashSet<String> {
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
    pub(super) fn caught_up(&self, blocked: &HashSet<String>) -> bool {
        !self.has_work(blocked)
            && self.shards.values().all(|s| (s.is_idle() && s.phase != Phase::Standby) || blocked.contains(&s.id))
    }

    /// Some readable shard has records pending or was not caught up at its last read (a
    /// shard whose lease is not valid now, its renewal failing, is not readable).
    pub(super) fn has_work(&self, blocked: &HashSet<String>) -> bool {
        self.shards
            .values()
            .any(|s| s.phase == Phase::Reading && !blocked.contains(&s.id) && !s.is_idle() && self.leases.valid(&s.id))
    }

    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.shards
            .values()
            .filter(|s| s.phase == Phase::Reading && self.leases.valid(&s.id))
            .filter_map(|s| s.not_before)
            .min()
    }
}
