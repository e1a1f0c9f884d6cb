//! The answer Lambda reads: which record to retry from, if any.

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::process::Outcome;
use crate::Error;

/// Turns a batch outcome into the response: empty `batchItemFailures` when everything was
/// processed, otherwise exactly one entry naming the first failed record as its source
/// wants (its sequence number; for a pipe, its `eventID`), from which the batch is
/// redelivered.
pub(crate) fn respond(outcome: Outcome, error_when_nothing_processed: bool) -> Result<DynamoDbEventResponse, Error> {
    let (record, failure, processed) = match outcome {
        Outcome::Completed { records } => {
            tracing::info!(records, "batch processed");
            return Ok(DynamoDbEventResponse::default());
        }
        Outcome::Stopped { record, failure, processed } => (record, failure, processed),
    };
    let Some(identifier) = record.identifier else {
        let error =
            Error::Unreportable { position: record.position, event_id: record.event_id, failure: failure.to_string() };
        tracing::error!(%error, "failing the whole batch");
        return Err(error);
    };
    tracing::warn!(
        item_identifier = identifier.as_str(),
        processed,
        %failure,
        "record failed; the batch is retried from it"
    );
    if processed == 0 && error_when_nothing_processed {
        return Err(Error::NothingProcessed { sequence_number: identifier, failure: failure.to_string() });
    }
    let mut item = DynamoDbBatchItemFailure::default();
    item.item_identifier = Some(identifier);
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(item);
    Ok(response)
}
