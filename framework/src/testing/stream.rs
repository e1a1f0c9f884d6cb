//! The in-memory stream: shards, lineage, and a read API in the spirit of DynamoDB Streams.

use std::hash::{DefaultHasher, Hash, Hasher};

use super::error::TableError;
use super::item::key_text;
use super::record::StreamRecord;
use crate::payload::SequenceNumber;

/// Where to start reading a shard, as `GetShardIterator`'s iterator types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// The oldest record in the shard.
    TrimHorizon,
    /// Just after the newest record: only records written from now on.
    Latest,
    /// At this sequence number.
    At(SequenceNumber),
    /// Just after this sequence number.
    After(SequenceNumber),
}

/// A shard as `DescribeStream` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard's id.
    pub shard_id: String,
    /// The shard it split from.
    pub parent_shard_id: Option<String>,
    /// The first sequence number the shard can hold.
    pub starting_sequence_number: SequenceNumber,
    /// Set once the shard is closed (split): its last sequence number.
    pub ending_sequence_number: Option<SequenceNumber>,
}

/// One page of `describe_page`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardPage {
    /// The shards of this page.
    pub shards: Vec<ShardInfo>,
    /// Pass as `exclusive_start` for the next page; `None` on the last page.
    pub last_evaluated_shard_id: Option<String>,
}

/// One read of a shard, as `GetRecords` answers.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordPage {
    /// Records in sequence order.
    pub records: Vec<StreamRecord>,
    /// Where to read next; `None` when the shard is closed and fully read.
    pub next: Option<Position>,
}

#[derive(Clone, Debug)]
struct Shard {
    info: ShardInfo,
    records: Vec<StreamRecord>,
    /// The key hashes this shard takes, `[start, end)`; a split halves it between the
    /// children, so an item's records stay in one lineage (DynamoDB's per-item order).
    hashes: (u64, u64),
}

/// A table's stream: records in shards, each item always in the open shard its key maps to.
#[derive(Clone, Debug)]
pub struct Stream {
    arn: String,
    shards: Vec<Shard>,
    next_sequence: u128,
    shard_counter: u32,
}

/// Sequence numbers start at a realistic 22-digit width and grow by a gap, as DynamoDB's do.
const FIRST_SEQUENCE: u128 = 4_421_584_500_000_000_000_000;
const SEQUENCE_GAP: u128 = 100;
/// Each stream draws from a band of its own (10^13 records wide), chosen by its ARN, so
/// that records of two kit tables never share a sequence number.
const BAND: u128 = 1_000_000_000_000_000;
const BANDS: u64 = 4_000;

/// The first sequence number of the band of the stream `arn` (FNV-1a of the ARN).
fn first_sequence(arn: &str) -> u128 {
    let hash = arn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    FIRST_SEQUENCE + u128::from(hash % BANDS) * BAND
}

impl Stream {
    pub(crate) fn new(arn: String) -> Self {
        let next_sequence = first_sequence(&arn);
        let mut stream = Self { arn, shards: Vec::new(), next_sequence, shard_counter: 0 };
        stream.open_shard(None, (0, u64::MAX));
        stream
    }

