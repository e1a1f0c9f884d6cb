//! Redrive (feature `redrive`): records Lambda discarded after its retries, run again through
//! the same [`Router`].
//!
//! A mapping's on-failure destination receives one JSON document per discarded batch:
//! - an S3 destination, the whole invocation: the batch's metadata and the `payload` Lambda
//!   sent the function;
//! - an SQS queue or an SNS topic, the metadata only (`DDBStreamBatchInfo`: the stream, the
//!   shard, the first and last sequence numbers). The records are then re-read from the
//!   stream, which keeps them 24 hours; past that they are gone, and the redrive says so.
//!
//! [`redrive`] takes one such document (an SNS notification wrapping it too) and answers
//! with each record's fate: processed, failed (with why), or not started because an earlier
//! record failed (records run in stream order and stop at the first failure, as under
//! Lambda). Nothing is skipped silently. Handlers must be idempotent, as always with
//! Lambda: a redrive run twice, or a record the function had processed before the batch was
//! discarded, runs them again.
//!
//! Fetching the documents (listing a bucket, receiving from a queue) is the caller's: the
//! workspace's `redrive` command does it for the shop's functions.
//!
//! # AWS permissions
//!
//! - [`redrive`] calls AWS only to re-read a document that has no payload (an SQS or SNS
//!   destination's), through the [`StreamSource`] it is given. With
//!   [`DynamoDbStreams`](crate::runner::DynamoDbStreams): `dynamodb:GetShardIterator` and
//!   `dynamodb:GetRecords` on the stream ARN the document names; no `DescribeStream`, no
//!   `ListStreams`. A document with its payload (an S3 destination's) needs no stream call.
//! - The router's handlers need, under the redrive's credentials, what they need under
//!   Lambda: their own tables' actions, and for `ExactlyOnce` and `Idempotency` the guard
//!   and claims tables' (see `ddbstream::dynamodb`).
//! - Fetching the documents needs its own. The workspace's `redrive` command needs, for a
//!   bucket: `s3:ListBucket` on the bucket (its `ListObjectsV2`; an `s3:prefix` condition
//!   may narrow it to the prefix) and `s3:GetObject` on the objects under the prefix (it
//!   deletes none: the bucket's lifecycle expires them); for a queue: `sqs:ReceiveMessage`,
//!   `sqs:DeleteMessage` (a message whose records were all processed) and
//!   `sqs:ChangeMessageVisibility` (a message left for the next run) on the queue. The
//!   framework itself deletes nothing.

mod failure_record;
mod outcome;

use std::time::Duration;

pub use failure_record::{BatchInfo, FailureRecord};
pub use outcome::{RecordFate, RecoveredFrom, Redriven};

use crate::contract::replay::Redrive;
use crate::contract::Control;
use crate::error::Error;
use crate::payload::SequenceNumber;
use crate::router::Router;
use crate::runner::{SourceError, StartAt, StreamSource};
use lambda_runtime::Context;

/// How long each redriven batch may run: Lambda's longest timeout.
pub const REDRIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long a re-read may go on reading an open shard without reaching the range's end
/// (`GetRecords` may answer empty pages in the middle of a shard, so only time, not a count
/// of empty pages, ends it). Records it did not reach are reported unread, never processed.
pub const REREAD_BUDGET: Duration = Duration::from_secs(120);
/// The pause after an empty page (a shard serves five `GetRecords` calls a second).
const EMPTY_PAGE_PAUSE: Duration = Duration::from_millis(200);

/// What a redrive does with a record whose "already done" may have been forgotten (an
/// `Idempotency` claim kept for less time than has passed since the record was made).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiredClaims {
    /// Fail the record, naming it and why: nothing runs twice unseen.
    Refuse,
    /// Run its effect anyway: the operator accepts that it may run a second time.
    Run,
}

/// Why a document could not be redriven at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedriveError {
    /// The document is not a failure destination's record; what is wrong with it.
    NotAFailureRecord(String),
    /// The document carries only metadata, and its records are no longer in the stream (past
    /// the stream's 24 h retention, or the stream is gone): they cannot be recovered.
    Gone(String),
    /// The document carries only metadata and no stream was given to re-read it from (or it
    /// names a Kinesis batch, which this redrive cannot re-read).
    CannotReread(String),
    /// Reading the stream failed (throttling, network, permissions): try again.
    Stream(SourceError),
}

impl std::fmt::Display for RedriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAFailureRecord(why) => write!(f, "not a failure destination's record: {why}"),
            Self::Gone(why) => write!(f, "the records cannot be recovered: {why}"),
            Self::CannotReread(why) => write!(f, "the records cannot be re-read: {why}"),
            Self::Stream(error) => write!(f, "reading the stream failed: {error}"),
        }
    }
}

impl std::error::Error for RedriveError {}

