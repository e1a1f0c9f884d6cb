//! The answer Lambda reads: which record to retry from, if any.

use aws_lambda_events::streams::DynamoDbBatchItemFailure;

use super::batch_response::BatchResponse;
use crate::error::Error;
use crate::process::Outcome;

/// Turns a batch outcome into the response: empty `batchItemFailures` when everything was
/// processed, otherwise exactly one entry naming the first failed record as its source
/// wants (its sequence number; for a pipe, its `eventID`), from which the batch is
/// redelivered. A window event's answer carries the window's state.
pub(crate) fn respond(outcome: Outcome, error_when_nothing_processed: bool) -> Result<BatchResponse, Error> {
    let (record, failure, processed, state) = match outcome {
        Outcome::Completed { records, state } => {
            tracing::info!(records, "batch processed");
            return Ok(BatchResponse { batch_item_failures: Vec::new(), state });
        }
        Outcome::Stopped { record, failure, processed, state } => (record, failure, processed, state),
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
    Ok(BatchResponse { batch_item_failures: vec![item], state })
}
