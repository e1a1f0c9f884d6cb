//! The in-memory table's stream behind the runner's [`StreamSource`], with the faults a
//! live stream has: iterators that expire, throttling, trimmed records, shard pages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::stream::{Position, Stream};
use super::table::Table;
use crate::payload::SequenceNumber;
use crate::runner::{RecordsPage, ShardDescription, ShardList, SourceError, SourceRecord, StartAt, StreamSource};

#[derive(Debug)]
struct Iterator {
    stream_arn: String,
    shard_id: String,
    position: Position,
    issued_at_call: u64,
}

#[derive(Debug)]
struct Inner {
    table: Table,
    iterators: HashMap<String, Iterator>,
    issued: u64,
    calls: u64,
    throttled: u64,
    expired: u64,
    throttle_every: Option<u64>,
    expire_after_calls: Option<u64>,
    describe_page_size: usize,
    trimmed_through: Option<SequenceNumber>,
    /// Streams of the table before it was re-enabled: closed, still readable.
    retired: Vec<Stream>,
}

/// A [`Table`]'s stream as a live source for [`Runner`](crate::runner::Runner): write with
/// [`write`](Self::write) while a runner reads, and inject faults. Clones share the table.
#[derive(Clone, Debug)]
pub struct LiveStream {
    inner: Arc<Mutex<Inner>>,
}

/// How often the runner met each fault, and how many calls it made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Stream calls made (answered or not).
    pub calls: u64,
    /// Calls answered with throttling.
    pub throttled: u64,
    /// Calls answered with an expired iterator.
    pub expired: u64,
}

impl LiveStream {
    /// Serves `table`'s stream.
    pub fn new(table: Table) -> Self {
        let inner = Inner {
            table,
            iterators: HashMap::new(),
            issued: 0,
            calls: 0,
            throttled: 0,
            expired: 0,
            throttle_every: None,
            expire_after_calls: None,
            describe_page_size: 100,
            trimmed_through: None,
            retired: Vec::new(),
        };
        Self { inner: Arc::new(Mutex::new(inner)) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the table (write, delete, split its stream's shards, ...).
    pub fn write<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.lock().table)
    }

    /// Every `n`th call (n >= 1) answers as throttled; `None` stops throttling.
    pub fn throttle_every(&self, n: Option<u64>) {
        self.lock().throttle_every = n.map(|n| n.max(1));
    }

    /// An iterator has expired once `calls` other stream calls were made between the call
    /// that issued it and its use (live iterators expire after 15 minutes); `None` stops
    /// expiring.
    pub fn expire_iterators_after(&self, calls: Option<u64>) {
        self.lock().expire_after_calls = calls;
    }

    /// Every iterator handed out so far has expired.
    pub fn expire_all_iterators(&self) {
        self.lock().iterators.clear();
    }

    /// `DescribeStream` answers at most `n` shards per page.
    pub fn describe_page_size(&self, n: usize) {
        self.lock().describe_page_size = n.max(1);
    }

    /// Records up to and including `sequence_number` are past retention: reading them is
    /// `TrimmedDataAccessException`, and `TRIM_HORIZON` starts after them.
    pub fn trim_through(&self, sequence_number: SequenceNumber) {
        self.lock().trimmed_through = Some(sequence_number);
    }

    /// Disables the table's stream and enables it again (see [`Table::reenable_stream`]):
    /// the old stream stays readable here, its shards closed; `ListStreams` now names the
    /// new one.
    pub fn reenable_stream(&self, label: &str) {
        let mut inner = self.lock();
        let old = inner.table.reenable_stream(label);
        inner.retired.push(old);
    }

    /// Calls and faults so far.
    pub fn stats(&self) -> LiveStats {
        let inner = self.lock();
        LiveStats { calls: inner.calls, throttled: inner.throttled, expired: inner.expired }
    }

    /// Counts a call; answers with throttling when it is due.
    fn call(&self) -> Result<MutexGuard<'_, Inner>, SourceError> {
        let mut inner = self.lock();
        inner.calls += 1;
        if inner.throttle_every.is_some_and(|n| inner.calls.is_multiple_of(n)) {
            inner.throttled += 1;
            return Err(SourceError::Throttled("Rate exceeded for shard (test kit)".into()));
        }
        Ok(inner)
    }
}

impl Inner {
    fn issue(&mut self, stream_arn: &str, shard_id: &str, position: Position) -> String {
        self.issued += 1;
        let id = format!("iterator-{}", self.issued);
        let iterator = Iterator {
            stream_arn: stream_arn.to_owned(),
            shard_id: shard_id.to_owned(),
            position,
            issued_at_call: self.calls,
        };
        self.iterators.insert(id.clone(), iterator);
        id
    }