/// Redrives one failure destination document through `router`: from its payload when it
/// has one, otherwise from `stream` (the records re-read by their sequence range).
/// `expired` says what to do with records whose claims may have expired.
///
/// AWS calls: none of its own but the re-read's (`GetShardIterator` and `GetRecords` on the
/// document's stream, through `stream`), and the handlers': see the
/// [module docs](crate::redrive).
pub async fn redrive<S: StreamSource>(
    router: &Router,
    stream: Option<&S>,
    document: &[u8],
    expired: ExpiredClaims,
) -> Result<Redriven, RedriveError> {
    let record = FailureRecord::parse(document).map_err(RedriveError::NotAFailureRecord)?;
    let (payload, from, unread) = match record.payload {
        Some(payload) => (payload, RecoveredFrom::Payload, None),
        None => {
            let reread = reread(&record.batch, stream).await?;
            (reread.payload, RecoveredFrom::Stream, reread.unread)
        }
    };
    let identifiers = crate::process::identifiers(&payload).map_err(|error| {
        RedriveError::NotAFailureRecord(format!("its payload is not an event the router reads: {error}"))
    })?;
    let mut context = Context::default();
    context.request_id = format!("redrive-{}", record.batch.start_sequence_number);
    let deadline = std::time::SystemTime::now() + REDRIVE_TIMEOUT;
    context.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let control = Control::default().redriven(Redrive { force: expired == ExpiredClaims::Run });
    let answered = router.handle_controlled(bytes::Bytes::from(payload), &context, control).await;
    let mut redriven = Redriven::new(record.batch, from, identifiers, answered);
    if let Some(unread) = unread {
        redriven.records.push(unread);
    }
    Ok(redriven)
}

/// A range re-read from the stream: its records as an event, and the part of the range not
/// reached, if any (named by the range it covers, with why).
struct Reread {
    payload: Vec<u8>,
    unread: Option<(String, RecordFate)>,
}

/// The batch's records, re-read from the stream by their sequence range, as an event: read
/// until a record at or past the range's end, or the end of a closed shard.
async fn reread<S: StreamSource>(batch: &BatchInfo, stream: Option<&S>) -> Result<Reread, RedriveError> {
    if crate::payload::is_kinesis_stream(&batch.stream_arn) {
        return Err(RedriveError::CannotReread(format!(
            "{} is a Kinesis stream; its failure records keep their payload only in an S3 destination",
            batch.stream_arn
        )));
    }
    let Some(stream) = stream else {
        return Err(RedriveError::CannotReread(
            "the document has no payload (an SQS or SNS destination keeps only the sequence range) and no stream \
             was given to re-read the range from"
                .into(),
        ));
    };
    let gone = |error: SourceError| match error {
        SourceError::Trimmed(why) => RedriveError::Gone(format!(
            "shard {} from {} is past the stream's 24-hour retention ({why})",
            batch.shard_id, batch.start_sequence_number
        )),
        SourceError::NotFound(why) => RedriveError::Gone(format!("the stream or shard no longer exists ({why})")),
        other => RedriveError::Stream(other),
    };
    let start = SequenceNumber::new(batch.start_sequence_number.clone());
    let end = SequenceNumber::new(batch.end_sequence_number.clone());
    let mut iterator =
        stream.iterator(&batch.stream_arn, &batch.shard_id, &StartAt::At(start.clone())).await.map_err(gone)?;
    let mut records = Vec::new();
    let mut last_read: Option<SequenceNumber> = None;
    let started = tokio::time::Instant::now();
    // Why the read ended before a record at or past the range's end, if it did.
    let stopped = loop {
        let page = stream.records(&batch.stream_arn, &iterator, 1_000).await.map_err(gone)?;
        let empty = page.records.is_empty();
        let mut done = false;
        for record in page.records {
            done = record.sequence_number >= end;
            if record.sequence_number > end {
                break;
            }
            if record.sequence_number >= start {
                last_read = Some(record.sequence_number.clone());
                records.push(record.lambda_json);
            }
        }
        if done {
            break None;
        }
        match page.next_iterator {
            None => break Some("the shard is closed and ends before the range's end".to_owned()),
            Some(_) if started.elapsed() >= REREAD_BUDGET => {
                break Some(format!("the range's end was not reached in {} s of reading", REREAD_BUDGET.as_secs()))
            }
            Some(next) => iterator = next,
        }
        if empty {
            tokio::time::sleep(EMPTY_PAGE_PAUSE).await;
        }
    };
    let unread = stopped.map(|why| {
        let from = last_read.map_or_else(|| format!("from {start}"), |last| format!("after {last}"));
        (format!("records {from} to {end}"), RecordFate::Unread(why))
    });
    if records.is_empty() && unread.is_none() {
        return Err(RedriveError::Gone(format!(
            "shard {} of {} holds none of {}..={} any more",
            batch.shard_id, batch.stream_arn, batch.start_sequence_number, batch.end_sequence_number
        )));
    }
    let payload = crate::source::stream_event(&records)
        .map_err(|err| RedriveError::NotAFailureRecord(format!("the re-read records do not serialize: {err}")))?;
    Ok(Reread { payload, unread })
}

/// A whole-invocation error as each record's failure.
pub(crate) fn invocation_failed(error: &Error) -> String {
    format!("the whole batch failed: {error}")
}
