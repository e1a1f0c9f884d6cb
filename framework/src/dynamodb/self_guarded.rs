//! Writes that carry their own guard: each write's condition compares a sequence number
//! stored on the item it writes (a view keyed by something other than the changed item).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;

use super::error::WriteError;
use super::guard::Applied;
use super::limits::{self, KeySchemas};

/// Runs `writes` as one transaction, each carrying its own guard condition (say
/// `attribute_not_exists(email) OR source_seq < :seq`, with the change's
/// [`sortable`](crate::SequenceNumber::sortable) sequence number): a failed condition
/// means this change, or a newer one, was applied, and nothing is written
/// ([`Applied::AlreadyApplied`]). Use [`ExactlyOnce`](super::ExactlyOnce) when the guard can
/// be keyed by the changed item; this is for items keyed otherwise (a view by e-mail), where
/// each item must hold its own. No writes: [`Applied::Written`] without a call.
pub async fn apply_self_guarded(client: &Client, writes: Vec<TransactWriteItem>) -> Result<Applied, WriteError> {
    if writes.is_empty() {
        return Ok(Applied::Written);
    }
    limits::check(&writes, &KeySchemas::default(), false)?;
    match client.transact_write_items().set_transact_items(Some(writes)).send().await {
        Ok(_) => Ok(Applied::Written),
        Err(SdkError::ServiceError(err)) if condition_failed(err.err()) => {
            tracing::info!("a write's guard condition failed: this change or a newer one was applied; skipping");
            Ok(Applied::AlreadyApplied)
        }
        Err(err) => Err(WriteError::sdk("TransactWriteItems", &err)),
    }
}

fn condition_failed(error: &TransactWriteItemsError) -> bool {
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}