    /// The stream with this ARN: the table's, or one it had before a re-enable.
    fn stream(&self, stream_arn: &str) -> Result<&Stream, SourceError> {
        std::iter::once(self.table.stream())
            .chain(&self.retired)
            .find(|stream| stream.arn() == stream_arn)
            .ok_or_else(|| SourceError::NotFound(format!("stream {stream_arn}")))
    }

    /// Whether reading `shard_id` from `position` would need a trimmed record.
    fn reads_trimmed(&self, stream_arn: &str, shard_id: &str, position: &Position) -> Result<bool, SourceError> {
        let Some(horizon) = &self.trimmed_through else { return Ok(false) };
        let records =
            self.stream(stream_arn)?.shard_records(shard_id).map_err(|e| SourceError::NotFound(e.to_string()))?;
        Ok(records.iter().any(|r| {
            &r.sequence_number <= horizon
                && match position {
                    Position::TrimHorizon | Position::Latest => false,
                    Position::At(at) => &r.sequence_number >= at,
                    Position::After(after) => &r.sequence_number > after,
                }
        }))
    }
}

impl StreamSource for LiveStream {
    async fn stream_of_table(&self, table: &str) -> Result<String, SourceError> {
        let inner = self.call()?;
        if inner.table.name() == table {
            Ok(inner.table.stream().arn().to_owned())
        } else {
            Err(SourceError::NotFound(format!("table `{table}` has no stream here")))
        }
    }

    async fn streams_of_table(&self, table: &str) -> Result<Vec<String>, SourceError> {
        let inner = self.call()?;
        if inner.table.name() != table {
            return Err(SourceError::NotFound(format!("table `{table}` has no stream here")));
        }
        Ok(inner.retired.iter().chain(std::iter::once(inner.table.stream())).map(|s| s.arn().to_owned()).collect())
    }

    async fn describe(&self, stream_arn: &str, exclusive_start: Option<&str>) -> Result<ShardList, SourceError> {
        let inner = self.call()?;
        let page = inner
            .stream(stream_arn)?
            .describe_page(exclusive_start, inner.describe_page_size)
            .map_err(|e| SourceError::NotFound(e.to_string()))?;
        let shards = page
            .shards
            .into_iter()
            .map(|s| ShardDescription {
                shard_id: s.shard_id,
                parent_shard_id: s.parent_shard_id,
                closed: s.ending_sequence_number.is_some(),
            })
            .collect();
        Ok(ShardList { shards, last_evaluated_shard_id: page.last_evaluated_shard_id })
    }

    async fn iterator(&self, stream_arn: &str, shard_id: &str, at: &StartAt) -> Result<String, SourceError> {
        let mut inner = self.call()?;
        let position = match at {
            StartAt::TrimHorizon => match &inner.trimmed_through {
                Some(horizon) => Position::After(horizon.clone()),
                None => Position::TrimHorizon,
            },
            StartAt::Latest => {
                // A concrete position, as a live iterator is: after the newest record now.
                let records = inner
                    .stream(stream_arn)?
                    .shard_records(shard_id)
                    .map_err(|e| SourceError::NotFound(e.to_string()))?;
                match records.last() {
                    Some(last) => Position::After(last.sequence_number.clone()),
                    None => Position::TrimHorizon,
                }
            }
            StartAt::At(seq) => Position::At(seq.clone()),
            StartAt::After(seq) => Position::After(seq.clone()),
        };
        if inner.reads_trimmed(stream_arn, shard_id, &position)? {
            return Err(SourceError::Trimmed(format!("shard {shard_id} from {at:?} is past retention (test kit)")));
        }
        Ok(inner.issue(stream_arn, shard_id, position))
    }

    async fn records(&self, _stream_arn: &str, iterator: &str, limit: usize) -> Result<RecordsPage, SourceError> {
        let mut inner = self.call()?;
        let calls = inner.calls;
        let expire_after = inner.expire_after_calls;
        let Some(found) = inner.iterators.remove(iterator) else {
            inner.expired += 1;
            return Err(SourceError::ExpiredIterator);
        };
        if expire_after.is_some_and(|after| calls - found.issued_at_call > after) {
            inner.expired += 1;
            return Err(SourceError::ExpiredIterator);
        }
        if inner.reads_trimmed(&found.stream_arn, &found.shard_id, &found.position)? {
            return Err(SourceError::Trimmed(format!("shard {} is past retention (test kit)", found.shard_id)));
        }
        let page = inner
            .stream(&found.stream_arn)?
            .read(&found.shard_id, &found.position, limit.clamp(1, 1_000))
            .map_err(|e| SourceError::NotFound(e.to_string()))?;
        let records = page
            .records
            .iter()
            .map(|r| SourceRecord { sequence_number: r.sequence_number.clone(), lambda_json: r.to_lambda_json() })
            .collect();
        let next_iterator = page.next.map(|position| inner.issue(&found.stream_arn, &found.shard_id, position));
        Ok(RecordsPage { records, next_iterator })
    }
}
