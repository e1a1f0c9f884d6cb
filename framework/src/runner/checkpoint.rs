//! Checkpoints: how far each shard has been processed, behind a small compare-and-set
//! trait, with an in-memory store (tests, one-off runs) and a DynamoDB one
//! ([`DynamoDbCheckpoints`](super::DynamoDbCheckpoints)).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::{BoxError, SequenceNumber};

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

/// Why a checkpoint could not be read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Someone else (another runner) moved the shard's checkpoint since this runner read it:
    /// this runner must stop reading that shard.
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
                write!(f, "the checkpoint of shard {shard_id} was moved by another runner")
            }
            Self::Store(error) => write!(f, "checkpoint store: {error}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// Where checkpoints live. `save` is a compare-and-set: it succeeds only if the stored
/// checkpoint is still `expected`, so two runners never both advance one shard.
pub trait CheckpointStore: Send + Sync {
    /// The shard's checkpoint, if any.
    fn load(
        &self,
        stream_arn: &str,
        shard_id: &str,
    ) -> impl Future<Output = Result<Option<Checkpoint>, CheckpointError>> + Send;

    /// Moves the shard's checkpoint from `expected` (`None`: no checkpoint yet) to `next`.
    fn save(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Checkpoint>,
        next: &Checkpoint,
    ) -> impl Future<Output = Result<(), CheckpointError>> + Send;
}

/// Checkpoints in memory, shared by clones (a restarted runner given a clone resumes).
#[derive(Clone, Debug, Default)]
pub struct MemoryCheckpoints {
    inner: Arc<Mutex<HashMap<(String, String), Checkpoint>>>,
}

impl MemoryCheckpoints {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored checkpoint as (stream ARN, shard id, checkpoint), sorted.
    pub fn all(&self) -> Vec<(String, String, Checkpoint)> {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = map.iter().map(|((s, h), c)| (s.clone(), h.clone(), c.clone())).collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }
}

impl CheckpointStore for MemoryCheckpoints {
    async fn load(&self, stream_arn: &str, shard_id: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(&(stream_arn.to_owned(), shard_id.to_owned())).cloned())
    }

    async fn save(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Checkpoint>,
        next: &Checkpoint,
    ) -> Result<(), CheckpointError> {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (stream_arn.to_owned(), shard_id.to_owned());
        if map.get(&key) != expected {
            return Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() });
        }
        map.insert(key, next.clone());
        Ok(())
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
    async fn a_save_from_a_stale_checkpoint_is_a_conflict() {
        let store = MemoryCheckpoints::new();
        let one = Checkpoint::After(SequenceNumber::new("100"));
        let two = Checkpoint::After(SequenceNumber::new("200"));
        assert!(store.save("s", "a", None, &one).await.is_ok());
        // A second runner that also read "no checkpoint" loses.
        assert!(matches!(store.save("s", "a", None, &two).await, Err(CheckpointError::Conflict { .. })));
        assert!(store.save("s", "a", Some(&one), &two).await.is_ok());
        assert_eq!(store.load("s", "a").await.ok().flatten(), Some(two));
        assert_eq!(store.load("s", "b").await.ok().flatten(), None);
    }
}
