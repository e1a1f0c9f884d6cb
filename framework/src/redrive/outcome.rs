//! What a redrive did with each record.

use crate::contract::FirstFailure;
use crate::error::Error;
use crate::response::BatchResponse;

use super::failure_record::BatchInfo;

/// Where the records came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveredFrom {
    /// The invocation's payload, kept by an S3 destination.
    Payload,
    /// The stream, re-read by the batch's sequence range.
    Stream,
}

/// One record's fate in a redrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordFate {
    /// Its handler succeeded (or a filter let it pass).
    Processed,
    /// It failed again; why.
    Failed(String),
    /// It did not run: an earlier record of the batch failed.
    NotStarted,
    /// Records of the range the re-read did not reach (named by their range), why: they are
    /// neither processed nor known to be gone; redrive again.
    Unread(String),
}

/// A redriven batch: each record by the identifier its source names it by, in stream
/// order, with its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redriven {
    /// The batch, as the failure record describes it.
    pub batch: BatchInfo,
    /// Where its records came from.
    pub from: RecoveredFrom,
    /// Each record (its sequence number, or `eventID` for a pipe's) and its fate.
    pub records: Vec<(String, RecordFate)>,
}

impl Redriven {
    pub(crate) fn new(
        batch: BatchInfo,
        from: RecoveredFrom,
        identifiers: Vec<Option<String>>,
        answered: Result<(BatchResponse, Option<FirstFailure>), Error>,
    ) -> Self {
        let (failed, why) = match answered {
            Err(error) => return Self::all_failed(batch, from, identifiers, &super::invocation_failed(&error)),
            Ok((response, first)) => (
                response.failed_identifiers().first().map(|id| (*id).to_owned()),
                first.map_or_else(|| "failed".to_owned(), |first| first.reason),
            ),
        };
        if failed.is_some() && !identifiers.contains(&failed) {
            // Never guess which records ran: an answer naming no record of the batch leaves
            // each of them unprocessed.
            let why = format!("the answer named {failed:?}, which is not in the batch");
            return Self::all_failed(batch, from, identifiers, &why);
        }
        let mut seen_failure = false;
        let records = identifiers
            .into_iter()
            .enumerate()
            .map(|(position, id)| {
                let fate = if seen_failure {
                    RecordFate::NotStarted
                } else if failed.is_some() && id == failed {
                    seen_failure = true;
                    RecordFate::Failed(why.clone())
                } else {
                    RecordFate::Processed
                };
                (name(position, id), fate)
            })
            .collect();
        Self { batch, from, records }
    }

    /// Every record failed, for `why`.
    fn all_failed(batch: BatchInfo, from: RecoveredFrom, identifiers: Vec<Option<String>>, why: &str) -> Self {
        let records = identifiers
            .into_iter()
            .enumerate()
            .map(|(position, id)| (name(position, id), RecordFate::Failed(why.to_owned())))
            .collect();
        Self { batch, from, records }
    }

    /// Whether every record was processed.
    pub fn all_processed(&self) -> bool {
        self.records.iter().all(|(_, fate)| *fate == RecordFate::Processed)
    }
}

/// What a record is reported by: its identifier, or its position when it has none.
fn name(position: usize, id: Option<String>) -> String {
    id.unwrap_or_else(|| format!("record at position {position}"))
}
