//! Checkpoints: how far each shard has been processed, behind a small compare-and-set
//! trait, with an in-memory store (tests, one-off runs) and a DynamoDB one
//! ([`DynamoDbCheckpoints`](super::DynamoDbCheckpoints)).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::lease::Lease;
use crate::error::BoxError;
use crate::payload::SequenceNumber;

/// A shard's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// Nothing is processed yet; reading resumes at this record (saved before the first
    /// batch of a shard that started at `LATEST`, so a restart cannot skip it).
    At(SequenceNumber),
    /// Every record up to and including this sequence number is processed (or handed to
    /// the on-failure sink); reading resumes just after it.
    After(SequenceNumber),
    /// The shard is closed and was read to its end; it is never read again.
    Finished,
}

impl Checkpoint {
    /// The stored text: `at:<sequence number>`, `after:<sequence number>` or `finished`.
    pub fn encode(&self) -> String {
        match self {
            Self::At(seq) => format!("at:{}", seq.as_str()),
            Self::After(seq) => format!("after:{}", seq.as_str()),
            Self::Finished => "finished".to_owned(),
        }
    }

    /// Reads [`encode`](Self::encode)'s text back.
    pub fn decode(text: &str) -> Result<Self, CheckpointError> {
        match text.split_once(':') {
            _ if text == "finished" => Ok(Self::Finished),
            Some((kind @ ("at" | "after"), seq)) if SequenceNumber::new(seq).is_numeric() => {
                let seq = SequenceNumber::new(seq);
                Ok(if kind == "at" { Self::At(seq) } else { Self::After(seq) })
            }
            _ => Err(CheckpointError::Store(format!("unreadable checkpoint `{text}`").into())),
        }
    }
}

/// Why a checkpoint or lease could not be read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The stored checkpoint or lease is not what the write expected: another runner owns
    /// the shard now, or moved its checkpoint. This runner must stop processing that shard.
    Conflict {
        /// The shard.
        shard_id: String,
    },
    /// The store failed.
    Store(BoxError),
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Conflict { shard_id } => {
                write!(f, "shard {shard_id} is owned by another runner, or its checkpoint was moved by one")
            }
            Self::Store(error) => write!(f, "checkpoint store: {error}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// What the store holds for one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardEntry {
    /// How far the shard is processed, if at all.
    pub checkpoint: Option<Checkpoint>,
    /// Who owns the shard, if anyone.
    pub lease: Option<Lease>,
}

/// A checkpoint write: from `expected` to `next`, by the lease's `owner`.
#[derive(Clone, Copy, Debug)]
pub struct Save<'a> {
    /// Who writes: the write fails with a conflict unless this runner holds the lease.
    pub owner: &'a str,
    /// The checkpoint as last read or written (`None`: none yet).
    pub expected: Option<&'a Checkpoint>,
    /// The new checkpoint.
    pub next: &'a Checkpoint,
    /// How far behind the stream the shard is once `next` is written: the age of its last
    /// processed record (kept for whoever looks at the store).
    pub lag: Option<std::time::Duration>,
}

/// Where checkpoints and leases live. Every write is conditional: a checkpoint moves only
/// from the position its owner last saw and only while that owner holds the shard's lease,
/// and a lease changes hands only from the lease its taker last saw. So two runners never
/// both process, or both advance, one shard.
pub trait CheckpointStore: Send + Sync {
    /// The shard's checkpoint and lease.
    fn load(
        &self,
        stream_arn: &str,
        shard_id: &str,
    ) -> impl Future<Output = Result<ShardEntry, CheckpointError>> + Send;

    /// Moves the shard's checkpoint from `save.expected` to `save.next`, if `save.owner`
    /// holds its lease.
    fn save(
        &self,
        stream_arn: &str,
        shard_id: &str,
        save: Save<'_>,
    ) -> impl Future<Output = Result<(), CheckpointError>> + Send;

    /// Replaces the shard's lease `expected` (`None`: nobody holds it) with `next`: an
    /// acquisition, a takeover or a renewal.
    fn lease(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Lease>,
        next: &Lease,
    ) -> impl Future<Output = Result<(), CheckpointError>> + Send;

    /// Gives up `held`, if it is still the stored lease (same owner and heartbeat), so a
    /// standby can take the shard at once.
    fn release(
        &self,
        stream_arn: &str,
        shard_id: &str,
        held: &Lease,
    ) -> impl Future<Output = Result<(), CheckpointError>> + Send;
}

/// Checkpoints and leases in memory, shared by clones (a restarted runner given a clone
/// resumes; two runners given clones share the shards).
#[derive(Clone, Debug, Default)]
pub struct MemoryCheckpoints {
    inner: Arc<Mutex<HashMap<(String, String), ShardEntry>>>,
}

