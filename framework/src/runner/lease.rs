//! Shard leases: which runner owns a shard now, kept beside its checkpoint, so that two
//! runners on one stream never process one shard at the same time.
//!
//! The owner renews its lease every third of the lease's duration; each renewal counts
//! the lease's `heartbeat` up. A standby that sees one owner and one heartbeat stand still
//! for the whole duration, by its own clock, takes the lease over with a conditional write
//! on that heartbeat. No two clocks are ever compared, so skew between hosts cannot hand a
//! shard to two runners: the owner stops starting records once its last successful renewal
//! was sent three fifths of the duration ago, and abandons records still running at four
//! fifths, before any standby can have waited the whole duration since it saw that renewal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A shard's lease as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it: the runner's [`owner`](super::Runner::owner) name.
    pub owner: String,
    /// Counts up at every acquisition and renewal: a standby takes over only a lease whose
    /// heartbeat stood still for `duration`.
    pub heartbeat: u64,
    /// How long the lease lasts without a renewal.
    pub duration: Duration,
}

impl Lease {
    /// The lease `owner` takes over from `previous` (or takes fresh), lasting `duration`.
    pub(crate) fn next(owner: &str, previous: Option<&Lease>, duration: Duration) -> Self {
        Self { owner: owner.to_owned(), heartbeat: previous.map_or(0, |p| p.heartbeat) + 1, duration }
    }
}

/// A default owner name, unique to this process: host name, process id and a few bits
/// of the start time.
pub(crate) fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{host}/{}/{:04x}", std::process::id(), nanos & 0xffff)
}

/// A lease this runner holds, and until when it may act on it.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    /// The stream of the shard.
    pub(crate) stream_arn: String,
    pub(crate) lease: Lease,
    /// When the write that gave the lease its current heartbeat was first sent, plus three
    /// fifths of the duration: no record starts after this without a renewal.
    pub(crate) valid_until: Instant,
    /// Four fifths of the duration after that send: records still running are abandoned,
    /// before a standby (which waits the whole duration from a later moment) can start.
    pub(crate) hard_until: Instant,
    /// When the next renewal is due (a third of the duration after the last).
    pub(crate) renew_at: Instant,
    /// When the renewal now being retried was first sent: if a retry finds it applied, the
    /// lease counts from then.
    pub(crate) renewing_since: Option<Instant>,
}

impl Held {
    /// A lease of a shard of `stream_arn` whose write was first sent at `sent`.
    pub(crate) fn new(stream_arn: &str, lease: Lease, sent: Instant) -> Self {
        Self {
            stream_arn: stream_arn.to_owned(),
            valid_until: sent + lease.duration.mul_f64(0.6),
            hard_until: sent + lease.duration.mul_f64(0.8),
            renew_at: sent + lease.duration / 3,
            renewing_since: None,
            lease,
        }
    }
}

/// The leases a runner holds, shared between its shard turns and its heartbeat.
#[derive(Clone, Debug, Default)]
pub(crate) struct Leases {
    held: Arc<Mutex<HashMap<String, Held>>>,
    /// Tells a shard's turn that its lease was lost.
    changed: Arc<tokio::sync::Notify>,
}

impl Leases {
    pub(crate) fn insert(&self, shard_id: &str, held: Held) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).insert(shard_id.to_owned(), held);
    }

    pub(crate) fn get(&self, shard_id: &str) -> Option<Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).get(shard_id).cloned()
    }

    /// Forgets the shard's lease (given up, released or lost) and wakes whoever waits on it.
    pub(crate) fn remove(&self, shard_id: &str) -> Option<Held> {
        let removed = self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(shard_id);
        self.changed.notify_waiters();
        removed
    }

    /// When records of the shard still running must be abandoned, if it is held.
    pub(crate) fn hard_until(&self, shard_id: &str) -> Option<Instant> {
        self.get(shard_id).map(|held| held.hard_until)
    }

    /// Whether a record of the shard may start now.
    pub(crate) fn valid(&self, shard_id: &str) -> bool {
        self.get(shard_id).is_some_and(|held| Instant::now() < held.valid_until)
    }

    /// Every held lease, by shard.
    pub(crate) fn all(&self) -> Vec<(String, Held)> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = held.iter().map(|(id, held)| (id.clone(), held.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Completes once the shard's lease is no longer valid: lost, removed, or not renewed
    /// in time.
    pub(crate) async fn lapsed(&self, shard_id: &str) {
        loop {
            let changed = self.changed.notified();
            let Some(held) = self.get(shard_id) else { return };
            if Instant::now() >= held.valid_until {
                return;
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(held.valid_until) => {}
            }
        }
    }
}