    /// The stream ARN, with its label.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    fn open_shard(&mut self, parent: Option<String>, hashes: (u64, u64)) -> String {
        self.shard_counter += 1;
        let shard_id =
            format!("shardId-{:020}-{:08x}", 1_795_000_000_000u64 + u64::from(self.shard_counter), self.shard_counter);
        let info = ShardInfo {
            shard_id: shard_id.clone(),
            parent_shard_id: parent,
            starting_sequence_number: SequenceNumber::new(self.next_sequence.to_string()),
            ending_sequence_number: None,
        };
        self.shards.push(Shard { info, records: Vec::new(), hashes });
        shard_id
    }

    pub(crate) fn next_sequence_number(&mut self) -> SequenceNumber {
        let sequence = self.next_sequence;
        self.next_sequence += SEQUENCE_GAP;
        SequenceNumber::new(sequence.to_string())
    }

    /// The open shard whose hash range holds the key.
    fn shard_for(&self, key: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let hash = hasher.finish();
        self.shards
            .iter()
            .position(|s| s.info.ending_sequence_number.is_none() && s.hashes.0 <= hash && hash < s.hashes.1)
            .or_else(|| self.shards.iter().rposition(|s| s.info.ending_sequence_number.is_none()))
            .unwrap_or(0)
    }

    pub(crate) fn append(&mut self, record: StreamRecord) {
        let shard = self.shard_for(&key_text(&record.keys));
        self.shards[shard].records.push(record);
    }

    /// Splits an open shard: it is closed at its last sequence number and two children,
    /// whose `parent_shard_id` names it, take half of its keys each; other shards keep
    /// theirs, so every item's records stay in one lineage.
    pub fn split(&mut self, shard_id: &str) -> Result<[String; 2], TableError> {
        let index = self.index_of(shard_id)?;
        if self.shards[index].info.ending_sequence_number.is_some() {
            return Err(TableError::ShardClosed(shard_id.to_owned()));
        }
        let end = self.next_sequence_number();
        self.shards[index].info.ending_sequence_number = Some(end);
        let (start, end) = self.shards[index].hashes;
        let middle = start + (end - start) / 2;
        Ok([
            self.open_shard(Some(shard_id.to_owned()), (start, middle)),
            self.open_shard(Some(shard_id.to_owned()), (middle, end)),
        ])
    }

    /// Closes every open shard, as disabling the stream does: what they hold stays
    /// readable, and nothing more arrives in them.
    pub(crate) fn close(&mut self) {
        let end = self.next_sequence_number();
        for shard in &mut self.shards {
            shard.info.ending_sequence_number.get_or_insert_with(|| end.clone());
        }
    }

    /// Every shard, parents before children, as `DescribeStream` lists them.
    pub fn describe(&self) -> Vec<ShardInfo> {
        self.shards.iter().map(|shard| shard.info.clone()).collect()
    }

    /// A page of at most `limit` shards after `exclusive_start`, as `DescribeStream` pages
    /// with `ExclusiveStartShardId` / `LastEvaluatedShardId`.
    pub fn describe_page(&self, exclusive_start: Option<&str>, limit: usize) -> Result<ShardPage, TableError> {
        let start = match exclusive_start {
            Some(id) => self.index_of(id)? + 1,
            None => 0,
        };
        let end = (start + limit.max(1)).min(self.shards.len());
        let shards: Vec<ShardInfo> = self.shards[start..end].iter().map(|s| s.info.clone()).collect();
        let last = if end < self.shards.len() { shards.last().map(|s| s.shard_id.clone()) } else { None };
        Ok(ShardPage { shards, last_evaluated_shard_id: last })
    }

    /// Reads up to `limit` records of a shard from `position`, as `GetRecords` does.
    pub fn read(&self, shard_id: &str, position: &Position, limit: usize) -> Result<RecordPage, TableError> {
        let shard = &self.shards[self.index_of(shard_id)?];
        let start = match position {
            Position::TrimHorizon => 0,
            Position::Latest => shard.records.len(),
            Position::At(at) => shard.records.partition_point(|r| r.sequence_number < *at),
            Position::After(after) => shard.records.partition_point(|r| r.sequence_number <= *after),
        };
        let end = (start + limit.max(1)).min(shard.records.len());
        let records = shard.records[start..end].to_vec();
        let closed = shard.info.ending_sequence_number.is_some();
        // Like a shard iterator, the next position is concrete: a `Latest` read that found
        // nothing must not skip what is written before the next read.
        let next = if closed && end == shard.records.len() {
            None
        } else if let Some(last) = records.last() {
            Some(Position::After(last.sequence_number.clone()))
        } else if start == 0 {
            Some(Position::TrimHorizon)
        } else {
            Some(Position::After(shard.records[start - 1].sequence_number.clone()))
        };
        Ok(RecordPage { records, next })
    }

    /// All records of one shard, in sequence order.
    pub fn shard_records(&self, shard_id: &str) -> Result<&[StreamRecord], TableError> {
        Ok(&self.shards[self.index_of(shard_id)?].records)
    }

    /// All records of the stream, in sequence order.
    pub fn records(&self) -> Vec<StreamRecord> {
        let mut all: Vec<StreamRecord> = self.shards.iter().flat_map(|s| s.records.iter().cloned()).collect();
        all.sort_by(|a, b| a.sequence_number.cmp(&b.sequence_number));
        all
    }

    fn index_of(&self, shard_id: &str) -> Result<usize, TableError> {
        self.shards
            .iter()
            .position(|shard| shard.info.shard_id == shard_id)
            .ok_or_else(|| TableError::UnknownShard(shard_id.to_owned()))
    }
}