impl MemoryCheckpoints {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored checkpoint as (stream ARN, shard id, checkpoint), sorted.
    pub fn all(&self) -> Vec<(String, String, Checkpoint)> {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> =
            map.iter().filter_map(|((s, h), entry)| Some((s.clone(), h.clone(), entry.checkpoint.clone()?))).collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    /// Every held lease as (stream ARN, shard id, lease), sorted.
    pub fn leases(&self) -> Vec<(String, String, Lease)> {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> =
            map.iter().filter_map(|((s, h), entry)| Some((s.clone(), h.clone(), entry.lease.clone()?))).collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    fn with_entry<T>(&self, stream_arn: &str, shard_id: &str, f: impl FnOnce(&mut ShardEntry) -> T) -> T {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry((stream_arn.to_owned(), shard_id.to_owned())).or_default())
    }
}

impl CheckpointStore for MemoryCheckpoints {
    async fn load(&self, stream_arn: &str, shard_id: &str) -> Result<ShardEntry, CheckpointError> {
        Ok(self.with_entry(stream_arn, shard_id, |entry| entry.clone()))
    }

    async fn save(&self, stream_arn: &str, shard_id: &str, save: Save<'_>) -> Result<(), CheckpointError> {
        self.with_entry(stream_arn, shard_id, |entry| {
            let owned = entry.lease.as_ref().is_some_and(|lease| lease.owner == save.owner);
            if !owned || entry.checkpoint.as_ref() != save.expected {
                return Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() });
            }
            entry.checkpoint = Some(save.next.clone());
            Ok(())
        })
    }

    async fn lease(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Lease>,
        next: &Lease,
    ) -> Result<(), CheckpointError> {
        self.with_entry(stream_arn, shard_id, |entry| {
            if entry.lease.as_ref() != expected {
                return Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() });
            }
            entry.lease = Some(next.clone());
            Ok(())
        })
    }

    async fn release(&self, stream_arn: &str, shard_id: &str, held: &Lease) -> Result<(), CheckpointError> {
        self.with_entry(stream_arn, shard_id, |entry| {
            if entry.lease.as_ref() == Some(held) {
                entry.lease = None;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_bad_text_is_an_error() {
        for checkpoint in [
            Checkpoint::Finished,
            Checkpoint::After(SequenceNumber::new("4421584500000000000100")),
            Checkpoint::At(SequenceNumber::new("4421584500000000000200")),
        ] {
            assert_eq!(Checkpoint::decode(&checkpoint.encode()).ok(), Some(checkpoint));
        }
        for bad in ["", "after:", "after:12x", "before:1", "Finished"] {
            let error = Checkpoint::decode(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(&format!("`{bad}`")), "{bad:?}: {error}");
        }
    }

    #[tokio::test]
    async fn a_save_from_a_stale_checkpoint_or_without_the_lease_is_a_conflict() {
        let store = MemoryCheckpoints::new();
        let one = Checkpoint::After(SequenceNumber::new("100"));
        let two = Checkpoint::After(SequenceNumber::new("200"));
        let save = |expected, next, owner| Save { owner, expected, next, lag: None };
        let conflict = |result| matches!(result, Err(CheckpointError::Conflict { .. }));
        // Nobody holds the lease: nobody saves.
        assert!(conflict(store.save("s", "a", save(None, &one, "me")).await));
        let mine = Lease::next("me", None, std::time::Duration::from_secs(10));
        assert!(store.lease("s", "a", None, &mine).await.is_ok());
        assert!(store.save("s", "a", save(None, &one, "me")).await.is_ok());
        // Another owner, or a stale expected position, loses.
        assert!(conflict(store.save("s", "a", save(Some(&one), &two, "other")).await));
        assert!(conflict(store.save("s", "a", save(None, &two, "me")).await));
        assert!(store.save("s", "a", save(Some(&one), &two, "me")).await.is_ok());
        assert_eq!(store.load("s", "a").await.ok().and_then(|e| e.checkpoint), Some(two));
        assert_eq!(store.load("s", "b").await.ok(), Some(ShardEntry::default()));
    }

    #[tokio::test]
    async fn a_lease_changes_hands_only_from_what_its_taker_saw() {
        let store = MemoryCheckpoints::new();
        let ten = std::time::Duration::from_secs(10);
        let a1 = Lease::next("a", None, ten);
        assert!(store.lease("s", "x", None, &a1).await.is_ok());
        // A second taker that also saw no lease loses.
        assert!(store.lease("s", "x", None, &Lease::next("b", None, ten)).await.is_err());
        let a2 = Lease::next("a", Some(&a1), ten);
        assert!(store.lease("s", "x", Some(&a1), &a2).await.is_ok());
        // A standby that saw heartbeat 1 cannot take heartbeat 2.
        assert!(store.lease("s", "x", Some(&a1), &Lease::next("b", Some(&a1), ten)).await.is_err());
        assert!(store.lease("s", "x", Some(&a2), &Lease::next("b", Some(&a2), ten)).await.is_ok());
        // Only the holder releases, and only the lease as it is now.
        assert!(store.release("s", "x", &a2).await.is_ok());
        assert_eq!(store.leases().first().map(|l| l.2.owner.clone()), Some("b".to_owned()));
        let b3 = Lease::next("b", Some(&a2), ten);
        assert!(store.release("s", "x", &Lease { heartbeat: 1, ..b3.clone() }).await.is_ok());
        assert_eq!(store.leases().len(), 1, "a stale heartbeat releases nothing");
        assert!(store.release("s", "x", &b3).await.is_ok());
        assert!(store.leases().is_empty());
    }
}
