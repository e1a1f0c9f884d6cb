//! Reading a shard: a page into its pending records, and what a failed stream call means
//! (an expired iterator replaced, throttling backed off, trimmed records reported as data
//! loss).

use tokio::time::Instant;

use super::builder::Runner;
use super::checkpoint::{Checkpoint, CheckpointStore};
use super::report::{DataLoss, RunReport, RunnerError};
use super::settings::OnDataLoss;
use super::shard::ShardState;
use super::source::{RecordsPage, SourceError, StartAt, StreamSource};

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Reads a page into `pending` (only reads: the bootstrap keeps its bookmarks alive with it).
    pub(crate) async fn fetch(
        &self,
        arn: &str,
        shard: &mut ShardState,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        let iterator = match shard.iterator.take() {
            Some(iterator) => iterator,
            None => match self.source.iterator(arn, &shard.id, &shard.start).await {
                Ok(iterator) => iterator,
                Err(error) => return self.source_trouble(shard, error, report),
            },
        };
        let page = self.source.records(arn, &iterator, self.settings.batch_size).await;
        self.absorb(shard, iterator, page, report)
    }

    /// Takes a `GetRecords` answer read with `iterator` into the shard.
    pub(super) fn absorb(
        &self,
        shard: &mut ShardState,
        iterator: String,
        page: Result<RecordsPage, SourceError>,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        match page {
            Ok(page) => {
                shard.source_failures = 0;
                if let Some(last) = page.records.last() {
                    shard.read_through = Some(last.sequence_number.clone());
                }
                shard.caught_up = page.records.is_empty();
                shard.at_end = page.next_iterator.is_none();
                shard.iterator = page.next_iterator;
                if !page.records.is_empty() {
                    tracing::debug!(shard_id = %shard.id, records = page.records.len(), "read");
                }
                shard.pending.extend(page.records);
                Ok(())
            }
            Err(error) => {
                // Anything but an expiry may have consumed nothing: keep the iterator.
                if !matches!(error, SourceError::ExpiredIterator) {
                    shard.iterator = Some(iterator);
                }
                self.source_trouble(shard, error, report)
            }
        }
    }

    pub(super) fn source_trouble(
        &self,
        shard: &mut ShardState,
        error: SourceError,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        match error {
            SourceError::ExpiredIterator => {
                shard.start = shard.resume_point();
                shard.iterator = None;
                // A source that keeps answering "expired" to fresh iterators is broken.
                shard.source_failures += 1;
                if shard.source_failures > self.settings.source_retries {
                    return Err(RunnerError::Source(SourceError::ExpiredIterator));
                }
                tracing::info!(shard_id = %shard.id, resume = ?shard.start, "shard iterator expired; getting a new one");
                if shard.source_failures > 1 {
                    let wait = self.settings.backoff(shard.source_failures);
                    shard.not_before = Some(Instant::now() + wait);
                }
                Ok(())
            }
            SourceError::Trimmed(message) | SourceError::NotFound(message) => {
                let after = match &shard.stored {
                    Some(Checkpoint::After(seq)) => Some(seq.clone()),
                    _ => None,
                };
                let loss = DataLoss { shard_id: shard.id.clone(), after, message };
                self.data_loss(shard, loss, report)
            }
            error => {
                shard.source_failures += 1;
                if !self.settings.retries_source(&error, shard.source_failures) {
                    return Err(RunnerError::Source(error));
                }
                let wait = self.settings.backoff(shard.source_failures);
                tracing::warn!(shard_id = %shard.id, %error, retry_in = ?wait, "stream call failed; backing off");
                shard.not_before = Some(Instant::now() + wait);
                Ok(())
            }
        }
    }

    /// Reports records the stream no longer has: stop (the default), or log, report and go
    /// on from the oldest record the stream holds.
    pub(crate) fn data_loss(
        &self,
        shard: &mut ShardState,
        loss: DataLoss,
        report: &mut RunReport,
    ) -> Result<(), RunnerError> {
        self.report_data_loss(loss, report)?;
        shard.start = StartAt::TrimHorizon;
        shard.read_through = None;
        shard.iterator = None;
        Ok(())
    }

    /// Logs data loss at error level, then applies the policy: stop with it (the default),
    /// or add it to the report and go on.
    pub(crate) fn report_data_loss(&self, loss: DataLoss, report: &mut RunReport) -> Result<(), RunnerError> {
        tracing::error!(
            shard_id = %loss.shard_id, after = ?loss.after, message = %loss.message,
            "DATA LOSS: records left the stream before they were read"
        );
        match self.settings.on_data_loss {
            OnDataLoss::Stop => Err(RunnerError::DataLoss(loss)),
            OnDataLoss::Continue => {
                report.data_loss.push(loss);
                Ok(())
            }
        }
    }
}
