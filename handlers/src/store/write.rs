//! Applying planned writes: one transaction per change, where a failed condition means the
//! change was already applied (a redelivery or an older replay) and is skipped.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use ddbstream::BoxError;

/// What applying a plan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The writes were made.
    Written,
    /// A guard condition failed: this change, or a later one, was applied before.
    AlreadyApplied,
    /// There was nothing to write.
    Nothing,
}

/// Runs the planned writes as one transaction.
pub async fn apply(client: &Client, items: Vec<TransactWriteItem>) -> Result<Applied, BoxError> {
    if items.is_empty() {
        return Ok(Applied::Nothing);
    }
    match client.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => Ok(Applied::Written),
        Err(SdkError::ServiceError(err)) => match err.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled)
                if cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
            {
                tracing::info!("guard condition failed: the change was already applied; skipping");
                Ok(Applied::AlreadyApplied)
            }
            other => Err(format!("TransactWriteItems failed: {other}").into()),
        },
        Err(other) => Err(format!("TransactWriteItems failed: {}", error_chain(&other)).into()),
    }
}

/// An SDK error's message with its source chain, which is where the cause is.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
