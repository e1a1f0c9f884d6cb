//! Table bootstrap: bookmark every shard at `LATEST`, scan the table, then consume from
//! the bookmarks, so a replica built from scan + stream misses nothing (a write during the
//! scan may arrive twice: in the scan and from the stream, which replicas apply idempotently).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::try_join_all;

use super::builder::Runner;
use super::checkpoint::CheckpointStore;
use super::report::{RunReport, RunnerError};
use super::session::Session;
use super::settings::StartPosition;
use super::shard::Phase;
use super::source::{StartAt, StreamSource};
use crate::error::BoxError;

/// A runner whose bookmarks are set and whose scan is done; consume with
/// [`run`](Self::run) or [`run_until_caught_up`](Self::run_until_caught_up).
pub struct Bootstrapped<'r, S, C, T> {
    runner: &'r Runner<S, C>,
    session: Session,
    /// What the scan returned.
    pub scanned: T,
}

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Bookmarks every open shard at `LATEST` (closed shards hold nothing the table does
    /// not already show), then runs `scan` while reading the bookmarks every
    /// [`bookmark_refresh`](Self::bookmark_refresh) so they cannot expire (records read
    /// meanwhile wait in memory), then returns, ready to consume from the bookmarks.
    /// Checkpoints already stored are superseded by the bookmarks.
    ///
    /// It needs no AWS permission beyond what a run needs (see [`Runner`]): the bookmarks
    /// are `GetShardIterator` (`LATEST`) and `GetRecords` calls on the stream, and the leases
    /// are taken in the checkpoint store as a run takes them. The scan is yours:
    /// [`scan_table`] needs `dynamodb:Scan` on the table.
    pub async fn bootstrap<T>(
        &self,
        scan: impl Future<Output = Result<T, BoxError>>,
    ) -> Result<Bootstrapped<'_, S, C, T>, RunnerError> {
        let mut session = self.open_at(StartPosition::Latest).await?;
        let arn = session.arn.clone();
        let mut report = RunReport::default();
        for shard in session.shards.values_mut() {
            if shard.closed {
                shard.phase = Phase::Finished;
            }
        }
        // Every open shard must be this runner's: a write to a shard read elsewhere would
        // never reach the replica. A lease left by a runner that died lapses within its
        // duration: watch that long before giving up.
        let give_up = tokio::time::Instant::now() + self.settings.lease_duration.mul_f64(1.5);
        let leases = session.leases.clone();
        let watch = async {
            loop {
                self.contend(&mut session).await?;
                let all_owned = session.shards.values().all(|s| s.phase != Phase::Standby);
                if all_owned || tokio::time::Instant::now() >= give_up {
                    return Ok::<(), RunnerError>(());
                }
                tokio::time::sleep(self.settings.lease_duration / 6).await;
            }
        };
        tokio::select! {
            watched = watch => watched?,
            never = self.heartbeat(&leases) => match never {},
        }
        let held = session.shards.values().find(|s| s.phase == Phase::Standby).map(|s| {
            let owner = s.watch.as_ref().and_then(|w| w.seen.as_ref()).map_or_else(String::new, |l| l.owner.clone());
            (s.id.clone(), owner)
        });
        if let Some((shard_id, owner)) = held {
            self.release_all(&mut session).await;
            return Err(RunnerError::ShardHeld { shard_id, owner });
        }
        for shard in session.shards.values_mut().filter(|s| s.phase == Phase::Reading) {
            shard.start = StartAt::Latest;
            // The bookmark must exist before the scan starts: retried, never skipped.
            shard.iterator = Some(self.retrying(|| self.source.iterator(&arn, &shard.id, &StartAt::Latest)).await?);
            self.fetch_bookmark(&arn, shard, &mut report).await?;
        }
        tracing::info!(shards = session.shards.len(), "bookmarks set at LATEST; scanning");
        let mut scan = std::pin::pin!(scan);
        let mut refresh = tokio::time::interval(self.settings.bookmark_refresh);
        refresh.tick().await;
        let leases = session.leases.clone();
        let mut heartbeat = std::pin::pin!(self.heartbeat(&leases));
        let scanned = loop {
            tokio::select! {
                scanned = &mut scan => break scanned,
                never = &mut heartbeat => match never {},
                _ = refresh.tick() => {
                    for shard in session.shards.values_mut().filter(|s| s.phase == Phase::Reading && !s.at_end) {
                        self.fetch_bookmark(&arn, shard, &mut report).await?;
                    }
                }
            }
        };
        let scanned = scanned.map_err(|error| RunnerError::Source(super::SourceError::Other(error)))?;
        let buffered: usize = session.shards.values().map(|s| s.pending.len()).sum();
        tracing::info!(buffered, "scan done; consuming from the bookmarks");
        session.report.merge(report);
        Ok(Bootstrapped { runner: self, session, scanned })
    }

    async fn fetch_bookmark(
        &self,
        arn: &str,
        shard: &mut super::shard::ShardState,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        // A retry of the bookmark read waits for the next refresh; reads add to `pending`.
        let before = shard.pending.len();
        self.fetch(arn, shard, report).await?;
        shard.not_before = None;
        if shard.pending.len() > before {
            tracing::debug!(shard_id = %shard.id, buffered = shard.pending.len(), "bookmark read during the scan");
        }
        Ok(())
    }
}

impl<S: StreamSource, C: CheckpointStore, T> Bootstrapped<'_, S, C, T> {
    /// Consumes from the bookmarks until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<RunReport, RunnerError> {
        self.runner.drive(&mut self.session, shutdown, false).await
    }

    /// Consumes from the bookmarks until every shard is caught up or `shutdown` completes.
    pub async fn run_until_caught_up(mut self, shutdown: impl Future<Output = ()>) -> Result<RunReport, RunnerError> {
        self.runner.drive(&mut self.session, shutdown, true).await
    }
}

/// Scans `table` in `segments` parallel segments (DynamoDB's parallel scan), calling
/// `on_item` for every item, with progress logged per page. Returns the number of items.
///
/// # AWS permissions
///
/// `dynamodb:Scan` on `table` (strongly consistent pages), and nothing else: no
/// `DescribeTable`, and no key schema is needed (each item is handed over as stored).
/// `on_item`'s own calls need their own permissions.
pub async fn scan_table<F, Fut>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    segments: u32,
    on_item: F,
) -> Result<u64, BoxError>
where
    F: Fn(HashMap<String, AttributeValue>) -> Fut + Sync,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let segments = segments.max(1);
    let total = AtomicU64::new(0);
    let scan_segment = |segment: u32| {
        let (total, on_item) = (&total, &on_item);
        async move {
            let mut start: Option<HashMap<String, AttributeValue>> = None;
            loop {
                let page = client
                    .scan()
                    .table_name(table)
                    .consistent_read(true)
                    .segment(i32::try_from(segment)?)
                    .total_segments(i32::try_from(segments)?)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| DisplayErrorContext(&e).to_string())?;
                let count = page.items().len() as u64;
                let last_key = page.last_evaluated_key().cloned();
                for item in page.items.unwrap_or_default() {
                    on_item(item).await?;
                }
                let so_far = total.fetch_add(count, Ordering::Relaxed) + count;
                tracing::info!(table, segment, of = segments, page_items = count, scanned = so_far, "scan progress");
                match last_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => return Ok::<(), BoxError>(()),
                }
            }
        }
    };
    try_join_all((0..segments).map(scan_segment)).await?;
    Ok(total.load(Ordering::Relaxed))
}
