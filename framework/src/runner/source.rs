//! Where the runner reads from: the four DynamoDB Streams calls it needs, behind a trait, so
//! the same runner reads a live stream (`DynamoDbStreams`) or the test kit's in-memory one.

use std::future::Future;

use crate::error::BoxError;
use crate::payload::SequenceNumber;

/// Where to start reading a shard: `GetShardIterator`'s iterator types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest record the stream still holds (records are kept 24 hours).
    TrimHorizon,
    /// Only records written after the iterator is issued.
    Latest,
    /// At this sequence number.
    At(SequenceNumber),
    /// Just after this sequence number: where a checkpoint resumes.
    After(SequenceNumber),
}

/// A shard as `DescribeStream` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardDescription {
    /// The shard's id.
    pub shard_id: String,
    /// The shard it split from; read only once that one is finished.
    pub parent_shard_id: Option<String>,
    /// Whether the shard is closed (it has an ending sequence number): once read to its
    /// end, nothing more will arrive in it.
    pub closed: bool,
}

/// One page of `DescribeStream`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardList {
    /// The shards of this page.
    pub shards: Vec<ShardDescription>,
    /// `LastEvaluatedShardId`: pass it back for the next page; `None` on the last page.
    pub last_evaluated_shard_id: Option<String>,
}

/// One record read from a shard.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    /// The record's sequence number.
    pub sequence_number: SequenceNumber,
    /// The record exactly as Lambda would deliver it inside `Records`, so the runner feeds
    /// it to the same `Router` with the same semantics.
    pub lambda_json: serde_json::Value,
}

/// One `GetRecords` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordsPage {
    /// Records in sequence order (possibly none: the shard has nothing new yet).
    pub records: Vec<SourceRecord>,
    /// Where to read next; `None` once a closed shard has been read to its end.
    pub next_iterator: Option<String>,
}

/// Why a stream call failed, in the categories the runner treats differently.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceError {
    /// `ExpiredIteratorException`: iterators live 15 minutes; get a new one after the
    /// checkpoint.
    ExpiredIterator,
    /// Throttling or a limit: back off and try again.
    Throttled(String),
    /// `TrimmedDataAccessException`: the records wanted are older than the stream keeps.
    /// They are gone; the runner reports it as data loss.
    Trimmed(String),
    /// The table has no stream, or the stream or shard does not exist.
    NotFound(String),
    /// Anything else (network, permissions, ...), with its cause.
    Other(BoxError),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ExpiredIterator => f.write_str("the shard iterator expired"),
            Self::Throttled(why) => write!(f, "throttled: {why}"),
            Self::Trimmed(why) => write!(f, "the records are past the stream's retention (trimmed): {why}"),
            Self::NotFound(what) => write!(f, "not found: {what}"),
            Self::Other(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SourceError {}

/// The DynamoDB Streams calls the runner makes. Implemented for the AWS SDK client
/// ([`DynamoDbStreams`](super::DynamoDbStreams)) and, with the `testing` feature, for the
/// test kit's in-memory stream ([`LiveStream`](crate::testing::LiveStream)).
pub trait StreamSource: Send + Sync {
    /// The ARN of the table's latest stream (`ListStreams`).
    fn stream_of_table(&self, table: &str) -> impl Future<Output = Result<String, SourceError>> + Send;

    /// Every stream of the table `ListStreams` still lists (a stream disabled in the last
    /// 24 hours is), oldest first. The default is only the latest.
    fn streams_of_table(&self, table: &str) -> impl Future<Output = Result<Vec<String>, SourceError>> + Send {
        async move { self.stream_of_table(table).await.map(|latest| vec![latest]) }
    }

    /// One page of the stream's shards (`DescribeStream`), after `exclusive_start`.
    fn describe(
        &self,
        stream_arn: &str,
        exclusive_start: Option<&str>,
    ) -> impl Future<Output = Result<ShardList, SourceError>> + Send;

    /// A shard iterator (`GetShardIterator`).
    fn iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        at: &StartAt,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;

    /// Up to `limit` records from an iterator (`GetRecords`).
    fn records(
        &self,
        stream_arn: &str,
        iterator: &str,
        limit: usize,
    ) -> impl Future<Output = Result<RecordsPage, SourceError>> + Send;
}
