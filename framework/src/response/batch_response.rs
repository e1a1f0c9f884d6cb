//! The answer's shape: the partial batch response, and a tumbling window's state.

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::{Deserialize, Serialize};

/// What [`Router::handle`](crate::Router::handle) answers and [`Router::run`](crate::Router::run)
/// sends to Lambda: `batchItemFailures` (empty, or the one record Lambda retries from) and,
/// for a tumbling-window event, the window's `state`, which Lambda requires in every answer
/// to a window event and hands to the window's next invocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The record to retry from, if any; empty when every record was processed.
    pub batch_item_failures: Vec<DynamoDbBatchItemFailure>,
    /// The window's state after the records processed (window events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
}

impl BatchResponse {
    /// The identifiers of the records named for retry (at most one).
    pub fn failed_identifiers(&self) -> Vec<&str> {
        self.batch_item_failures.iter().filter_map(|failure| failure.item_identifier.as_deref()).collect()
    }
}

impl From<BatchResponse> for DynamoDbEventResponse {
    /// The same answer as `aws_lambda_events`' type, without the window state.
    fn from(response: BatchResponse) -> Self {
        let mut converted = DynamoDbEventResponse::default();
        converted.batch_item_failures = response.batch_item_failures;
        converted
    }
}
